import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, fixed } from '../fixtures/harness.js';

test('a cacheable GET is fetched once, then answered from cache with Age and Cache-Status', async () => {
  const h = await startHarness(fixed('hello world', { 'cache-control': 'max-age=60', 'content-type': 'text/plain' }));
  try {
    const a = await h.get('/smoke');
    assert.equal(a.status, 200);
    assert.equal(a.text, 'hello world');
    assert.match(a.headers['cache-status']!, /^test-node; fwd=uri-miss; fwd-status=200; stored; ttl=(59|60)/);
    const b = await h.get('/smoke');
    assert.equal(b.text, 'hello world');
    assert.match(b.headers['cache-status']!, /^test-node; hit; ttl=\d+/);
    assert.equal(b.headers['age'], '0');
    assert.match(b.headers['via']!, /1\.1 test-node/);
    assert.equal(h.origin.count('/smoke'), 1);
  } finally {
    await h.close();
  }
});
