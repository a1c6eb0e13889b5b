// A body too large for memory streams to a temp file as it arrives (store/disk/blob-writer.ts),
// its announced size held against the disk budget. Cancelled while it streams (here by a purge),
// it gives that space and its file back at its next chunk, not when the origin's body ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import { startHarness } from '../fixtures/harness.js';

const SIZE = 16 * 1024 * 1024;

test('a streamed write cancelled by a purge gives its temp space and file back while the fill goes on', async () => {
  const waiting: ServerResponse[] = [];
  const h = await startHarness((_req: IncomingMessage, res: ServerResponse) => void waiting.push(res), { admin: { token: 't' } });
  const diskBytes = () => h.node.store().stats()['disk']!.bytes;
  const tmpFiles = async () => (await readdir(join(h.cacheDir, 'tmp'))).length;
  try {
    const asked = request(h.base + '/big');
    await h.until(() => waiting.length === 1, 'the request at the origin');
    const origin = waiting[0]!;
    origin.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': SIZE, 'content-type': 'application/octet-stream' });
    origin.write(Buffer.alloc(1024 * 1024, 'a'));
    const client = await asked;
    const read = client.body.arrayBuffer();
    read.catch(() => undefined);
    await h.until(() => diskBytes() >= SIZE, 'the announced size held against the budget');
    assert.equal(await tmpFiles(), 1);
    assert.equal((await h.get('/big', { authorization: 'Bearer t' }, 'PURGE')).status, 200);
    origin.write(Buffer.alloc(1024 * 1024, 'b'));
    await h.until(() => diskBytes() < SIZE, 'the temp space given back');
    await h.until(async () => (await tmpFiles()) === 0, 'the temp file removed');
    origin.end(Buffer.alloc(SIZE - 2 * 1024 * 1024, 'c'));
    assert.equal((await read).byteLength, SIZE, 'the client still gets its whole answer');
    assert.equal(h.node.stats.counters.stored, 0);
  } finally {
    await h.close();
  }
});
