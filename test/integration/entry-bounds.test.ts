// What one stored entry may cost (cache/entry-bounds.ts): over a bound, the response is
// served whole but not stored, and Cache-Status names the bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from '../fixtures/harness.js';

test('a URL over cache.maxStoredUrlBytes is served, not stored, with detail=url-too-long', async () => {
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': 2 });
    res.end('ok');
  }, { cache: { maxStoredUrlBytes: 100 } });
  try {
    const long = '/u?' + 'x'.repeat(200);
    const a = await h.get(long);
    assert.equal(a.text, 'ok');
    assert.match(a.headers['cache-status']!, /detail=url-too-long/);
    const b = await h.get(long);
    assert.doesNotMatch(b.headers['cache-status']!, /; hit/);
    assert.equal(h.origin.count(), 2);
    const short = await h.get('/u?short');
    await h.stored(1);
    assert.match(short.headers['cache-status']!, /stored/);
  } finally {
    await h.close();
  }
});

test('a header block over cache.maxStoredHeaderBytes is served, not stored, with detail=headers-too-large', async () => {
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60', 'x-big': 'y'.repeat(3000), 'content-length': 2 });
    res.end('ok');
  }, { cache: { maxStoredHeaderBytes: 1024 } });
  try {
    const a = await h.get('/h');
    assert.equal(a.text, 'ok');
    assert.equal(a.headers['x-big']!.length, 3000);
    assert.match(a.headers['cache-status']!, /detail=headers-too-large/);
    assert.equal(h.node.stats.counters.stored, 0);
  } finally {
    await h.close();
  }
});

test('variants past cache.maxVariants are served, not stored; the stored ones stay hits', async () => {
  const h = await startHarness((req, res) => {
    const lang = String(req.headers['accept-language'] ?? 'none');
    res.writeHead(200, { vary: 'Accept-Language', 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(lang) });
    res.end(lang);
  }, { cache: { maxVariants: 2 } });
  try {
    await h.get('/v', { 'accept-language': 'en' });
    await h.get('/v', { 'accept-language': 'de' });
    await h.stored(2);
    const third = await h.get('/v', { 'accept-language': 'fr' });
    assert.equal(third.text, 'fr');
    assert.match(third.headers['cache-status']!, /detail=too-many-variants/);
    // Not hit-for-pass, and nothing stored was dropped: the first two are still hits.
    for (const lang of ['en', 'de']) {
      const again = await h.get('/v', { 'accept-language': lang });
      assert.equal(again.text, lang);
      assert.match(again.headers['cache-status']!, /; hit/);
    }
    assert.equal(h.node.stats.counters.stored, 2);
  } finally {
    await h.close();
  }
});
