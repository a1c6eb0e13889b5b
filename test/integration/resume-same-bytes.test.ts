// A client too slow for a shared origin body is detached and continues from the
// fill's stored copy (pipeline/resume-from-store.ts). When that fill is kept out of
// the store (a purge while it ran) and a refetch of the key is stored instead, the
// client continues from the refetch's copy when it has the same strong ETag and
// length (the same bytes), and is cut otherwise, never sent bytes of another response.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import { startHarness } from '../fixtures/harness.js';

const SIZE = 32 * 1024 * 1024;

/**
 * A first client that reads nothing while its fill receives the whole body (more than the
 * client's socket buffers hold: it falls behind the window and is detached); a purge of the
 * URL (the fill will not be stored); a second client, whose fetch is answered and stored;
 * then the first response ends. Resolves with what the first client read.
 */
async function supersededFill(first: Record<string, string | number>, second: Record<string, string | number>): Promise<{ read: Promise<Buffer>; late: Buffer; body: Buffer; origin: number }> {
  const waiting: ServerResponse[] = [];
  const h = await startHarness((_req: IncomingMessage, res: ServerResponse) => void waiting.push(res), { coalesce: { windowBytes: 64 * 1024 }, admin: { token: 't' } });
  const body = Buffer.alloc(SIZE, 'same bytes ');
  const fields = { 'cache-control': 'max-age=60', 'content-length': SIZE, 'content-type': 'application/octet-stream' };
  try {
    const asked = request(h.base + '/big');
    await h.until(() => waiting.length === 1, 'the first request at the origin');
    const origin = waiting[0]!;
    origin.writeHead(200, { ...fields, ...first });
    origin.write(body.subarray(0, SIZE - 1));
    const slow = await asked;
    assert.equal(slow.statusCode, 200);
    // All but the last byte handed to the kernel: ~31 MiB past the first client, which reads nothing.
    await h.until(() => origin.writableLength === 0, 'the first body written to Strata');
    assert.equal((await h.get('/big', { authorization: 'Bearer t' }, 'PURGE')).status, 200);
    // Another response, fetched later: its own times and Date, whatever its ETag says.
    h.clock.advance(5000);
    const late = request(h.base + '/big').then((r) => r.body.arrayBuffer()).then((b) => Buffer.from(b));
    await h.until(() => waiting.length === 2, 'a second fetch, for the second client');
    waiting[1]!.writeHead(200, { ...fields, ...second }).end(body);
    const lateBody = await late;
    await h.until(() => h.node.stats.counters.stored >= 1, 'the second fill stored');
    origin.end(body.subarray(SIZE - 1));
    const read = slow.body.arrayBuffer().then((b) => Buffer.from(b));
    // Settled before the harness closes (a cut client rejects).
    await read.catch(() => undefined);
    return { read, late: lateBody, body, origin: h.origin.count('/big') };
  } finally {
    await h.close();
  }
}

test('a client detached from a fill that was purged gets the whole body from a refetch with the same strong ETag', async () => {
  const r = await supersededFill({ etag: '"v1"' }, { etag: '"v1"' });
  assert.equal(r.origin, 2);
  assert.ok(r.late.equals(r.body));
  const got = await r.read;
  assert.equal(got.length, SIZE);
  assert.ok(got.equals(r.body), 'the same bytes, continued from the newer stored copy');
});

test('a client detached from a fill that was purged is cut when the refetch has another ETag, a weak one or none', async () => {
  for (const [first, second] of [
    [{ etag: '"v1"' }, { etag: '"v2"' }],
    [{}, {}],
    [{ etag: 'W/"v1"' }, { etag: 'W/"v1"' }],
  ] as const) {
    const r = await supersededFill(first, second);
    assert.ok(r.late.equals(r.body));
    await assert.rejects(r.read, `cut, not continued from other bytes (${JSON.stringify(first)} then ${JSON.stringify(second)})`);
  }
});
