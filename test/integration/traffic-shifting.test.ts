// Traffic shifting over real sockets: a weighted canary (ratio within bounds
// over N requests), stickiness by cookie (Strata's own id) and by header, cache
// keys kept apart between the sides (or shared when the route says the answers
// are the same), A/B split by client address, and weights changed live through
// the authenticated admin API.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchReply } from '../fixtures/harness.js';
import { named, startSites, type SitesHarness } from '../fixtures/sites.js';
import { bucketOf } from '../../src/routing/shifting.js';

const TOKEN = 'sekret';
const HOST = { host: 'shop.example' };

function canarySite(canary: Record<string, unknown>, cache: Record<string, unknown> = {}) {
  return (u: Record<string, string>) => ({
    shop: { hosts: ['shop.example'], routes: { all: { path: '/', upstream: u['stable'], canary: { upstream: u['next'], ...canary }, cache } } },
  });
}

async function sides(h: SitesHarness, n: number, headers: (i: number) => Record<string, string> = () => ({}), path = (i: number) => `/p${i}`): Promise<{ stable: number; next: number }> {
  const out = { stable: 0, next: 0 };
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, j) => h.get(path(i + j), { ...HOST, ...headers(i + j) })));
    for (const r of batch) {
      assert.equal(r.status, 200);
      out[r.text.split(' ')[0] as 'stable' | 'next']++;
    }
  }
  return out;
}

function setWeights(h: SitesHarness, body: unknown, token = TOKEN) {
  return fetchReply(h.admin + '/routes/shop/all/weights', { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, 'POST', JSON.stringify(body));
}

test('a 95/5 canary sends about 5% of 1000 requests to the canary pool', async () => {
  const h = await startSites({ stable: named('stable', 'no-store'), next: named('next', 'no-store') }, canarySite({ percent: 5 }));
  try {
    const n = 1000;
    const s = await sides(h, n);
    assert.equal(s.stable + s.next, n);
    // Binomial(1000, 0.05): mean 50, sd 6.9; these bounds are more than 4 sd away.
    assert.ok(s.next >= 20 && s.next <= 85, `canary got ${s.next} of ${n}`);
    assert.equal(h.pools['next']!.count(), s.next);
  } finally {
    await h.close();
  }
});

test('sticky by cookie: a client without one gets an id and stays on its side; users split by the weight', async () => {
  const h = await startSites({ stable: named('stable', 'no-store'), next: named('next', 'no-store') }, canarySite({ percent: 50, by: 'cookie', name: 'strata-canary' }));
  try {
    const first = await h.get('/', HOST);
    const cookie = first.headers['set-cookie'];
    assert.ok(cookie, 'a new user gets the sticky cookie');
    assert.match(cookie!, /^strata-canary=[0-9a-f]{32}; Path=\/; Max-Age=2592000; HttpOnly; SameSite=Lax$/);
    const side = first.text.split(' ')[0];
    const again = await sides(h, 40, () => ({ cookie: cookie!.split(';')[0]! }));
    assert.equal(side === 'stable' ? again.stable : again.next, 40, 'every request of that user on one side');
    const r = await h.get('/', { ...HOST, cookie: cookie!.split(';')[0]! });
    assert.equal(r.headers['set-cookie'], undefined, 'a user with the cookie is not given another');
    // 400 users, 50%: each side gets a fair share.
    const users = await sides(h, 400, (i) => ({ cookie: `other=1; strata-canary=user-${i}` }));
    assert.ok(users.next > 140 && users.next < 260, `canary got ${users.next} of 400 users`);
  } finally {
    await h.close();
  }
});

test('sticky by header; a raised weight moves only stable users, a rollback to 0 moves everyone back', async () => {
  const h = await startSites({ stable: named('stable', 'no-store'), next: named('next', 'no-store') }, canarySite({ percent: 10, by: 'header', name: 'X-User-Id' }), {
    overrides: { admin: { token: TOKEN } },
  });
  try {
    const sideOf = async (user: string) => (await h.get('/', { ...HOST, 'x-user-id': user })).text.split(' ')[0];
    const before = new Map<string, string>();
    for (let i = 0; i < 200; i++) before.set(`u${i}`, (await sideOf(`u${i}`))!);
    for (let i = 0; i < 20; i++) assert.equal(await sideOf(`u${i}`), before.get(`u${i}`), 'the same header value, the same side');
    const r = await setWeights(h, { primary: 50, canary: 50 });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text), { site: 'shop', route: 'all', primary: 50, canary: 50 });
    let moved = 0;
    for (const [user, was] of before) {
      const now = await sideOf(user);
      if (was === 'next') assert.equal(now, 'next', `${user} was on the canary and stays there`);
      else if (now === 'next') moved++;
    }
    assert.ok(moved > 40, `only ${moved} users moved to the canary at 50%`);
    assert.equal((await setWeights(h, { canary: 0 })).status, 200);
    for (const user of before.keys()) assert.equal(await sideOf(user), 'stable', 'rollback: everyone on stable');
  } finally {
    await h.close();
  }
});

test('weights through the admin API: token required, shape checked, the change applies at once', async () => {
  const h = await startSites({ stable: named('stable', 'no-store'), next: named('next', 'no-store') }, canarySite({ percent: 0 }), { overrides: { admin: { token: TOKEN } } });
  try {
    assert.deepEqual(await sides(h, 50), { stable: 50, next: 0 });
    const refused = await setWeights(h, { canary: 100 }, 'wrong');
    assert.equal(refused.status, 401);
    const bad = await setWeights(h, { canary: 120 });
    assert.equal(bad.status, 400);
    const err = JSON.parse(bad.text) as { error: string; message: string };
    assert.equal(err.error, 'ROUTES_BAD_REQUEST');
    assert.equal(err.message, 'field "canary" must be a number from 0 to 100, not 120');
    const missing = await fetchReply(h.admin + '/routes/shop/nope/weights', { authorization: `Bearer ${TOKEN}` }, 'POST', '{"canary": 5}');
    assert.equal(missing.status, 404);
    // A malformed escape in the path: refused without a token, 400 with one — the node keeps running.
    const anonymous = await fetchReply(h.admin + '/routes/%zz/all/weights', {}, 'POST', '{"canary": 5}');
    assert.equal(anonymous.status, 401);
    const malformed = await fetchReply(h.admin + '/routes/%zz/all/weights', { authorization: `Bearer ${TOKEN}` }, 'POST', '{"canary": 5}');
    assert.equal(malformed.status, 400);
    assert.match(malformed.text, /malformed percent-escape/);
    assert.equal((await fetchReply(h.admin + '/healthz')).status, 200);
    assert.deepEqual(await sides(h, 50), { stable: 50, next: 0 }, 'refused changes changed nothing');
    assert.equal((await setWeights(h, { canary: 100 })).status, 200);
    assert.deepEqual(await sides(h, 50), { stable: 0, next: 50 });
    const listed = JSON.parse((await fetchReply(h.admin + '/routes')).text) as { sites: { shop: { routes: { all: { canary: { percent: number } } } } } };
    assert.equal(listed.sites.shop.routes.all.canary.percent, 100);
  } finally {
    await h.close();
  }
});

test('cache keys keep the sides apart (keyApart), or share one entry when the route says the answers are the same', async () => {
  for (const keyApart of [true, false]) {
    const h = await startSites({ stable: named('stable', 'max-age=300'), next: named('next', 'max-age=300') }, canarySite({ percent: 50, by: 'header', name: 'x-user-id', keyApart }));
    try {
      // Two users, one on each side (buckets are fixed: find one of each).
      const users: Record<string, string> = {};
      for (let i = 0; Object.keys(users).length < 2; i++) {
        const r = await h.get(`/probe${i}`, { ...HOST, 'x-user-id': `u${i}` });
        users[r.text.split(' ')[0]!] ??= `u${i}`;
      }
      const stored = h.node.stats.counters.stored;
      const a = await h.get('/page', { ...HOST, 'x-user-id': users['stable']! });
      assert.equal(a.text, 'stable /page');
      await h.stored(stored + 1);
      const b = await h.get('/page', { ...HOST, 'x-user-id': users['next']! });
      if (keyApart) {
        assert.equal(b.text, 'next /page', 'the canary side has its own entry');
        assert.match(b.headers['cache-status']!, /fwd=uri-miss/);
        await h.stored(stored + 2);
        assert.equal((await h.get('/page', { ...HOST, 'x-user-id': users['next']! })).text, 'next /page');
        assert.equal((await h.get('/page', { ...HOST, 'x-user-id': users['stable']! })).text, 'stable /page');
      } else {
        assert.equal(b.text, 'stable /page', 'keyApart false: one entry for both sides');
        assert.match(b.headers['cache-status']!, /^test-node; hit/);
      }
    } finally {
      await h.close();
    }
  }
});

test('A/B by client address: one client always lands on the same side', async () => {
  const h = await startSites({ stable: named('stable', 'no-store'), next: named('next', 'no-store') }, canarySite({ percent: 50, by: 'client' }));
  try {
    const s = await sides(h, 60);
    assert.ok(s.stable === 60 || s.next === 60, `127.0.0.1 was split: ${JSON.stringify(s)}`);
  } finally {
    await h.close();
  }
});

test('A/B by client address: an IPv4 client is one client whether the node listens on IPv4 or dual-stack (::ffff:127.0.0.1)', async () => {
  // At 50 %, 127.0.0.1's bucket (7407) is the primary's and its IPv4-mapped spelling's (4363) the
  // canary's: two nodes of one cluster listening differently put the same user on both sides.
  const want = bucketOf('127.0.0.1') < 5000 ? 'next' : 'stable';
  assert.notEqual(bucketOf('::ffff:127.0.0.1') < 5000 ? 'next' : 'stable', want, 'the spellings fall on different sides');
  for (const host of ['127.0.0.1', '::']) {
    const h = await startSites({ stable: named('stable', 'no-store'), next: named('next', 'no-store') }, canarySite({ percent: 50, by: 'client' }), { overrides: { listen: { host } } });
    try {
      const s = await sides(h, 10);
      assert.equal(s[want], 10, `listening on ${host}: ${JSON.stringify(s)}`);
    } finally {
      await h.close();
    }
  }
});

test('drain: a drained canary side hands its requests to the primary; a pool with every upstream drained answers 503; undrain restores', async () => {
  const h = await startSites({ stable: named('stable', 'no-store'), next: named('next', 'no-store') }, canarySite({ percent: 100 }), { overrides: { admin: { token: TOKEN } } });
  const call = (path: string, upstream: string, token = TOKEN) =>
    fetchReply(h.admin + path, { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, 'POST', JSON.stringify({ upstream }));
  try {
    assert.deepEqual(await sides(h, 10), { stable: 0, next: 10 });
    assert.equal((await call('/upstreams/drain', h.pools['next']!.url, 'wrong')).status, 401);
    assert.equal((await call('/upstreams/drain', 'http://127.0.0.1:1')).status, 404, 'an upstream no pool lists');
    const d = await call('/upstreams/drain', h.pools['next']!.url + '/');
    assert.equal(d.status, 200);
    assert.deepEqual(JSON.parse(d.text), { upstream: h.pools['next']!.url, state: 'drained', inFlight: 0, pools: 1 });
    assert.deepEqual(await sides(h, 10), { stable: 10, next: 0 }, 'the canary side is drained: the primary answers');
    await call('/upstreams/drain', h.pools['stable']!.url);
    const r = await h.get('/x', HOST);
    assert.equal(r.status, 503);
    assert.match(r.text, /UPSTREAMS_DRAINED/);
    const listed = JSON.parse((await fetchReply(h.admin + '/routes')).text) as { drained: string[] };
    assert.deepEqual(listed.drained.sort(), [h.pools['next']!.url, h.pools['stable']!.url].sort());
    const u = await call('/upstreams/undrain', h.pools['next']!.url);
    assert.equal((JSON.parse(u.text) as { state: string }).state, 'serving');
    assert.deepEqual(await sides(h, 10), { stable: 0, next: 10 });
  } finally {
    await h.close();
  }
});

test('the sticky cookie goes beside the origin\'s own Set-Cookie, and never into the stored entry', async () => {
  const withCookie: Parameters<typeof startSites>[0][string] = (req, res) => {
    const body = `next ${req.url}`;
    res.writeHead(200, { 'content-length': body.length, 'set-cookie': 'app=1; Path=/', 'cache-control': 'no-store' });
    res.end(body);
  };
  const h = await startSites({ stable: withCookie, next: withCookie }, (u) => ({
    shop: {
      hosts: ['shop.example'],
      routes: {
        all: { path: '/', upstream: u['stable'], canary: { upstream: u['next'], percent: 50, by: 'cookie', name: 'sc' } },
        cached: { path: '/c/', upstream: u['stable'], canary: { upstream: u['next'], percent: 50, by: 'cookie', name: 'sc', keyApart: false } },
      },
    },
  }));
  try {
    const r = await fetchRaw(h.base + '/x');
    assert.deepEqual(r.filter((c) => c.startsWith('app=')), ['app=1; Path=/']);
    assert.equal(r.filter((c) => c.startsWith('sc=')).length, 1);
    // A stored answer: the entry has no sticky cookie; the next new user gets its own.
    h.pools['stable']!.setHandler(named('stable', 'max-age=60'));
    h.pools['next']!.setHandler(named('next', 'max-age=60'));
    const first = await fetchRaw(h.base + '/c/page');
    await h.stored(1);
    const second = await fetchRaw(h.base + '/c/page');
    assert.equal(first.length, 1);
    assert.equal(second.length, 1);
    assert.notEqual(first[0], second[0], 'each new user gets an id of its own, none comes from the stored entry');
    const third = await h.get('/c/page', { ...HOST, cookie: first[0]!.split(';')[0]! });
    assert.equal(third.headers['set-cookie'], undefined);
    assert.match(third.headers['cache-status']!, /^test-node; hit/);
  } finally {
    await h.close();
  }

  /** Every Set-Cookie field of the answer, as sent. */
  async function fetchRaw(url: string): Promise<string[]> {
    const { request } = await import('undici');
    const res = await request(url, { headers: HOST });
    await res.body.dump();
    const v = res.headers['set-cookie'];
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
  }
});

test('reload: new sites apply at once, a live weight survives unless the file changes the percent, drains persist', async () => {
  const { sitesKind } = await import('../../src/config/sites.js');
  const h = await startSites({ stable: named('stable', 'no-store'), next: named('next', 'no-store'), blog: named('blog', 'no-store') }, canarySite({ percent: 0 }), { overrides: { admin: { token: TOKEN } } });
  const urls = { stable: h.pools['stable']!.url, next: h.pools['next']!.url, blog: h.pools['blog']!.url };
  const reloadWith = async (percent: number, withBlog: boolean) => {
    const sites = { ...(canarySite({ percent })(urls) as Record<string, unknown>), ...(withBlog ? { blog: { hosts: ['blog.example'], routes: { all: { upstream: urls.blog } } } } : {}) };
    const next = { ...h.config, sites: sitesKind().parse(sites) };
    return h.node.reload(next);
  };
  try {
    assert.equal((await h.get('/', { host: 'blog.example' })).status, 421);
    assert.equal((await setWeights(h, { canary: 100 })).status, 200);
    const drained = await fetchReply(h.admin + '/upstreams/drain', { authorization: `Bearer ${TOKEN}` }, 'POST', JSON.stringify({ upstream: urls.blog }));
    assert.equal(drained.status, 404, 'no pool lists blog yet');

    const changes = await reloadWith(0, true);
    assert.deepEqual(changes.applied.map((c) => c.key), ['sites']);
    assert.equal((await h.get('/x', { host: 'blog.example' })).text, 'blog /x', 'the new site serves at once');
    assert.deepEqual(await sides(h, 20), { stable: 0, next: 20 }, 'the live weight stays: the file did not change the percent');

    assert.equal((await fetchReply(h.admin + '/upstreams/drain', { authorization: `Bearer ${TOKEN}` }, 'POST', JSON.stringify({ upstream: urls.next }))).status, 200);
    await reloadWith(50, true);
    const listed = JSON.parse((await fetchReply(h.admin + '/routes')).text) as { sites: { shop: { routes: { all: { canary: { percent: number } } } } }; drained: string[] };
    assert.equal(listed.sites.shop.routes.all.canary.percent, 50, 'a new percent in the file wins');
    assert.deepEqual(listed.drained, [urls.next], 'drains persist across reloads');
    assert.deepEqual(await sides(h, 20), { stable: 20, next: 0 }, 'the drained canary side hands over to the primary');
  } finally {
    await h.close();
  }
});

test('reload: a drain outlives a reload that removes its upstream, can still be undone, and an upstream added back drained is logged', async () => {
  const { sitesKind } = await import('../../src/config/sites.js');
  const h = await startSites({ stable: named('stable', 'no-store'), next: named('next', 'no-store') }, canarySite({ percent: 100 }), { overrides: { admin: { token: TOKEN }, logLevel: 'info' } });
  const urls = { stable: h.pools['stable']!.url, next: h.pools['next']!.url };
  const admin = (path: string, upstream: string) => fetchReply(h.admin + path, { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, 'POST', JSON.stringify({ upstream }));
  const reloadWith = (canary: boolean) =>
    h.node.reload({ ...h.config, sites: sitesKind().parse(canary ? canarySite({ percent: 100 })(urls) : { shop: { hosts: ['shop.example'], routes: { all: { path: '/', upstream: urls.stable } } } }) });
  const drained = async () => (JSON.parse((await fetchReply(h.admin + '/routes')).text) as { drained: string[] }).drained;
  try {
    assert.equal((await admin('/upstreams/drain', urls.next)).status, 200);
    await reloadWith(false);
    assert.deepEqual(await drained(), [urls.next], 'the drain is kept: the upstream may come back');
    const status = await fetchReply(`${h.admin}/upstreams/drain?upstream=${encodeURIComponent(urls.next)}`);
    assert.equal(status.status, 200, status.text);
    assert.deepEqual(JSON.parse(status.text), { upstream: urls.next, state: 'drained', inFlight: 0, pools: 0 });

    // Added back while drained: it takes nothing, and the reload says so.
    await reloadWith(true);
    assert.deepEqual(await sides(h, 10), { stable: 10, next: 0 });
    const warned = await h.logged((l) => /^a reload lists an upstream drained/.test(String(l['msg'])));
    assert.equal(warned[0]!['upstream'], urls.next);

    // Removed again, then undrained while no pool lists it: it serves when it comes back.
    await reloadWith(false);
    const undrained = await admin('/upstreams/undrain', urls.next);
    assert.equal(undrained.status, 200, undrained.text);
    assert.deepEqual(JSON.parse(undrained.text), { upstream: urls.next, state: 'serving', inFlight: 0, pools: 0 });
    assert.deepEqual(await drained(), []);
    assert.equal((await admin('/upstreams/undrain', urls.next)).status, 404, 'neither listed nor drained');
    await reloadWith(true);
    assert.deepEqual(await sides(h, 10), { stable: 0, next: 10 });
  } finally {
    await h.close();
  }
});
