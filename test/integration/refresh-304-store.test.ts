// What a 304 does to the stored entry (RFC 9111 §4.3.4), as the store holds it: the
// merged entry stays within the bounds a new entry must keep (cache/entry-bounds.ts),
// the memory tier counts what the refreshed entry costs, and a 304 refreshes only the
// body it validated — never a newer body stored while it was in flight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { headerBytes } from '../../src/cache/entry-bounds.js';
import { startHarness, until } from '../fixtures/harness.js';

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

test('a 304 that arrives after a newer body was stored does not relabel that body with the validated one\'s fields', async () => {
  // The entry "A" (ETag "A") goes stale. A client with Authorization revalidates it alone
  // (RFC 9111 §3.5; the 304 is public, so it may refresh the shared entry); the origin holds
  // that 304 while a plain client's revalidation gets a new body "B" (ETag "B"), stored.
  let releaseLate!: () => void;
  let lateArrived!: () => void;
  const lateIn = new Promise<void>((r) => (lateArrived = r));
  let version = 'A';
  const h = await startHarness((req, res) => {
    const fields = { 'cache-control': 'public, max-age=1', 'content-type': 'text/plain' };
    if (req.headers['authorization']) {
      lateArrived();
      releaseLate = () => {
        res.writeHead(304, { ...fields, 'cache-control': 'public, max-age=60', etag: '"A"', 'x-from': 'late-304' });
        res.end();
      };
      return;
    }
    res.writeHead(200, { ...fields, etag: `"${version}"`, 'content-length': String(version.length), 'x-from': `200-${version}` });
    res.end(version);
  });
  try {
    await h.get('/relabel');
    await h.stored(1);
    h.clock.advance(2_000);
    const late = h.get('/relabel', { authorization: 'Bearer x' });
    await lateIn;
    version = 'B';
    const fresh = await h.get('/relabel');
    assert.equal(fresh.text, 'B');
    await h.stored(2);
    releaseLate();
    const lateReply = await late;
    assert.equal(lateReply.text, 'A', 'the late 304 answers its client from the body it validated');
    await until(() => h.node.stats.counters.revalidated >= 1, 'the late 304 handled');
    await h.node.store().flush();
    const hit = await h.get('/relabel');
    assert.equal(hit.text, 'B');
    assert.equal(hit.headers['etag'], '"B"', 'the newer body keeps its own ETag');
    assert.equal(hit.headers['x-from'], '200-B', 'and its own fields');
    await h.restart();
    const afterRestart = await h.get('/relabel');
    assert.equal(afterRestart.text, 'B');
    assert.equal(afterRestart.headers['etag'], '"B"');
  } finally {
    await h.close();
  }
});
