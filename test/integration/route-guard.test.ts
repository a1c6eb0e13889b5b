// Per-route edge guards over real sockets: a real auth service, real origins, a
// real Strata node with two or more routes on one site. A route's own rules
// (route `guard`) replace the node-wide `edge` ones of the same kind on that
// route only: forward-auth on one route never asks the auth service for another;
// a route's rate limit and filters answer 429 and 403 on that route alone; a
// reload changing one route's guard keeps the other route's rate buckets.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sitesKind } from '../../src/config/sites.js';
import type { Config } from '../../src/config/types.js';
import { fetchReply } from '../fixtures/harness.js';
import { startSites } from '../fixtures/sites.js';
import { edgeRules, startAuthService } from '../fixtures/edge.js';
import type { OriginHandler } from '../fixtures/harness.js';

const HOST = { host: 'shop.example' };

/** A shareable page naming the path and the identity the origin was given. */
const page: OriginHandler = (req, res) => {
  const body = `page ${req.url} for ${String(req.headers['x-auth-user'] ?? 'nobody')}`;
  res.writeHead(200, { 'cache-control': 'public, max-age=600', 'content-length': Buffer.byteLength(body), server: 'Apache/2.4.1' });
  res.end(body);
};

test('forward-auth on one route: the public route never asks the auth service; the protected one refuses without credentials and serves a cached public body to an authorised client', async () => {
  const auth = await startAuthService((req, res) => {
    const ok = req.headers['authorization'] === 'Bearer good';
    res.writeHead(ok ? 200 : 401, ok ? { 'x-auth-user': 'alice', 'content-length': '0' } : { 'www-authenticate': 'Bearer realm="shop"', 'content-length': '0' });
    res.end();
  });
  const h = await startSites({ shop: page }, (u) => ({
    shop: {
      hosts: ['shop.example'],
      routes: {
        public: { path: '/', upstream: u['shop'] },
        account: { path: '/account/', upstream: u['shop'], guard: { forwardAuth: { url: auth.url, identityFields: ['x-auth-user'] }, publicAfterAuth: true } },
      },
    },
  }));
  try {
    for (let i = 0; i < 3; i++) {
      const r = await h.get('/news', HOST);
      assert.equal(r.status, 200);
      assert.equal(r.text, 'page /news for nobody');
    }
    assert.equal(auth.asked.length, 0, 'the public route never asks the auth service');

    const refused = await h.get('/account/orders', HOST);
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['www-authenticate'], 'Bearer realm="shop"');
    assert.equal(h.pools['shop']!.count(), 1, 'a refused request never reaches the origin');

    const first = await h.get('/account/orders', { ...HOST, authorization: 'Bearer good' });
    assert.equal(first.status, 200);
    assert.equal(first.text, 'page /account/orders for alice');
    await h.stored(2);
    const again = await h.get('/account/orders', { ...HOST, authorization: 'Bearer good' });
    assert.equal(again.text, 'page /account/orders for alice');
    assert.match(again.headers['cache-status']!, /hit/, 'the authorised client is answered from cache');
    assert.equal(h.pools['shop']!.count(), 2, 'the origin asked once for /account/orders');
    // A stored body is never served to a client the route refuses.
    const stillRefused = await h.get('/account/orders', HOST);
    assert.equal(stillRefused.status, 401);
    assert.doesNotMatch(stillRefused.text, /page/);
    // Decisions are remembered per credential, address and path (forwardAuth.cacheTtlMs): once without, once with.
    assert.equal(auth.asked.length, 2);
    for (const asked of auth.asked) assert.match(String(asked['x-original-uri']), /^\/account\//, 'the auth service was asked for the protected route only');
    // The node-wide hidden fields still apply on both routes.
    assert.equal(again.headers['server'], undefined);
  } finally {
    await h.close();
    await auth.close();
  }
});

test("a route's rate limit answers 429 on that route; another route on the node is unaffected; a route filter answers 403 only on its route", async () => {
  const h = await startSites({ shop: page }, (u) => ({
    shop: {
      hosts: ['shop.example'],
      routes: {
        all: { path: '/', upstream: u['shop'] },
        search: { path: '/search', upstream: u['shop'], guard: { rateLimit: { requestsPerS: 1, burst: 2 } } },
        admin: { path: '/admin/', upstream: u['shop'], guard: { filters: [{ name: 'no-export', action: 'deny', paths: ['/admin/export/'] }] } },
      },
    },
  }), { overrides: { logLevel: 'warn' } });
  try {
    // The harness's clock is fake: no bucket refills during the test.
    assert.equal((await h.get('/search?q=a', HOST)).status, 200);
    assert.equal((await h.get('/search?q=b', HOST)).status, 200);
    const limited = await h.get('/search?q=c', HOST);
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    for (let i = 0; i < 5; i++) assert.equal((await h.get(`/other/${i}`, HOST)).status, 200, 'the other route has no limit');

    const denied = await h.get('/admin/export/all', HOST);
    assert.equal(denied.status, 403);
    assert.match(denied.text, /FILTER_DENIED/);
    assert.equal((await h.get('/admin/users', HOST)).status, 200, 'the filter denies its path only');
    assert.equal((await h.get('/export/all', HOST)).status, 200);
    assert.equal((await h.get('/admin/export/all', HOST)).status, 403);
    const [line] = await h.logged((l) => l['rule'] === 'no-export');
    assert.equal(line!['code'], 'FILTER_DENIED');
    assert.equal(h.node.stats.counters.rateLimited, 1);
    assert.equal(h.node.stats.counters.filtered, 2);
    const stats = JSON.parse((await fetchReply(h.admin + '/stats')).text) as { edge: { rateBuckets: number } };
    assert.equal(stats.edge.rateBuckets, 1, "one client's bucket, on the search route");
  } finally {
    await h.close();
  }
});

test("a reload that changes one route's guard keeps the other route's rate-limit state", async () => {
  const sites = (url: string, adminRate: number) => ({
    shop: {
      hosts: ['shop.example'],
      routes: {
        search: { path: '/search', upstream: url, guard: { rateLimit: { requestsPerS: 1, burst: 2 } } },
        admin: { path: '/admin/', upstream: url, guard: { rateLimit: { requestsPerS: adminRate, burst: 1 } } },
        all: { path: '/', upstream: url },
      },
    },
  });
  let originUrl = '';
  const h = await startSites({ shop: page }, (u) => {
    originUrl = u['shop']!;
    return sites(originUrl, 1);
  });
  try {
    assert.equal((await h.get('/search?q=1', HOST)).status, 200);
    assert.equal((await h.get('/search?q=2', HOST)).status, 200);
    assert.equal((await h.get('/search?q=3', HOST)).status, 429, 'the search bucket is empty');
    assert.equal((await h.get('/admin/a', HOST)).status, 200);
    assert.equal((await h.get('/admin/b', HOST)).status, 429, 'the admin bucket is empty');

    const next: Config = { ...structuredClone(h.node.config()), sites: sitesKind().parse(sites(originUrl, 5)) };
    await h.node.reload(next);

    assert.equal((await h.get('/search?q=4', HOST)).status, 429, "the unchanged route's bucket survived the reload");
    assert.equal((await h.get('/admin/c', HOST)).status, 200, 'the changed route starts afresh');

    // A route guard the node cannot build is refused in one line; the running guards stay.
    const bad = sitesKind().parse(sites(originUrl, 5));
    bad[0]!.routes[1]!.guard = { ...bad[0]!.routes[1]!.guard, forwardAuth: { ...h.node.config().edge.forwardAuth, url: 'http://127.0.0.1:1/verify', identityFields: ['host'] } };
    await assert.rejects(h.node.reload({ ...structuredClone(h.node.config()), sites: bad }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'RELOAD_REFUSED');
      assert.match(err.message, /^sites\.shop\.routes\.admin\.guard\.forwardAuth\.identityFields: "host" cannot be set/);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
    assert.equal((await h.get('/search?q=5', HOST)).status, 429, 'still the running buckets');
  } finally {
    await h.close();
  }
});

/** An auth service that refuses every request (401): whatever reaches it got past the stages before. */
function startRefusingAuth(): ReturnType<typeof startAuthService> {
  return startAuthService((_req, res) => {
    res.writeHead(401, { 'content-length': '0' });
    res.end();
  });
}

test('node-wide forward-auth switched off on one route (forwardAuth: off); a route with its own hideResponseFields', async () => {
  const auth = await startRefusingAuth();
  const h = await startSites(
    { shop: page },
    (u) => ({
      shop: {
        hosts: ['shop.example'],
        routes: {
          all: { path: '/', upstream: u['shop'] },
          assets: { path: '/assets/', upstream: u['shop'], guard: { forwardAuth: 'off', hideResponseFields: ['x-powered-by'] } },
        },
      },
    }),
    { overrides: { edge: { forwardAuth: { ...edgeRules().forwardAuth, url: auth.url } } } },
  );
  try {
    assert.equal((await h.get('/account', HOST)).status, 401, 'the node-wide rule on a route without its own');
    const asset = await h.get('/assets/logo.png', HOST);
    assert.equal(asset.status, 200);
    assert.equal(asset.headers['server'], 'Apache/2.4.1', "the route's own list replaces the node-wide one");
    const hit = await h.get('/assets/logo.png', HOST);
    assert.match(hit.headers['cache-status']!, /hit/);
    assert.equal(hit.headers['server'], 'Apache/2.4.1', 'hits too');
    assert.equal(auth.asked.length, 1, 'the auth service is never asked for the route that switched it off');
  } finally {
    await h.close();
    await auth.close();
  }
});

test('a shared edge.rateLimit by header: values a route without auth takes as sent do not pass the limit of a route with auth (issue 12, review)', async () => {
  // The auth service refuses every key: whatever reaches it got past the rate limit.
  const auth = await startRefusingAuth();
  const h = await startSites(
    { shop: page },
    (u) => ({
      shop: {
        hosts: ['shop.example'],
        routes: {
          open: { path: '/', upstream: u['shop'] },
          api: { path: '/api/', upstream: u['shop'], guard: { forwardAuth: { url: auth.url, requestFields: ['x-api-key'] } } },
        },
      },
    }),
    { overrides: { logLevel: 'warn', edge: { rateLimit: { ...edgeRules().rateLimit, requestsPerS: 1, burst: 10, by: 'header', header: 'x-api-key' } } } },
  );
  try {
    // The harness's clock is fake: no bucket refills. Ten invented keys through the route without auth:
    // each costs the address a token and is believed from then on, there.
    for (let i = 0; i < 10; i++) assert.equal((await h.get(`/page/${i}`, { ...HOST, 'x-api-key': `minted-${i}` })).status, 200);
    // On the auth route those keys are no clients of their own: the address pays, and it has nothing left.
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) for (let n = 0; n < 9; n++) statuses.push((await h.get(`/api/orders/${n}`, { ...HOST, 'x-api-key': `minted-${i}` })).status);
    assert.deepEqual([...new Set(statuses)], [429], 'every request on the auth route is over the limit');
    assert.equal(auth.asked.length, 0, 'the auth service is never asked for a key it never approved');
    // On the route without auth the same keys still have their own buckets (nine tokens left each).
    assert.equal((await h.get('/page/again', { ...HOST, 'x-api-key': 'minted-0' })).status, 200);
  } finally {
    await h.close();
    await auth.close();
  }
});
