// RFC 9111 §5.2 and §1.2.2 over real sockets: directives and numbers whose syntax
// is not what the grammar allows (cases of the public HTTP caching test suite,
// cache-tests.fyi: cc-parse, age-parse) give a response no lifetime it might not have.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, fixed } from '../fixtures/harness.js';

for (const cc of ['max-age =100', 'max-age= 100']) {
  test(`§5.2: "${cc}" is not a max-age of 100 s: the response is not reused`, async () => {
    const h = await startHarness(fixed('x', { 'cache-control': cc }));
    try {
      await h.get('/ws');
      h.clock.advance(3_000);
      const b = await h.get('/ws');
      assert.equal(h.origin.count('/ws'), 2, `${cc} must give no freshness`);
      assert.doesNotMatch(b.headers['cache-status']!, /; hit/);
    } finally {
      await h.close();
    }
  });
}

test('§5.2: with a validator, "max-age= 100" stores the response already stale: the next request validates it', async () => {
  const h = await startHarness(fixed('x', { 'cache-control': 'max-age= 100', etag: '"v1"' }));
  try {
    await h.get('/ws-etag');
    const b = await h.get('/ws-etag');
    assert.match(b.headers['cache-status']!, /fwd=stale/);
    assert.equal(h.origin.requests.at(-1)!.headers['if-none-match'], '"v1"');
  } finally {
    await h.close();
  }
});

test('§1.2.2: an Age too large to keep counts as 2^31: the Age sent is a whole number, not "1e+23"', async () => {
  const h = await startHarness(fixed('x', { 'cache-control': 'max-age=10', age: '99999999999999999999999' }));
  try {
    await h.get('/huge-age');
    const b = await h.get('/huge-age', { 'cache-control': 'max-stale' });
    assert.match(b.headers['cache-status']!, /; hit/);
    assert.equal(b.headers['age'], '2147483648');
    assert.match(b.headers['cache-status']!, /ttl=-2147483638/);
  } finally {
    await h.close();
  }
});
