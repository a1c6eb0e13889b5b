// Routing, pure parts: Host tables (exact, wildcard, default), path prefixes
// (longest wins, segment boundaries), the key a route makes (query options,
// suffix members), canary buckets (sticky and monotone in the weight), and the
// `sites` setting's validation (each error names the key path, value, expectation).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keySuffix, keyedTarget, PLAIN_KEY } from '../../src/cache/key.js';
import { assessStorage } from '../../src/cache/storable.js';
import { cookieOccurrences, cookieValue, cookieValues, phpCookieName } from '../../src/http/cookies.js';
import { canaryPercentOf } from '../../src/admin/routes.js';
import { DrainSet, upstreamName } from '../../src/routing/drain.js';
import { bucketOf, chooseSide } from '../../src/routing/shifting.js';
import { byLongestPrefix, HostTable, prefixCovers, routeFor } from '../../src/routing/sites.js';
import { decodedPath } from '../../src/http/patterns.js';
import { Router } from '../../src/routing/router.js';
import { sitesKind } from '../../src/config/sites.js';
import { testConfig } from '../fixtures/harness.js';
import { StrataError } from '../../src/errors.js';
import { config, files, ORIGIN, rejection, repoFile } from '../fixtures/config-load.js';

test('Host table: exact beats wildcard, the longest wildcard wins, the default catches the rest', () => {
  const t = new HostTable([
    { hosts: ['shop.example', '*.shop.example'], default: false, site: 'shop' },
    { hosts: ['*.eu.shop.example'], default: false, site: 'eu' },
    { hosts: ['api.eu.shop.example'], default: false, site: 'api' },
  ]);
  const cases: [string, string | undefined][] = [
    ['shop.example', 'shop'],
    ['Shop.Example.', 'shop'],
    ['shop.example:8443', 'shop'],
    ['www.shop.example', 'shop'],
    ['x.eu.shop.example', 'eu'],
    ['api.eu.shop.example', 'api'],
    ['eu.shop.example', 'shop'],
    ['example', undefined],
    ['evilshop.example', undefined],
    ['', undefined],
  ];
  for (const [host, site] of cases) assert.equal(t.match(host), site, host);
  const withDefault = new HostTable([{ hosts: ['a.example'], default: false, site: 'a' }, { hosts: [], default: true, site: 'd' }]);
  assert.equal(withDefault.match('zzz'), 'd');
});

test('path prefixes: segment boundaries, longest first', () => {
  assert.equal(prefixCovers('/api', '/api'), true);
  assert.equal(prefixCovers('/api', '/api/x'), true);
  assert.equal(prefixCovers('/api', '/api?x=1'), false, 'a path has no query: a ? in it was %3F');
  assert.equal(prefixCovers('/api', '/apix'), false);
  // The bare path of a directory prefix is the directory to most origins (Express, an index page).
  assert.equal(prefixCovers('/api/', '/api'), true);
  assert.equal(prefixCovers('/api/', '/ap'), false);
  assert.equal(prefixCovers('/api/', '/apix'), false);
  assert.equal(prefixCovers('/', '/anything'), true);
  const sorted = byLongestPrefix([{ path: '/' }, { path: '/a/b/' }, { path: '/a' }]);
  assert.equal(routeFor(sorted, '/a/b/c')!.path, '/a/b/');
  assert.equal(routeFor(sorted, '/a/c')!.path, '/a');
  assert.equal(routeFor(sorted, '/z')!.path, '/');
  assert.equal(routeFor([{ path: '/a/' }], '/z'), undefined);
  // A bare path goes to its directory's route, unless a route names it (or something longer covers it).
  assert.equal(routeFor(byLongestPrefix([{ path: '/' }, { path: '/x/' }]), '/x')!.path, '/x/');
  assert.equal(routeFor(byLongestPrefix([{ path: '/' }, { path: '/x/' }, { path: '/x' }]), '/x')!.path, '/x');
  assert.equal(routeFor(byLongestPrefix([{ path: '/' }, { path: '/x/y/' }, { path: '/x' }]), '/x/y')!.path, '/x/y/');
  assert.equal(routeFor([{ path: '/x/' }], '/x')!.path, '/x/');
  // Requests are routed on their decoded path: %3F is part of a name, never a query boundary.
  assert.equal(routeFor(byLongestPrefix([{ path: '/' }, { path: '/api' }]), decodedPath('/api%3Fsecret'))!.path, '/');
  assert.equal(routeFor(sorted, decodedPath('/%61/b/c?q=1'))!.path, '/a/b/');
});

test('the key a route makes: query parameters ignored or sorted; members after "#"', () => {
  const o = { ...PLAIN_KEY, ignoreQuery: ['utm_source', 'fbclid'], sortQuery: true };
  assert.equal(keyedTarget('/p?b=2&utm_source=x&a=1&b=1', o), '/p?a=1&b=2&b=1', 'stable: repeated names keep their order');
  assert.equal(keyedTarget('/p?utm_source=x', o), '/p', 'an emptied query loses its "?"');
  assert.equal(keyedTarget('/p?b&a', o), '/p?a&b');
  assert.equal(keyedTarget('/p?x=1', { ...PLAIN_KEY, ignoreQuery: ['*'] }), '/p');
  assert.equal(keyedTarget('/p?b=1&a=2', PLAIN_KEY), '/p?b=1&a=2');
  // Origins that split on ";" read two parameters in `utm_source=x;callback=y`: it stays, and such a query keeps its order.
  assert.equal(keyedTarget('/p?utm_source=x;callback=y', o), '/p?utm_source=x;callback=y');
  assert.equal(keyedTarget('/p?utm_source=x%3bcallback=y&b=1', o), '/p?utm_source=x%3bcallback=y&b=1');
  assert.equal(keyedTarget('/p?utm_source=x&b=1;a=2&a=1', o), '/p?b=1;a=2&a=1');
  assert.equal(keySuffix(undefined, []), '');
  assert.equal(keySuffix('canary', [['h.x-device', 'a b'], ['c.lang', undefined]]), '#side=canary&h.x-device=a%20b&c.lang');
});

test('cookieValue reads one cookie; the first of a name wins. cookieValues gives each occurrence as sent', () => {
  assert.deepEqual(cookieValues('a=1; lang=fr; lang="de"', 'lang'), ['fr', '"de"']);
  assert.deepEqual(cookieValues('a=1', 'lang'), []);
  assert.equal(cookieValue('a=1; lang=fr; lang=de', 'lang'), 'fr');
  assert.equal(cookieValue('a=1;lang="en"', 'lang'), 'en');
  assert.equal(cookieValue('xlang=1', 'lang'), undefined);
  assert.equal(cookieValue(undefined, 'lang'), undefined);
});

test('a route TTL stands in for the heuristic only without explicit freshness', () => {
  const base = { method: 'GET', url: 'http://h/x', requestHeaders: {}, status: 200, requestTimeMs: 0, responseTimeMs: 0 };
  const opts = { targetedField: 'strata-cache-control', storeSetCookie: false, heuristicFraction: 0.1, heuristicMaxS: 86400 };
  const none = assessStorage({ ...base, responseHeaders: {} }, { ...opts, defaultTtlS: 42 });
  assert.ok(none.store && none.decision.freshnessLifetimeS === 42);
  const explicit = assessStorage({ ...base, responseHeaders: { 'cache-control': 'max-age=5' } }, { ...opts, defaultTtlS: 42 });
  assert.ok(explicit.store && explicit.decision.freshnessLifetimeS === 5);
  assert.deepEqual(assessStorage({ ...base, responseHeaders: {} }, opts), { store: false, reason: 'not-reusable' });
  const noCache = assessStorage({ ...base, responseHeaders: { 'cache-control': 'no-cache', etag: '"1"' } }, { ...opts, defaultTtlS: 42 });
  assert.ok(noCache.store && noCache.decision.freshnessLifetimeS === 0, 'no-cache keeps its meaning');
});

test('canary sides: hashed splits are sticky and monotone in the weight; 0 and 100 are exact', () => {
  const never = () => assert.fail('no draw for a hashed split');
  const users = Array.from({ length: 2000 }, (_, i) => `user-${i}`);
  const side = (u: string, percent: number) => chooseSide({ percent, by: 'header', name: 'x-user' }, { 'x-user': u }, '', never).side;
  for (const u of users) {
    const at5 = side(u, 5);
    assert.equal(side(u, 5), at5);
    if (at5 === 'canary') assert.equal(side(u, 20), 'canary', 'raising the weight never moves a canary user back');
    assert.equal(side(u, 0), 'primary');
    assert.equal(side(u, 100), 'canary');
  }
  const share = users.filter((u) => side(u, 20) === 'canary').length / users.length;
  assert.ok(share > 0.16 && share < 0.24, `share ${share}`);
  assert.ok(bucketOf('x') >= 0 && bucketOf('x') < 10_000);
  const draws = [0.04, 0.06];
  assert.equal(chooseSide({ percent: 5, by: 'random', name: '' }, {}, '', () => draws[0]!).side, 'canary');
  assert.equal(chooseSide({ percent: 5, by: 'random', name: '' }, {}, '', () => draws[1]!).side, 'primary');
  const fresh = chooseSide({ percent: 50, by: 'cookie', name: 'sc' }, {}, '', () => 0.5);
  assert.match(fresh.setCookie!, /^sc=[0-9a-f]{32}; Path=\//);
  assert.equal(chooseSide({ percent: 50, by: 'cookie', name: 'sc' }, { cookie: 'sc=abc' }, '', never).setCookie, undefined);
});

test('A/B by client address: an IPv6 client is its /64, as the rate limit counts it (privacy addresses rotate within it)', () => {
  const config = testConfig('http://127.0.0.1:1', '/nonexistent');
  config.sites = sitesKind().parse({ s: { hosts: ['s.example'], routes: { all: { path: '/', upstream: 'http://127.0.0.1:2', canary: { upstream: 'http://127.0.0.1:3', percent: 50, by: 'client' } } } } }) as typeof config.sites;
  const pool = () => ({ hasOpen: () => true }) as never;
  const router = new Router(config, { makePool: pool, drains: new DrainSet() });
  const sideOf = (remoteAddress: string) => {
    const r = router.resolve('s.example', '/', {}, { remoteAddress });
    return r.kind === 'routed' ? r.to.side : r.kind;
  };
  const sidesSeen = new Set(Array.from({ length: 32 }, (_, i) => sideOf(`2001:db8:7:9:${((i * 7919) % 0x10000).toString(16)}:1:2:${i.toString(16)}`)));
  assert.equal(sidesSeen.size, 1, 'every address of one /64 on one side');
  assert.equal(sideOf('::ffff:10.1.2.3'), sideOf('10.1.2.3'), 'an IPv4-mapped address is its IPv4 address');
});

test('weights body: canary alone, or shares of both', () => {
  assert.equal(canaryPercentOf({ canary: 5 }), 5);
  assert.equal(canaryPercentOf({ primary: 3, canary: 1 }), 25);
  for (const bad of [{}, { canary: -1 }, { canary: '5' }, { canary: 5, other: 1 }, { primary: 0, canary: 0 }]) assert.ok(canaryPercentOf(bad) instanceof StrataError, JSON.stringify(bad));
});

test('drain set: serving → draining while requests are in flight → drained; unknown upstreams are not listed', () => {
  const d = new DrainSet();
  const u = upstreamName('http://10.0.0.1:9000/')!;
  assert.equal(u, 'http://10.0.0.1:9000');
  assert.equal(upstreamName('ftp://x'), undefined);
  const loads = [{ name: u, inFlight: 2 }, { name: u, inFlight: 1 }, { name: 'http://other', inFlight: 5 }];
  assert.deepEqual(d.status(u, loads), { upstream: u, state: 'serving', inFlight: 3, pools: 2 });
  d.drain(u);
  assert.equal(d.isDrained(u), true);
  assert.equal(d.status(u, loads)!.state, 'draining');
  assert.equal(d.status(u, [{ name: u, inFlight: 0 }])!.state, 'drained');
  d.undrain(u);
  assert.equal(d.isDrained(u), false);
  assert.equal(d.status('http://nowhere', loads), undefined);
});

const SITES_YAML = `
sites:
  shop:
    hosts: [shop.example, "*.shop.example"]
    routes:
      api:
        path: /api/
        upstream: { upstreams: [http://10.0.0.5:9000], balancer: least-connections, healthCheck: { path: /healthz, intervalMs: 2s } }
        canary: { upstream: http://10.0.0.6:9000, percent: 5, by: cookie, name: strata-canary }
        cache: { ignoreQuery: [utm_source], sortQuery: true, keyHeaders: X-Device, keyCookies: [lang], defaultTtlS: 60, bypass: false }
        guard: { rateLimit: { requestsPerS: 5, burst: 10 }, filters: [{ name: ro, action: deny, methods: [PUT] }] }
      all:
        path: /
`;

test('sites from YAML, JSON in a flag or env, and a sites file all load the same value', () => {
  const fromYaml = config({ argv: ['--origin', ORIGIN, '--config', 's.yaml'], readFile: files({ 's.yaml': SITES_YAML }) });
  const shop = fromYaml.sites[0]!;
  assert.equal(shop.name, 'shop');
  assert.deepEqual(shop.hosts, ['shop.example', '*.shop.example']);
  const api = shop.routes[0]!;
  assert.equal(api.path, '/api/');
  assert.deepEqual(api.upstream, { upstreams: [{ url: 'http://10.0.0.5:9000', weight: 1, maxConnections: 0 }], balancer: 'least-connections', healthCheck: { path: '/healthz', intervalMs: 2000 } });
  assert.deepEqual({ ...api.canary, upstream: undefined }, { upstream: undefined, percent: 5, by: 'cookie', name: 'strata-canary', keyApart: true });
  assert.deepEqual(api.cache, { bypass: false, ignoreQuery: ['utm_source'], sortQuery: true, keyHeaders: ['x-device'], keyCookies: ['lang'], defaultTtlS: 60 });
  assert.equal(api.guard!.rateLimit!.requestsPerS, 5);
  assert.equal(api.guard!.rateLimit!.burst, 10);
  assert.equal(api.guard!.filters!.length, 1);
  const json = JSON.stringify({ shop: { hosts: ['shop.example', '*.shop.example'], routes: { api: { path: '/api/', upstream: { upstreams: ['http://10.0.0.5:9000'], balancer: 'least-connections', healthCheck: { path: '/healthz', intervalMs: '2s' } }, canary: { upstream: 'http://10.0.0.6:9000', percent: 5, by: 'cookie', name: 'strata-canary' }, cache: { ignoreQuery: ['utm_source'], sortQuery: true, keyHeaders: 'X-Device', keyCookies: ['lang'], defaultTtlS: 60 }, guard: { rateLimit: { requestsPerS: 5, burst: 10 }, filters: [{ name: 'ro', action: 'deny', methods: ['PUT'] }] } }, all: { path: '/' } } } });
  assert.deepEqual(config({ argv: ['--origin', ORIGIN, `--sites=${json}`] }).sites, fromYaml.sites);
  assert.deepEqual(config({ argv: ['--origin', ORIGIN], env: { STRATA_SITES: json } }).sites, fromYaml.sites);
  const file = SITES_YAML.replace('sites:\n', '').replace(/^ {2}/gm, '');
  assert.deepEqual(config({ argv: ['--origin', ORIGIN, '--sites-file', 'sites.yaml'], readFile: files({ 'sites.yaml': file }) }).sites, fromYaml.sites);
});

test('sites: each mistake is one line naming the key path, the value and what was expected', () => {
  const bad = (yaml: string) => rejection({ argv: ['--origin', ORIGIN, '--config', 'c.yaml'], readFile: files({ 'c.yaml': yaml }) });
  assert.equal(bad('sites:\n  shop:\n    hosts: [shop.example]\n    routes:\n      api:\n        canary: { upstream: http://x:1, percent: 120 }\n'),
    'config file c.yaml: sites.shop.routes.api.canary.percent: 120 is not a percentage (expected a number from 0 to 100, e.g. 5)');
  assert.equal(bad('sites:\n  shop:\n    hosts: [shop.example, "bad host"]\n    routes: { all: { path: / } }\n'),
    'config file c.yaml: sites.shop.hosts[1]: "bad host" is not a host (expected a DNS name or a wildcard, e.g. shop.example.com or *.example.com)');
  assert.equal(bad('sites:\n  shop:\n    hosts: [a.example]\n    routes:\n      all: { path: /, upstream: { upstreams: [ftp://x] } }\n'),
    'config file c.yaml: sites.shop.routes.all.upstream.upstreams[0]: "ftp://x" is not an origin URL (expected an http:// or https:// URL with a host, e.g. http://127.0.0.1:9000)');
  assert.match(bad('sites:\n  shop:\n    hosts: [a.example]\n    routes:\n      all: { path: /, cache: { ttl: 5 } }\n'), /^config file c\.yaml: sites\.shop\.routes\.all\.cache: unknown key "ttl" \(expected bypass, ignoreQuery, .*\)$/);
  assert.match(bad('sites:\n  a: { hosts: [x.example], routes: { all: {} } }\n  b: { hosts: [x.example], routes: { all: {} } }\n'), /sites\.b\.hosts\[0\]: "x\.example" is also a host of site a \(expected each host in one site\)/);
  assert.match(bad('sites:\n  a: { hosts: [x.example], routes: { r1: { path: /a }, r2: { path: /a } } }\n'), /sites\.a\.routes\.r2\.path: path "\/a" is also route r1's/);
  // Case counts by default (as in nginx): /A and /a are two prefixes; under caseInsensitivePaths they are one, and the message says why.
  assert.equal(config({ argv: ['--origin', ORIGIN, '--sites', '{"a": {"hosts": ["x.example"], "routes": {"r1": {"path": "/a"}, "r2": {"path": "/A"}}}}'] }).sites[0]!.routes.length, 2);
  assert.match(bad('sites:\n  a: { hosts: [x.example], caseInsensitivePaths: true, routes: { r1: { path: /a }, r2: { path: /A } } }\n'), /sites\.a\.routes\.r2\.path: path "\/A" is also route r1's once decoded and lower-cased \(the site sets caseInsensitivePaths\)/);
  assert.match(bad('sites:\n  a: { hosts: [x.example], caseInsensitivePaths: maybe, routes: { r: {} } }\n'), /sites\.a\.caseInsensitivePaths: /);
  assert.match(bad('sites:\n  a: { hosts: [x.example], routes: { r: { canary: { upstream: http://x:1, by: cookie } } } }\n'), /sites\.a\.routes\.r\.canary: missing name \(expected the cookie/);
  assert.match(rejection({ argv: ['--origin', ORIGIN, '--sites', '{nope'] }), /^--sites: is not valid YAML or JSON/);
  assert.match(rejection({ argv: ['--sites', '{"a": {"hosts": ["x.example"], "routes": {"r": {}}}}'] }), /^origin\.url: missing for sites\.a\.routes\.r, which names no upstream of its own/);
  assert.match(rejection({ argv: ['--origin', ORIGIN, '--sites', '{"a": {"hosts": ["x.example"], "routes": {"r": {}}}}', '--sites-file', 's.yaml'], readFile: files({ 's.yaml': '' }) }), /^sitesFile: "s\.yaml" is set together with sites/);
  // Every route with its own pool: origin.url is not needed.
  assert.equal(config({ argv: ['--sites', '{"a": {"hosts": ["x.example"], "routes": {"r": {"upstream": "http://10.0.0.1:1"}}}}'] }).sites.length, 1);
});

test('config/multi-site.yaml loads', () => {
  const c = config({ argv: ['--config', 'multi-site.yaml'], readFile: files({ 'multi-site.yaml': repoFile('config/multi-site.yaml') }) });
  assert.deepEqual(c.sites.map((s) => s.name), ['shop', 'blog']);
  const api = c.sites[0]!.routes.find((r) => r.name === 'api')!;
  assert.equal(api.canary!.percent, 5);
  assert.equal(api.upstream!.balancer, 'least-connections');
  assert.equal(c.sites[1]!.default, true);
  assert.deepEqual(c.sites.map((s) => s.caseInsensitivePaths), [true, false], 'off unless a site turns it on (shop does: its origin routes ignoring case)');
});

test('router successor (reload): unchanged pools carried over, changed ones replaced, live weights kept unless the file changed them', async () => {
  const { Router } = await import('../../src/routing/router.js');
  const made: { label: string; started: number; closed: boolean }[] = [];
  const makePool = (cfg: { upstreams: { url: string }[] }, label: string) => {
    const rec = { label, started: 0, closed: false };
    made.push(rec);
    return {
      host: new URL(cfg.upstreams[0]!.url).host,
      name: cfg.upstreams.map((u) => u.url).join(', '),
      request: () => Promise.reject(new Error('not in this test')),
      close: async () => void (rec.closed = true),
      stats: () => ({}),
      start: () => void rec.started++,
      figures: () => [],
      anyAvailable: () => true,
      hasOpen: () => true,
      counts: { retries: 0, retriesRefused: 0, allDownRequests: 0 },
    };
  };
  const sites = (canaryUrl: string, percent: number) =>
    `{"shop": {"hosts": ["shop.example"], "routes": {"api": {"path": "/api/", "upstream": "http://10.0.0.1:1", "canary": {"upstream": "${canaryUrl}", "percent": ${percent}}}, "all": {"path": "/"}}}}`;
  const c1 = config({ argv: ['--origin', ORIGIN, '--sites', sites('http://10.0.0.2:1', 5)] });
  const r1 = new Router(c1, { makePool, drains: new DrainSet() });
  r1.start();
  assert.deepEqual(made.map((m) => m.label), ['shop/api', 'shop/api#canary', 'origin']);
  assert.equal(typeof r1.setCanaryPercent('shop', 'api', 30), 'object', 'the live change is taken');
  assert.equal(r1.setCanaryPercent('shop', 'all', 30), 'route shop/all has no canary');

  // The canary's upstream changes; the file's percent does not: the live 30 stays.
  const r2 = r1.successor(config({ argv: ['--origin', ORIGIN, '--sites', sites('http://10.0.0.3:1', 5)] }));
  r2.start();
  assert.deepEqual(made.map((m) => m.label), ['shop/api', 'shop/api#canary', 'origin', 'shop/api#canary']);
  assert.deepEqual(r2.retired().length, 1);
  assert.deepEqual(made.map((m) => m.started), [1, 1, 1, 1], 'carried-over pools are not started twice');
  assert.equal(r2.route('shop', 'api')!.split!.percent, 30);
  assert.equal(r2.route('shop', 'api')!.canary!.pool.name, 'http://10.0.0.3:1');
  assert.equal(r2.route('shop', 'api')!.primary.pool, r1.route('shop', 'api')!.primary.pool);

  // A new percent in the file wins.
  const r3 = r2.successor(config({ argv: ['--origin', ORIGIN, '--sites', sites('http://10.0.0.3:1', 10)] }));
  assert.equal(r3.route('shop', 'api')!.split!.percent, 10);
  assert.equal(r3.retired().length, 0);
});

test('check-config output of sites loads back to the same value', async () => {
  const { effectiveYaml } = await import('../../src/config/render.js');
  const c = config({ argv: ['--origin', ORIGIN, '--config', 's.yaml'], readFile: files({ 's.yaml': SITES_YAML }) });
  const again = config({ argv: ['--config', 'e.yaml'], readFile: files({ 'e.yaml': effectiveYaml(c) }) });
  assert.deepEqual(again.sites, c.sites);
});

test('cookieOccurrences: every pair some origin reads as the name, with its spelling when it is not the name itself', () => {
  assert.deepEqual(cookieOccurrences(' lang=fr; lang =de; lang.x=1; xlang=2', 'lang'), [{ value: 'fr' }, { value: 'de', spelling: 'lang ' }]);
  assert.deepEqual(cookieOccurrences('currency.code=EUR;currency code=GBP;currency[code=CHF;currency_code=USD', 'currency_code'), [
    { value: 'EUR', spelling: 'currency.code' },
    { value: 'GBP', spelling: 'currency code' },
    { value: 'CHF', spelling: 'currency[code' },
    { value: 'USD' },
  ]);
  assert.deepEqual(cookieOccurrences(undefined, 'lang'), []);
  assert.equal(phpCookieName('a.b c'), 'a_b_c');
  assert.equal(phpCookieName('a.b[c.d]'), 'a_b');
  assert.equal(phpCookieName('a.b[c.d'), 'a_b_c.d');
});

test('cookieOccurrences: a percent-encoded name is the cookie PHP and Rack decode it to (the key and the JWT guard read alike)', () => {
  assert.deepEqual(cookieOccurrences('%6cang=fr; lang=de', 'lang'), [{ value: 'fr', spelling: '%6cang' }, { value: 'de' }]);
  assert.deepEqual(cookieOccurrences('access%2Etoken=t', 'access_token'), [{ value: 't', spelling: 'access%2Etoken' }]);
  // A malformed escape stays as sent: no cookie of that name.
  assert.deepEqual(cookieOccurrences('%E0lang=x', 'lang'), []);
});
