// Two fills of one key at once: a long one that began first, and the refetch of a
// client that came too late to read the first body's start (its window released,
// shared-fetch.ts refetchFlight), which began after it and was stored first.
// RFC 9111 §4: "When more than one suitable response is stored, a cache MUST use
// the most recent one". The older fill, finishing last, must not replace the newer
// response (tiered.ts, write-tickets.ts supersedeOlder), in memory or on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import { startHarness } from '../fixtures/harness.js';

async function olderFinishesLast(memoryMaxObjectBytes: number): Promise<void> {
  const waiting: ServerResponse[] = [];
  const h = await startHarness((_req: IncomingMessage, res: ServerResponse) => void waiting.push(res), {
    coalesce: { windowBytes: 64 * 1024 },
    cache: { memoryMaxObjectBytes },
  });
  const fields = { 'cache-control': 'max-age=60', 'content-type': 'application/octet-stream' };
  try {
    const first = request(h.base + '/doc');
    await h.until(() => waiting.length === 1, 'the first request at the origin');
    waiting[0]!.writeHead(200, { ...fields, etag: '"old"' });
    const start = Buffer.alloc(256 * 1024, 'old ');
    waiting[0]!.write(start);
    const slow = await first;
    const slowBody = slow.body.arrayBuffer().then((b) => Buffer.from(b));
    slowBody.catch(() => undefined);
    await h.until(() => waiting[0]!.writableLength === 0, "the first body's start past the window");
    h.clock.advance(1000);
    const late = h.get('/doc');
    await h.until(() => waiting.length === 2, "the late client's refetch at the origin");
    waiting[1]!.writeHead(200, { ...fields, etag: '"new"' }).end('new body');
    assert.equal((await late).text, 'new body');
    await h.until(() => h.node.stats.counters.stored >= 1, 'the refetch stored');
    waiting[0]!.end('body');
    // Its end reaches the client once the fill is over (fill.ts).
    const got = await slowBody;
    assert.ok(got.equals(Buffer.concat([start, Buffer.from('body')])), 'the first client gets its own response whole');
    assert.equal(h.node.stats.counters.stored, 1, 'the older fill is not stored');
    const after = await h.get('/doc');
    assert.equal(after.text, 'new body', 'the most recent response is served');
    assert.equal(after.headers.etag, '"new"');
    assert.equal(h.origin.count('/doc'), 2);
  } finally {
    await h.close();
  }
}

test('an older fill held in memory that finishes after a newer response of its key was stored does not replace it', () => olderFinishesLast(4 * 1024 * 1024));

test('an older fill streaming to disk that finishes after a newer response of its key was stored does not replace it', () => olderFinishesLast(64 * 1024));
