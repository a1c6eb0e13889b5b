// RFC 9213 — CDN-Cache-Control, and Strata's node-specific targeted field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, fixed } from '../fixtures/harness.js';

test('CDN-Cache-Control takes precedence over Cache-Control and is not passed to clients', async () => {
  const h = await startHarness(fixed('x', { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=120' }));
  try {
    const a = await h.get('/cdn');
    assert.equal(a.headers['cdn-cache-control'], undefined);
    assert.equal(a.headers['cache-control'], 'no-store', 'browsers still see Cache-Control');
    const b = await h.get('/cdn');
    assert.match(b.headers['cache-status']!, /; hit; ttl=1(19|20)/);
    assert.equal(b.headers['cdn-cache-control'], undefined);
    assert.equal(h.origin.count('/cdn'), 1);
  } finally {
    await h.close();
  }
});

test('the node-specific field takes precedence over CDN-Cache-Control and Cache-Control', async () => {
  const h = await startHarness(fixed('x', { 'cache-control': 'max-age=600', 'cdn-cache-control': 'max-age=600', 'strata-cache-control': 'no-store' }));
  try {
    await h.get('/own');
    const b = await h.get('/own');
    assert.equal(h.origin.count('/own'), 2, 'Strata-Cache-Control: no-store wins');
    assert.equal(b.headers['strata-cache-control'], undefined);
    assert.equal(b.headers['cdn-cache-control'], undefined);
  } finally {
    await h.close();
  }
});

test('Expires is ignored when a targeted field is present (RFC 9213 §2.1)', async () => {
  const h = await startHarness(fixed('x', { expires: new Date(Date.now() + 3600_000).toUTCString(), 'cdn-cache-control': 'no-cache', etag: '"v1"' }));
  try {
    await h.get('/exp');
    const b = await h.get('/exp');
    assert.match(b.headers['cache-status']!, /fwd=stale/, 'no-cache from CDN-Cache-Control forces validation');
  } finally {
    await h.close();
  }
});

test('passTargetedFields passes them on', async () => {
  const h = await startHarness(fixed('x', { 'cdn-cache-control': 'max-age=60' }), { cache: { passTargetedFields: true } });
  try {
    await h.get('/p');
    const b = await h.get('/p');
    assert.equal(b.headers['cdn-cache-control'], 'max-age=60');
  } finally {
    await h.close();
  }
});

test('a CDN-Cache-Control that is not a valid dictionary is ignored as a whole: Cache-Control decides (RFC 9213 §2.1)', async () => {
  const h = await startHarness(fixed('x', { 'cache-control': 'no-store', 'cdn-cache-control': 'Max-Age=3600' }));
  try {
    await h.get('/bad-cdn');
    const b = await h.get('/bad-cdn');
    assert.equal(h.origin.count('/bad-cdn'), 2, 'Cache-Control: no-store applies');
    assert.match(b.headers['cache-status']!, /detail=no-store/);
  } finally {
    await h.close();
  }
});

test('a CDN-Cache-Control max-age of the wrong type (a quoted String) is not consumed: no lifetime, and Cache-Control: no-store is not read (RFC 9213 §2.1)', async () => {
  const h = await startHarness(fixed('x', { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age="10000"' }));
  try {
    await h.get('/cdn-string');
    h.clock.advance(3_000);
    const b = await h.get('/cdn-string');
    assert.equal(h.origin.count('/cdn-string'), 2, 'max-age="10000" gives no freshness');
    assert.match(b.headers['cache-status']!, /detail=not-reusable/, 'the targeted field decided, not Cache-Control');
  } finally {
    await h.close();
  }
});
