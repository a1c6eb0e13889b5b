// A route's `guard`: parsed with the edge group's kinds (one-line errors naming
// the key path), combined with the node-wide `edge` rules kind by kind, and
// built by GuardSet into one Guard per route with rules, sharing inherited
// stages with the node's and keeping unchanged stages across a reload.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { effectiveRules, parseRouteGuard } from '../../src/config/route-guard.js';
import { sitesKind } from '../../src/config/sites.js';
import type { Config } from '../../src/config/types.js';
import { defaultConfig } from '../../src/config/defaults.js';
import { GuardSet } from '../../src/routing/guard/guard-set.js';
import { GuardConfigError } from '../../src/routing/guard/config-error.js';
import { FakeClock } from '../../src/util/clock.js';
import { config, files, ORIGIN, rejection } from '../fixtures/config-load.js';

const yaml = (guard: string) =>
  files({
    's.yaml': `origin:\n  url: ${ORIGIN}\nsites:\n  shop:\n    hosts: [shop.example]\n    routes:\n      api:\n        path: /api/\n        guard:\n${guard
      .split('\n')
      .map((l) => `          ${l}`)
      .join('\n')}\n`,
  });

test('a route guard is read from YAML with the edge kinds; named groups are whole, with their defaults', () => {
  const c = config({ argv: ['--config', 's.yaml'], readFile: yaml('rateLimit: { requestsPerS: 5 }\nforwardAuth: { url: "http://127.0.0.1:9091/verify" }\nfilters:\n  - { name: ro, action: deny, methods: [PUT] }\njwt: off') });
  const g = c.sites[0]!.routes[0]!.guard!;
  assert.equal(g.rateLimit!.requestsPerS, 5);
  assert.equal(g.rateLimit!.burst, 50, "the group's default, not the edge's value");
  assert.equal(g.forwardAuth!.url, 'http://127.0.0.1:9091/verify');
  assert.deepEqual(g.forwardAuth!.requestFields, ['authorization', 'cookie']);
  assert.equal(g.filters!.length, 1);
  assert.equal(g.jwt!.jwksUrl, '', 'off: the group at its defaults');
  assert.equal(g.publicAfterAuth, undefined, 'a kind not named is inherited');
});

test('an invalid route guard is refused with one line naming the key path', () => {
  const cases: [string, RegExp][] = [
    ['rateLimit: { requestsPerS: -1 }', /^config file s\.yaml: sites\.shop\.routes\.api\.guard\.rateLimit\.requestsPerS: /],
    ['forwardAuth: { url: "not a url" }', /^config file s\.yaml: sites\.shop\.routes\.api\.guard\.forwardAuth\.url: /],
    ['filters: [{ name: x, action: maybe }]', /^config file s\.yaml: sites\.shop\.routes\.api\.guard\.filters/],
    ['rateLimits: { requestsPerS: 1 }', /sites\.shop\.routes\.api\.guard\.rateLimits: unknown key "rateLimits" \(expected filters, rateLimit/],
    ['jwt: { issuer: a, colour: red }', /sites\.shop\.routes\.api\.guard\.jwt: unknown key "colour"/],
    ['publicAfterAuth: perhaps', /sites\.shop\.routes\.api\.guard\.publicAfterAuth: /],
  ];
  for (const [guard, expected] of cases) assert.match(rejection({ argv: ['--config', 's.yaml'], readFile: yaml(guard) }), expected, guard);
  assert.match(rejection({ argv: ['--origin', ORIGIN, '--sites', '{ shop: { hosts: [s.example], routes: { a: { guard: [1] } } } }'] }), /^--sites\.shop\.routes\.a\.guard: a list is not a mapping/);
});

test("route kinds replace the edge's of the same kind; the rest is inherited", () => {
  const edge = { ...defaultConfig('n').edge, publicAfterAuth: true, hideResponseFields: ['server'] };
  const own = parseRouteGuard({ rateLimit: { requestsPerS: 2 }, hideResponseFields: [] });
  const r = effectiveRules(edge, own);
  assert.equal(r.rateLimit.requestsPerS, 2);
  assert.deepEqual(r.hideResponseFields, []);
  assert.equal(r.publicAfterAuth, true);
  assert.equal(effectiveRules(edge, undefined), edge);
});

function withSites(sites: unknown, edge: Partial<Config['edge']> = {}): Config {
  const c = defaultConfig('n');
  return { ...c, edge: { ...c.edge, ...edge }, sites: sitesKind().parse(sites) };
}

const deps = { clock: new FakeClock(0), readFile: () => '' };

test('GuardSet: one Guard per route with rules; inherited stages are the node-wide ones; a reload keeps unchanged stages', () => {
  const nodeRate = { rateLimit: { ...defaultConfig('n').edge.rateLimit, requestsPerS: 1, burst: 1 } };
  const sites = (adminRate: number) => ({
    shop: {
      hosts: ['shop.example'],
      routes: {
        all: { path: '/' },
        admin: { path: '/admin/', guard: { filters: [{ name: 'x', action: 'deny', paths: ['/admin/x'] }] } },
        search: { path: '/search', guard: { rateLimit: { requestsPerS: adminRate, burst: 1 } } },
      },
    },
  });
  const set = new GuardSet(withSites(sites(1), nodeRate), deps);
  const req = (target: string) => ({ method: 'GET', target, host: 'shop.example', scheme: 'http', headers: {}, clientAddress: '192.0.2.1' });
  const route = (name: string) => ({ site: 'shop', name });
  assert.equal(set.forRoute(route('all')), set.node, 'a route without rules uses the node-wide guard');
  assert.notEqual(set.forRoute(route('admin')), set.node);
  // The admin route inherits the node-wide rate limit: the same bucket as the node's.
  assert.equal((set.node.check(req('/')) as { pass: boolean }).pass, true);
  assert.equal((set.forRoute(route('admin')).check(req('/admin/y')) as { pass: boolean }).pass, false, 'the shared bucket is empty');
  // The search route's own limit is its own bucket.
  assert.equal((set.forRoute(route('search')).check(req('/search')) as { pass: boolean }).pass, true);
  assert.equal(set.figures().rateBuckets, 2);

  const next = set.successor(withSites(sites(9), nodeRate), deps);
  assert.equal((next.node.check(req('/')) as { pass: boolean }).pass, false, 'the node-wide bucket survived the reload');
  assert.equal((next.forRoute(route('search')).check(req('/search')) as { pass: boolean }).pass, true, 'the changed route starts afresh');
});

test('GuardSet: a rule a route guard cannot be built from names the route key', () => {
  const c = withSites({ shop: { hosts: ['s.example'], routes: { api: { path: '/', guard: { forwardAuth: { url: 'http://127.0.0.1:1/v', identityFields: ['host'] } } } } } });
  assert.throws(() => new GuardSet(c, deps), (err: unknown) => err instanceof GuardConfigError && /^sites\.shop\.routes\.api\.guard\.forwardAuth\.identityFields: "host" cannot be set/.test(err.message));
});

test('GuardSet: a JWT stage is kept while its key files read the same, and rebuilt when their contents changed', async () => {
  const a = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const b = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = (k: typeof a) => k.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const files = new Map([['/keys/jwt.pem', pem(a)]]);
  const keyDeps = { clock: new FakeClock(Date.now()), readFile: (path: string) => files.get(path) ?? '' };
  const c = withSites({ shop: { hosts: ['s.example'], routes: { all: { path: '/' }, api: { path: '/api/', guard: { filters: [{ name: 'x', action: 'deny', paths: ['/api/x'] }] } } } } }, {
    jwt: { ...defaultConfig('n').edge.jwt, keyFiles: ['/keys/jwt.pem'] },
  });
  const token = await new SignJWT({ sub: 'u' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('1h').sign(a.privateKey);
  const passes = async (set: GuardSet) => (await set.node.check({ method: 'GET', target: '/', host: 's.example', scheme: 'http', headers: { authorization: `Bearer ${token}` }, clientAddress: '192.0.2.1' })).pass;
  const set = new GuardSet(c, keyDeps);
  assert.equal(await passes(set), true);
  assert.equal(set.figures().rememberedTokens, 1);
  const same = set.successor(structuredClone(c), keyDeps);
  assert.equal(same.figures().rememberedTokens, 1, 'same contents: the stage (and its remembered tokens) kept');
  files.set('/keys/jwt.pem', pem(b));
  const rotated = same.successor(structuredClone(c), keyDeps);
  assert.equal(rotated.figures().rememberedTokens, 0, 'new contents: a new stage');
  assert.equal(await passes(rotated), false, 'the withdrawn key no longer verifies');
  const api = await rotated.forRoute({ site: 'shop', name: 'api' }).check({ method: 'GET', target: '/api/', host: 's.example', scheme: 'http', headers: { authorization: `Bearer ${token}` }, clientAddress: '192.0.2.1' });
  assert.equal(api.pass, false, 'nor on a route inheriting the stage');
});
