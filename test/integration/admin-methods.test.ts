// The admin API's answers to a method a resource does not take, and to resources it
// does not have: 405 carries Allow naming the methods (RFC 9110 §15.5.6), and an
// unknown path is 404 whatever the method (a 405 would say it exists).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchReply, fixed, startHarness } from '../fixtures/harness.js';

test('admin API: 405 names the allowed methods in Allow; unknown paths are 404 for every method', async () => {
  const h = await startHarness(fixed('x'), { admin: { token: 't' } });
  try {
    const notAllowed: [string, string, string][] = [
      ['GET', '/purge', 'POST'],
      ['GET', '/reload', 'POST'],
      ['POST', '/stats', 'GET, HEAD'],
      ['DELETE', '/healthz', 'GET, HEAD'],
      ['PUT', '/', 'GET, HEAD'],
      ['POST', '/explain', 'GET, HEAD'],
      ['DELETE', '/routes', 'GET, HEAD'],
      ['PUT', '/upstreams/drain', 'GET, HEAD, POST'],
      ['GET', '/upstreams/undrain', 'POST'],
      ['GET', '/routes/site/route/weights', 'POST'],
    ];
    for (const [method, path, allow] of notAllowed) {
      const r = await fetchReply(h.admin + path, {}, method);
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(r.headers['allow'], allow, `${method} ${path}: Allow`);
      assert.equal(JSON.parse(r.text).error, 'METHOD_NOT_ALLOWED');
    }
    for (const [method, path] of [['POST', '/nope'], ['DELETE', '/nope'], ['GET', '/nope'], ['POST', '/routes/x'], ['POST', '/upstreams/nope'], ['GET', '/upstreams/nope']]) {
      const r = await fetchReply(h.admin + path!, {}, method);
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.equal(JSON.parse(r.text).error, 'NOT_FOUND');
    }
  } finally {
    await h.close();
  }
});
