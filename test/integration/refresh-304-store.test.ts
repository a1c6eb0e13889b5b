// What a 304 does to the stored entry (RFC 9111 §4.3.4), as the store holds it: the
// merged entry stays within the bounds a new entry must keep (cache/entry-bounds.ts),
// the memory tier counts what the refreshed entry costs, and a 304 refreshes only the
// body it validated — never a newer body stored while it was in flight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { headerBytes } from '../../src/cache/entry-bounds.js';
import { startHarness } from '../fixtures/harness.js';

/** A 200 with ETag "v1" and a max-age of 10 s; a 304 to If-None-Match "v1" carrying `on304`'s fields too. */
function validating(on304: () => Record<string, string>) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const h = { 'cache-control': 'max-age=10', etag: '"v1"', 'content-type': 'text/plain' };
    if (req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, { ...h, ...on304() });
      res.end();
      return;
    }
    res.writeHead(200, { ...h, 'content-length': '5' });
    res.end('hello');
  };
}

test('a 304 whose merged fields pass cache.maxStoredHeaderBytes is served, not stored: the stored entry keeps its fields, stays within the bound and is validated again', async () => {
  const h = await startHarness(validating(() => ({ 'x-big': 'y'.repeat(3000) })), { cache: { maxStoredHeaderBytes: 2048 } });
  try {
    await h.get('/grown');
    await h.stored(1);
    h.clock.advance(11_000);
    const reval = await h.get('/grown');
    assert.equal(reval.status, 200);
    assert.equal(reval.text, 'hello');
    assert.equal(reval.headers['x-big']?.length, 3000, 'the client gets the 304\'s fields');
    assert.match(reval.headers['cache-status']!, /fwd=stale; fwd-status=304; detail=headers-too-large/);
    const store = h.node.store();
    await store.flush();
    const key = [...store.disk.records.keys()].find((k) => k.includes('/grown'));
    assert.ok(key, `stored on disk: ${[...store.disk.records.keys()].join(', ')}`);
    for (const meta of [store.memory.metaOf(key), await store.disk.readMeta(key)]) {
      assert.ok(meta, 'the entry is still stored');
      assert.ok(headerBytes(meta.headers) <= 2048, `stored fields within the bound: ${headerBytes(meta.headers)} bytes`);
      assert.equal(meta.headers['x-big'], undefined);
    }
    // Not refreshed: the next request validates again (and is again served the 304's fields).
    const again = await h.get('/grown');
    assert.match(again.headers['cache-status']!, /fwd=stale; fwd-status=304; detail=headers-too-large/);
    assert.equal(h.origin.count('/grown'), 3);
  } finally {
    await h.close();
  }
});

test('the memory tier counts a refreshed entry at its new size: a 304 that adds fields grows the tier\'s bytes by them', async () => {
  const h = await startHarness(validating(() => ({ 'x-added': 'z'.repeat(4000) })));
  try {
    await h.get('/measured');
    await h.stored(1);
    const store = h.node.store();
    await store.flush();
    const before = store.memory.stats().bytes;
    h.clock.advance(11_000);
    const reval = await h.get('/measured');
    assert.match(reval.headers['cache-status']!, /fwd=stale; fwd-status=304; stored/);
    await store.flush();
    const after = store.memory.stats().bytes;
    assert.ok(after - before >= 4000, `memory bytes grew by the added field: ${before} -> ${after}`);
    assert.equal(store.memory.stats().items, 1);
  } finally {
    await h.close();
  }
});
