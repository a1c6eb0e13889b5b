// Sites and routes over real sockets: Host (exact, wildcard, default site) and
// path prefix (longest wins) choose a route whose own origin answers; an unknown
// Host is 421; per-route key options, TTL for responses without freshness,
// bypass and stale windows; a node without sites is one implicit site.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { named, startSites } from '../fixtures/sites.js';
import { fetchReply, startHarness, type OriginHandler } from '../fixtures/harness.js';

test('Host (exact, wildcard) then the longest path prefix choose the route; its own origin answers', async () => {
  const h = await startSites({ shop: named('shop', 'no-store'), api: named('api', 'no-store'), apiV2: named('api-v2', 'no-store'), blog: named('blog', 'no-store') }, (u) => ({
    shop: {
      hosts: ['shop.example', '*.shop.example'],
      routes: {
        all: { path: '/', upstream: u['shop'] },
        api: { path: '/api', upstream: u['api'] },
        apiV2: { path: '/api/v2/', upstream: { upstreams: [u['apiV2']], balancer: 'round-robin' } },
      },
    },
    blog: { hosts: ['blog.example'], routes: { all: { path: '/', upstream: u['blog'] } } },
  }), { overrides: { logLevel: 'info' } });
  try {
    const at = async (host: string, path: string) => (await h.get(path, { host })).text;
    assert.equal(await at('shop.example', '/cart'), 'shop /cart');
    assert.equal(await at('SHOP.example:8080', '/cart'), 'shop /cart', 'case and port do not matter');
    assert.equal(await at('www.shop.example', '/x'), 'shop /x', 'wildcard, one label');
    assert.equal(await at('a.b.shop.example', '/x'), 'shop /x', 'wildcard, two labels');
    assert.equal(await at('shop.example', '/api'), 'api /api');
    assert.equal(await at('shop.example', '/api/users?id=1'), 'api /api/users?id=1');
    assert.equal(await at('shop.example', '/apix'), 'shop /apix', '/api does not cover /apix');
    assert.equal(await at('shop.example', '/api/v2/items'), 'api-v2 /api/v2/items', 'longest prefix wins');
    assert.equal(await at('blog.example', '/api/v2/items'), 'blog /api/v2/items', 'routes belong to their site');
    const routes = JSON.parse((await fetchReply(h.admin + '/routes')).text) as { sites: Record<string, { routes: Record<string, { path: string }> }> };
    assert.equal(routes.sites['shop']!.routes['apiV2']!.path, '/api/v2/');
    const [line] = await h.logged((l) => l['msg'] === 'access' && l['url'] === '/api/v2/items' && l['host'] === 'shop.example');
    assert.equal(line!['route'], 'shop/apiV2');
    const stats = JSON.parse((await fetchReply(h.admin + '/stats')).text) as { origin: { upstreams: { name: string; pool: string }[]; pools: Record<string, unknown> } };
    assert.deepEqual(Object.keys(stats.origin.pools).sort(), ['blog/all', 'shop/all', 'shop/api', 'shop/apiV2']);
    assert.equal(stats.origin.upstreams.find((u) => u.pool === 'shop/apiV2')!.name, h.pools['apiV2']!.url);
  } finally {
    await h.close();
  }
});

test('an unknown Host gets 421 Misdirected Request, unless a site is the default', async () => {
  const h = await startSites({ shop: named('shop', 'no-store') }, (u) => ({ shop: { hosts: ['shop.example'], routes: { all: { path: '/', upstream: u['shop'] } } } }));
  try {
    const r = await h.get('/x', { host: 'other.example' });
    assert.equal(r.status, 421);
    assert.match(r.text, /MISDIRECTED_REQUEST/);
    assert.match(r.headers['cache-status']!, /test-node; fwd=bypass; detail=misdirected_request/);
    assert.equal(h.pools['shop']!.count(), 0);
    assert.equal((await h.get('/x', { host: 'shop.example.evil' })).status, 421, 'an exact name is not a prefix');
  } finally {
    await h.close();
  }
  const d = await startSites({ shop: named('shop', 'no-store'), fallback: named('fallback', 'no-store') }, (u) => ({
    shop: { hosts: ['shop.example'], routes: { all: { path: '/', upstream: u['shop'] } } },
    catchall: { default: true, routes: { all: { path: '/', upstream: u['fallback'] } } },
  }));
  try {
    assert.equal((await d.get('/x', { host: 'other.example' })).text, 'fallback /x');
    assert.equal((await d.get('/x', { host: 'shop.example' })).text, 'shop /x');
  } finally {
    await d.close();
  }
});

test('a site without a route for the path answers 404 NO_ROUTE; a route without a pool uses origin.upstreams', async () => {
  const h = await startSites({ api: named('api', 'no-store') }, (u) => ({
    shop: { hosts: ['shop.example'], routes: { api: { path: '/api/', upstream: u['api'] }, media: { path: '/media/' } } },
  }));
  try {
    const r = await h.get('/other', { host: 'shop.example' });
    assert.equal(r.status, 404);
    assert.match(r.text, /NO_ROUTE/);
    assert.equal((await h.get('/media/a.jpg', { host: 'shop.example' })).text, 'origin');
    assert.equal(h.origin.count('/media/a.jpg'), 1);
  } finally {
    await h.close();
  }
});

test('a node without sites is one implicit site: every Host, one route, keys as before', async () => {
  const h = await startHarness(named('only', 'max-age=60'));
  try {
    assert.equal((await h.get('/a?b=1&a=2', { host: 'anything.example' })).text, 'only /a?b=1&a=2');
    await h.stored(1);
    assert.match((await h.get('/a?b=1&a=2', { host: 'anything.example' })).headers['cache-status']!, /^test-node; hit/);
    assert.equal((await h.get('/a?a=2&b=1', { host: 'anything.example' })).headers['cache-status']!.includes('fwd=uri-miss'), true, 'no query sorting by default');
    const stats = JSON.parse((await fetchReply(h.admin + '/stats')).text) as { origin: { upstreams: unknown[] } };
    assert.equal(stats.origin.upstreams.length, 1, '/stats origin keeps its one-pool shape');
  } finally {
    await h.close();
  }
});

test('key options: ignored and sorted query parameters, a header and a cookie in the key', async () => {
  const h = await startSites({ s: named('s', 'max-age=300') }, (u) => ({
    shop: {
      hosts: ['shop.example'],
      routes: {
        all: { path: '/', upstream: u['s'], cache: { ignoreQuery: ['utm_source', 'fbclid'], sortQuery: true, keyHeaders: ['X-Device'], keyCookies: ['lang'] } },
        plain: { path: '/plain/', upstream: u['s'], cache: { ignoreQuery: 'all' } },
      },
    },
  }), { overrides: { admin: { token: 'tok' } } });
  try {
    const get = (path: string, headers: Record<string, string> = {}) => h.get(path, { host: 'shop.example', ...headers });
    const hit = /^test-node; hit/;
    assert.match((await get('/p?b=2&a=1&utm_source=x')).headers['cache-status']!, /fwd=uri-miss; fwd-status=200; stored/);
    await h.stored(1);
    assert.match((await get('/p?a=1&b=2')).headers['cache-status']!, hit, 'sorted, utm_source ignored');
    assert.match((await get('/p?fbclid=9&a=1&b=2')).headers['cache-status']!, hit);
    assert.equal(h.pools['s']!.count(), 1);
    assert.equal(h.pools['s']!.requests[0]!.url, '/p?b=2&a=1', 'the origin gets the target as sent, without what the key ignores');
    assert.match((await get('/p?a=1&b=2', { 'x-device': 'mobile' })).headers['cache-status']!, /fwd=uri-miss/, 'a keyed header value is its own entry');
    await h.stored(2);
    assert.match((await get('/p?a=1&b=2', { 'x-device': 'mobile' })).headers['cache-status']!, hit);
    assert.match((await get('/p?a=1&b=2', { cookie: 'sid=1; lang=fr' })).headers['cache-status']!, /fwd=uri-miss/, 'a keyed cookie value is its own entry');
    await h.stored(3);
    assert.match((await get('/p?a=1&b=2', { cookie: 'lang=fr; other=2' })).headers['cache-status']!, hit, 'other cookies do not matter');
    assert.match((await get('/p?a=1&b=2', { cookie: 'sid=2' })).headers['cache-status']!, hit, 'no lang cookie: the plain entry');
    assert.equal(h.pools['s']!.count(), 3);
    const explained = JSON.parse((await fetchReply(`${h.admin}/explain?url=${encodeURIComponent('http://shop.example/p?b=2&utm_source=q&a=1')}`, { authorization: 'Bearer tok' })).text) as { cached: boolean; primaryKey: string };
    // The query options apply; the members after "#" (this route keys X-Device and lang) are not explain's to guess.
    assert.equal(explained.primaryKey, 'GET http://shop.example/p?a=1&b=2', 'explain keys the URL as the route does');
    await get('/plain/x?v=1');
    await h.stored(4);
    assert.match((await get('/plain/x?v=2')).headers['cache-status']!, hit, 'ignoreQuery all');
  } finally {
    await h.close();
  }
});

test('TTL for responses without freshness, bypass and stale windows are per route', async () => {
  const h = await startSites({ s: named('s'), sw: named('sw', 'max-age=1') }, (u) => ({
    shop: {
      hosts: ['shop.example'],
      routes: {
        ttl: { path: '/ttl/', upstream: u['s'], cache: { defaultTtlS: 30 } },
        none: { path: '/none/', upstream: u['s'] },
        bypass: { path: '/live/', upstream: u['sw'], cache: { bypass: true } },
        stale: { path: '/stale/', upstream: u['sw'], cache: { staleWhileRevalidateS: 60 } },
      },
    },
  }));
  try {
    const get = (path: string) => h.get(path, { host: 'shop.example' });
    // No Cache-Control, no Last-Modified: the route's 30 s apply; elsewhere it is not stored.
    assert.match((await get('/ttl/a')).headers['cache-status']!, /stored; ttl=(29|30)$/);
    await h.stored(1);
    h.clock.advance(20_000);
    assert.match((await get('/ttl/a')).headers['cache-status']!, /^test-node; hit; ttl=(9|10)$/);
    h.clock.advance(15_000);
    assert.match((await get('/ttl/a')).headers['cache-status']!, /fwd=stale/);
    await get('/none/a');
    assert.match((await get('/none/a')).headers['cache-status']!, /fwd=uri-miss/, 'no route TTL: not stored');
    // Bypass: passed through though the answer is cacheable.
    await get('/live/a');
    const b = await get('/live/a');
    assert.match(b.headers['cache-status']!, /fwd=bypass; fwd-status=200; detail=route-bypass/);
    assert.equal(h.pools['sw']!.count('/live/a'), 2);
    // A stale window of the route's own: served stale while it revalidates.
    await get('/stale/a');
    // /ttl/a twice (stored, then again once stale), /stale/a: nothing else.
    await h.stored(3);
    assert.equal(h.node.stats.counters.stored, 3);
    h.clock.advance(5_000);
    assert.match((await get('/stale/a')).headers['cache-status']!, /^test-node; hit; .*detail=stale-while-revalidate/);
  } finally {
    await h.close();
  }
});

test("a route's pool has its own balancer and health checks; other pools are not probed", async () => {
  const healthy: Parameters<typeof startSites>[0][string] = (req, res) => {
    res.writeHead(200, { 'content-length': 2, 'cache-control': 'no-store' });
    res.end(req.url === '/health' ? 'ok' : 'up');
  };
  const sick: Parameters<typeof startSites>[0][string] = (req, res) => {
    res.writeHead(req.url === '/health' ? 500 : 200, { 'content-length': 4, 'cache-control': 'no-store' });
    res.end('sick');
  };
  const h = await startSites({ up: healthy, sick }, (u) => ({
    shop: {
      hosts: ['shop.example'],
      routes: {
        api: { path: '/api/', upstream: { upstreams: [u['up'], u['sick']], balancer: 'round-robin', healthCheck: { path: '/health', intervalMs: 20, unhealthyThreshold: 1 } } },
        all: { path: '/' },
      },
    },
  }));
  try {
    const state = async () => {
      const s = JSON.parse((await fetchReply(h.admin + '/stats')).text) as { origin: { upstreams: { name: string; pool: string; state: string }[] } };
      return s.origin.upstreams.find((x) => x.pool === 'shop/api' && x.name === h.pools['sick']!.url)!.state;
    };
    const deadline = Date.now() + 5000;
    while ((await state()) !== 'unhealthy') assert.ok(Date.now() < deadline, 'the sick upstream was never marked unhealthy');
    for (let i = 0; i < 10; i++) assert.equal((await h.get(`/api/${i}`, { host: 'shop.example' })).text, 'up');
    assert.equal(h.origin.count('/health'), 0, 'the node origin pool has no health checks configured');
    assert.equal((await h.get('/page', { host: 'shop.example' })).text, 'origin');
  } finally {
    await h.close();
  }
});

test('a purge of a URL reaches every version its route keyed (query options, header and cookie members, canary side)', async () => {
  const h = await startSites({ s: named('s', 'max-age=300') }, (u) => ({
    shop: { hosts: ['shop.example'], routes: { all: { path: '/', upstream: u['s'], cache: { ignoreQuery: ['utm_source'], sortQuery: true, keyHeaders: ['x-device'] } } } },
  }), { overrides: { admin: { token: 'tok' } } });
  try {
    const get = (headers: Record<string, string> = {}) => h.get('/p?b=2&a=1', { host: 'shop.example', ...headers });
    await get();
    await get({ 'x-device': 'mobile' });
    await h.stored(2);
    assert.match((await get({ 'x-device': 'mobile' })).headers['cache-status']!, /^test-node; hit/);
    const r = await fetchReply(h.admin + '/purge', { authorization: 'Bearer tok', 'content-type': 'application/json' }, 'POST', JSON.stringify({ urls: ['http://shop.example/p?utm_source=x&a=1&b=2'] }));
    assert.equal(r.status, 200, r.text);
    assert.match((await get()).headers['cache-status']!, /fwd=uri-miss/);
    assert.match((await get({ 'x-device': 'mobile' })).headers['cache-status']!, /fwd=uri-miss/);
    await h.stored(4);
    // PURGE on the main listener, sent without the keyed header: every version goes too.
    const p = await h.get('/p?a=1&b=2', { host: 'shop.example', authorization: 'Bearer tok' }, 'PURGE');
    assert.equal(p.status, 200, p.text);
    assert.match((await get({ 'x-device': 'mobile' })).headers['cache-status']!, /fwd=uri-miss/);
  } finally {
    await h.close();
  }
});

test('an unsafe method invalidates every version its route keyed of the target and of a same-origin Location (RFC 9111 §4.4)', async () => {
  const origin: OriginHandler = (req, res) => {
    const body = `s ${req.url}`;
    if (req.method === 'POST') res.writeHead(201, { location: '/basket?b=2&a=1', 'content-length': Buffer.byteLength(body) });
    else res.writeHead(200, { 'cache-control': 'max-age=300', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const h = await startSites({ s: origin }, (u) => ({
    shop: { hosts: ['shop.example'], routes: { all: { path: '/', upstream: u['s'], cache: { ignoreQuery: ['utm_source'], sortQuery: true, keyHeaders: ['x-device'] } } } },
  }));
  try {
    const get = (path: string, headers: Record<string, string> = {}) => h.get(path, { host: 'shop.example', ...headers });
    for (const path of ['/p?b=2&a=1', '/basket?a=1&b=2']) {
      await get(path);
      await get(path, { 'x-device': 'mobile' });
    }
    await h.stored(4);
    assert.match((await get('/p?a=1&b=2', { 'x-device': 'mobile' })).headers['cache-status']!, /^test-node; hit/);
    const post = await h.get('/p?utm_source=x&a=1&b=2', { host: 'shop.example' }, 'POST');
    assert.equal(post.status, 201);
    for (const path of ['/p?a=1&b=2', '/basket?b=2&a=1']) {
      assert.match((await get(path)).headers['cache-status']!, /fwd=uri-miss/, path);
      assert.match((await get(path, { 'x-device': 'mobile' })).headers['cache-status']!, /fwd=uri-miss/, `${path} (mobile)`);
    }
  } finally {
    await h.close();
  }
});

test('a purge by path reaches what every site keyed for it: each version after "#", the query as each route keys it, on every Host', async () => {
  const h = await startSites({ s: named('s', 'max-age=300') }, (u) => ({
    shop: { hosts: ['shop.example'], routes: { all: { path: '/', upstream: u['s'], cache: { keyHeaders: ['x-device'], keyCookies: ['lang'] } } } },
    blog: { hosts: ['blog.example'], routes: { all: { path: '/', upstream: u['s'], cache: { ignoreQuery: ['utm'], sortQuery: true } } } },
  }), { overrides: { admin: { token: 'tok' } } });
  try {
    const shop = (headers: Record<string, string> = {}) => h.get('/a', { host: 'shop.example', ...headers });
    const blog = () => h.get('/b?utm=1&x=2', { host: 'blog.example' });
    await shop();
    await shop({ cookie: 'lang=en' });
    await shop({ 'x-device': 'mobile' });
    await blog();
    await h.stored(4);
    assert.match((await shop({ cookie: 'lang=en' })).headers['cache-status']!, /^test-node; hit/);
    assert.match((await blog()).headers['cache-status']!, /^test-node; hit/);
    const purge = (urls: string[]) => fetchReply(h.admin + '/purge', { authorization: 'Bearer tok', 'content-type': 'application/json' }, 'POST', JSON.stringify({ urls }));
    // Stored under "/b?x=2" (utm ignored): the path as sent names it through the route's key options.
    const r = await purge(['/a', '/b?utm=1&x=2']);
    assert.equal(r.status, 200, r.text);
    assert.equal((JSON.parse(r.text) as { purged: number }).purged, 4, r.text);
    assert.match((await shop()).headers['cache-status']!, /fwd=uri-miss/);
    assert.match((await shop({ cookie: 'lang=en' })).headers['cache-status']!, /fwd=uri-miss/);
    assert.match((await shop({ 'x-device': 'mobile' })).headers['cache-status']!, /fwd=uri-miss/);
    assert.match((await blog()).headers['cache-status']!, /fwd=uri-miss/);
    await h.stored(8);
    // The absolute form still names one site's URL alone.
    const one = await purge(['http://shop.example/a']);
    assert.equal((JSON.parse(one.text) as { purged: number }).purged, 3, one.text);
    assert.match((await blog()).headers['cache-status']!, /^test-node; hit/);
  } finally {
    await h.close();
  }
});
