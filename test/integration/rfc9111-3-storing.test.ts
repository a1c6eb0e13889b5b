// RFC 9111 §3 — which responses a shared cache stores — over real sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, fixed, type Harness } from '../fixtures/harness.js';

async function twice(h: Harness, path: string, headers: Record<string, string> = {}) {
  const a = await h.get(path, headers);
  const b = await h.get(path, headers);
  return { a, b, originCount: h.origin.count(path) };
}

const cases: { name: string; headers: Record<string, string | string[]>; stored: boolean; detail?: string; reqHeaders?: Record<string, string> }[] = [
  { name: '§3 max-age response is stored', headers: { 'cache-control': 'max-age=60' }, stored: true },
  { name: '§5.2.2.5 no-store is not stored', headers: { 'cache-control': 'no-store, max-age=60' }, stored: false, detail: 'no-store' },
  { name: '§5.2.2.7 private is not stored by a shared cache', headers: { 'cache-control': 'private, max-age=60' }, stored: false, detail: 'private' },
  {
    name: '§5.2.2.7 private with an unterminated quoted field list is unqualified private: not stored',
    headers: { 'cache-control': 'max-age=60, private="x-user' },
    stored: false,
    detail: 'private',
  },
  { name: '§5.2.2.3 must-understand lets a 200 be stored despite no-store', headers: { 'cache-control': 'must-understand, no-store, max-age=60' }, stored: true },
  { name: '§3.5 Authorization without permission is not stored', headers: { 'cache-control': 'max-age=60' }, reqHeaders: { authorization: 'Bearer x' }, stored: false, detail: 'authorization' },
  { name: '§3.5 Authorization with public is stored', headers: { 'cache-control': 'public, max-age=60' }, reqHeaders: { authorization: 'Bearer x' }, stored: true },
  { name: '§3.5 Authorization with s-maxage is stored', headers: { 'cache-control': 's-maxage=60' }, reqHeaders: { authorization: 'Bearer x' }, stored: true },
  { name: 'Set-Cookie responses are not stored by default', headers: { 'cache-control': 'max-age=60', 'set-cookie': 'sid=secret' }, stored: false, detail: 'set-cookie' },
  { name: '§4.1 Vary: * is never stored', headers: { 'cache-control': 'max-age=60', vary: '*' }, stored: false, detail: 'vary-star' },
  { name: 'no freshness and no validator is not stored', headers: {}, stored: false, detail: 'not-reusable' },
  { name: '§5.2.1.5 request no-store is not stored', headers: { 'cache-control': 'max-age=60' }, reqHeaders: { 'cache-control': 'no-store' }, stored: false, detail: 'request-no-store' },
];

for (const c of cases) {
  test(c.name, async () => {
    const h = await startHarness(fixed('body', c.headers));
    try {
      const { a, b, originCount } = await twice(h, '/s', c.reqHeaders);
      assert.equal(a.status, 200);
      assert.equal(b.text, 'body');
      if (c.stored) {
        assert.equal(originCount, 1, 'second request answered from cache');
        assert.match(a.headers['cache-status']!, /; stored/);
        assert.match(b.headers['cache-status']!, /; hit/);
      } else {
        assert.equal(originCount, 2, 'both requests went to the origin');
        assert.doesNotMatch(a.headers['cache-status']!, /; stored/);
        if (c.detail) assert.match(a.headers['cache-status']!, new RegExp(`detail=${c.detail}`));
      }
    } finally {
      await h.close();
    }
  });
}

test('Set-Cookie reaches the client that caused it, and is never replayed from cache when the operator opts in', async () => {
  let n = 0;
  const h = await startHarness(
    (_req, res) => {
      n++;
      res.writeHead(200, { 'cache-control': 'max-age=60', 'set-cookie': [`sid=user${n}`, 'other=1'], 'content-length': '2' });
      res.end('ok');
    },
    { cache: { storeSetCookie: true } },
  );
  try {
    const a = await h.get('/cookie');
    assert.match(a.headers['set-cookie']!, /sid=user1/);
    const b = await h.get('/cookie');
    assert.match(b.headers['cache-status']!, /; hit/);
    assert.equal(b.headers['set-cookie'], undefined, 'another user never receives the stored cookie');
    assert.equal(h.origin.count('/cookie'), 1);
  } finally {
    await h.close();
  }
});

test('a 5xx with explicit freshness is stored; without it, it is not', async () => {
  const h = await startHarness((req, res) => {
    const explicit = req.url === '/err-fresh';
    res.writeHead(503, { 'content-length': '4', ...(explicit ? { 'cache-control': 'max-age=30' } : {}) });
    res.end('down');
  });
  try {
    await h.get('/err-fresh');
    const b = await h.get('/err-fresh');
    assert.equal(b.status, 503);
    assert.match(b.headers['cache-status']!, /; hit/);
    await h.get('/err-plain');
    await h.get('/err-plain');
    assert.equal(h.origin.count('/err-plain'), 2);
  } finally {
    await h.close();
  }
});

test('§3 a status Strata does not know (299, 499) with explicit freshness is stored and reused while fresh, never stale; with must-understand it is not stored', async () => {
  const h = await startHarness((req, res) => {
    const status = req.url!.startsWith('/s499') ? 499 : req.url!.startsWith('/mu') ? 400 : 299;
    const cc = req.url!.startsWith('/mu') ? 'must-understand, max-age=60' : 'max-age=60, stale-while-revalidate=600, stale-if-error=600';
    res.writeHead(status, { 'cache-control': cc, 'content-length': 2 });
    res.end('ok');
  });
  try {
    for (const path of ['/s299', '/s499']) {
      const { a, b, originCount } = await twice(h, path);
      assert.equal(a.status, path === '/s299' ? 299 : 499);
      assert.match(b.headers['cache-status']!, /; hit/, path);
      assert.equal(originCount, 1, path);
    }
    // Stale: not served, whatever stale windows the response names.
    h.clock.advance(61_000);
    const stale = await h.get('/s299');
    assert.doesNotMatch(stale.headers['cache-status']!, /; hit/);
    assert.equal(h.origin.count('/s299'), 2);
    const mu = await twice(h, '/mu');
    assert.equal(mu.originCount, 2, 'must-understand with an unknown status: not stored');
  } finally {
    await h.close();
  }
});

test('§3.1 fields specific to the proxy the origin answered through are not stored: a hit carries no Proxy-Authentication-Info; Connection-listed fields neither', async () => {
  const h = await startHarness(
    fixed('body', { 'cache-control': 'max-age=60', 'proxy-authentication-info': 'nextnonce="abc"', connection: 'x-hop', 'x-hop': '1', 'x-end': '2' }),
  );
  try {
    const { b, originCount } = await twice(h, '/proxy-info');
    assert.equal(originCount, 1);
    assert.match(b.headers['cache-status']!, /; hit/);
    assert.equal(b.headers['proxy-authentication-info'], undefined);
    assert.equal(b.headers['x-hop'], undefined);
    assert.equal(b.headers['x-end'], '2');
  } finally {
    await h.close();
  }
});
