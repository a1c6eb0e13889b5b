// RFC 9111 §5.2.1 — request Cache-Control directives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from '../fixtures/harness.js';

function origin() {
  return startHarness((req, res) => {
    if (req.headers['if-none-match'] === '"e"') {
      res.writeHead(304, { etag: '"e"', 'cache-control': 'max-age=100' });
      res.end();
      return;
    }
    res.writeHead(200, { etag: '"e"', 'cache-control': 'max-age=100', 'content-length': '4' });
    res.end('data');
  });
}

test('no-cache (and Pragma: no-cache) force validation: fwd=request', async () => {
  const h = await origin();
  try {
    await h.get('/a');
    const r = await h.get('/a', { 'cache-control': 'no-cache' });
    assert.match(r.headers['cache-status']!, /fwd=request; fwd-status=304/);
    const p = await h.get('/a', { pragma: 'no-cache' });
    assert.match(p.headers['cache-status']!, /fwd=request/);
    const plain = await h.get('/a');
    assert.match(plain.headers['cache-status']!, /; hit/);
  } finally {
    await h.close();
  }
});

test('max-age and min-fresh', async () => {
  const h = await origin();
  try {
    await h.get('/b');
    h.clock.advance(30_000);
    assert.match((await h.get('/b', { 'cache-control': 'max-age=60' })).headers['cache-status']!, /; hit/);
    assert.match((await h.get('/b', { 'cache-control': 'max-age=10' })).headers['cache-status']!, /fwd=request/);
    h.clock.advance(30_000);
    // the validation above restarted the age at 0; now age 30 of 100
    assert.match((await h.get('/b', { 'cache-control': 'min-fresh=50' })).headers['cache-status']!, /; hit/);
    assert.match((await h.get('/b', { 'cache-control': 'min-fresh=80' })).headers['cache-status']!, /fwd=request/);
  } finally {
    await h.close();
  }
});

test('max-stale serves a stale entry within the bound', async () => {
  const h = await origin();
  try {
    await h.get('/c');
    h.clock.advance(150_000);
    const ok = await h.get('/c', { 'cache-control': 'max-stale=60' });
    assert.match(ok.headers['cache-status']!, /; hit; ttl=-\d+; detail=max-stale/);
    const tooOld = await h.get('/c', { 'cache-control': 'max-stale=10' });
    assert.match(tooOld.headers['cache-status']!, /fwd=stale/);
  } finally {
    await h.close();
  }
});

test('only-if-cached: 504 when absent, the stored response when present', async () => {
  const h = await origin();
  try {
    const absent = await h.get('/d', { 'cache-control': 'only-if-cached' });
    assert.equal(absent.status, 504);
    assert.match(absent.text, /only-if-cached/);
    assert.equal(h.origin.count('/d'), 0);
    await h.get('/d');
    const present = await h.get('/d', { 'cache-control': 'only-if-cached' });
    assert.equal(present.status, 200);
    assert.equal(present.text, 'data');
    h.clock.advance(200_000);
    const stale = await h.get('/d', { 'cache-control': 'only-if-cached' });
    assert.equal(stale.status, 504);
    assert.equal(h.origin.count('/d'), 1);
  } finally {
    await h.close();
  }
});
