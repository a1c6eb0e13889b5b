// Forward-auth over real sockets: a real auth service (node:http), a real origin
// and a real Strata node. The auth service is asked before the cache: an
// unauthorised client never gets a stored body, an authorised one gets hits on
// shareable content; identity fields reach the origin and cannot be forged;
// decisions are remembered per credential; a dead auth service fails closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchReply, startHarness, type Harness } from '../fixtures/harness.js';
import { edgeRules, startAuthService, type AuthService, type DeepPartial } from '../fixtures/edge.js';
import type { EdgeConfig } from '../../src/config/types.js';

/** The auth service of these tests: "Bearer good-*" is allowed as that user, "Bearer forbidden" is 403, the rest 401. */
function authorise(auth: AuthService): void {
  auth.setHandler((req, res) => {
    const a = req.headers['authorization'] ?? '';
    if (a.startsWith('Bearer good-')) {
      res.writeHead(200, { 'x-auth-user': a.slice('Bearer good-'.length), 'x-auth-role': 'reader', 'content-length': '2' });
      res.end('ok');
    } else if (a === 'Bearer forbidden') {
      res.writeHead(403, { 'content-length': '0' });
      res.end();
    } else if (a === 'Bearer login') {
      res.writeHead(302, { location: 'https://login.example/?next=' + encodeURIComponent(String(req.headers['x-original-uri'])), 'content-length': '0' });
      res.end();
    } else {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="site"', 'content-length': '0' });
      res.end();
    }
  });
}

async function withAuth(
  origin: Parameters<typeof startHarness>[0],
  edge: (auth: AuthService) => DeepPartial<EdgeConfig>,
  body: (h: Harness, auth: AuthService) => Promise<void>,
): Promise<void> {
  const auth = await startAuthService(() => {});
  authorise(auth);
  // warn: the guard's refusals of note (filter denies, auth failures) are logged, the access lines are not.
  const h = await startHarness(origin, { logLevel: 'warn', edge: edgeRules({ ...edge(auth), forwardAuth: { url: auth.url, identityFields: ['x-auth-user'], ...edge(auth).forwardAuth } }) } as Parameters<typeof startHarness>[1]);
  try {
    await body(h, auth);
  } finally {
    await h.close();
    await auth.close();
  }
}

const publicPage = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
  const body = `page for ${String(req.headers['x-auth-user'] ?? 'nobody')}`;
  res.writeHead(200, { 'cache-control': 'public, max-age=600', 'content-length': Buffer.byteLength(body), server: 'Apache/2.4.1 (Unix)', 'x-powered-by': 'PHP/8.3' });
  res.end(body);
};

test('forward-auth: an unauthorised client never gets the cached body; an authorised one gets a hit on public content', async () => {
  await withAuth(publicPage, () => ({}), async (h, auth) => {
    const first = await h.get('/doc', { authorization: 'Bearer good-alice' });
    assert.equal(first.status, 200);
    assert.equal(first.text, 'page for alice');
    await h.stored(1);
    // Stored and shareable (public): now try without, and with refused, credentials.
    for (const [headers, status] of [
      [{}, 401],
      [{ authorization: 'Bearer wrong' }, 401],
      [{ authorization: 'Bearer forbidden' }, 403],
      // Nothing of the stored entry either: not a range of it, not a 304 confirming its validator.
      [{ range: 'bytes=0-3' }, 401],
      [{ 'if-none-match': '*' }, 401],
      [{ 'cache-control': 'only-if-cached' }, 401],
    ] as const) {
      const r = await h.get('/doc', headers);
      assert.equal(r.status, status);
      assert.doesNotMatch(r.text, /page for/, 'no stored byte reaches a refused client');
      assert.equal(r.headers['cache-control'], 'no-store');
    }
    const refused = await h.get('/doc');
    assert.equal(refused.headers['www-authenticate'], 'Bearer realm="site"', "the auth service's challenge is passed on");
    assert.match(refused.text, /^401 AUTH_REQUIRED: /);
    assert.match(refused.headers['cache-status']!, /fwd=bypass; detail=auth_required/);
    // Another authorised user: answered from cache (public), the origin asked once in all.
    const bob = await h.get('/doc', { authorization: 'Bearer good-bob' });
    assert.equal(bob.status, 200);
    assert.match(bob.headers['cache-status']!, /; hit/);
    assert.equal(h.origin.count('/doc'), 1);
    assert.ok(auth.asked.length >= 5);
    // Hidden origin fields, on the miss and on the hit alike.
    for (const r of [first, bob]) {
      assert.equal(r.headers['server'], undefined);
      assert.equal(r.headers['x-powered-by'], undefined);
    }
    assert.equal(h.node.stats.counters.authRefused, 7);
  });
});

test('forward-auth: without public, an authorised request is not answered from a stored private-by-default response (RFC 9111 §3.5)', async () => {
  const origin = (_req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '4' });
    res.end('priv');
  };
  await withAuth(origin, () => ({}), async (h) => {
    await h.get('/p', { authorization: 'Bearer good-alice' });
    const again = await h.get('/p', { authorization: 'Bearer good-bob' });
    assert.equal(again.status, 200);
    assert.doesNotMatch(again.headers['cache-status']!, /; hit/);
    assert.equal(h.origin.count('/p'), 2, 'each authorised request went to the origin');
  });
});

test('forward-auth with publicAfterAuth: credentials still reach the origin but no longer keep the answer private', async () => {
  const origin = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const body = `catalogue (auth ${req.headers['authorization'] ? 'forwarded' : 'absent'})`;
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  await withAuth(origin, () => ({ publicAfterAuth: true }), async (h) => {
    const a = await h.get('/cat', { authorization: 'Bearer good-alice' });
    assert.equal(a.text, 'catalogue (auth forwarded)');
    assert.equal(h.origin.requests[0]!.headers['authorization'], 'Bearer good-alice');
    await h.stored(1);
    const b = await h.get('/cat', { authorization: 'Bearer good-bob' });
    assert.match(b.headers['cache-status']!, /; hit/, 'stored and shared despite Authorization');
    const anon = await h.get('/cat');
    assert.equal(anon.status, 401, 'still checked before the cache');
    assert.equal(h.origin.count('/cat'), 1);
  });
});

test('forward-auth: identity fields from the auth answer reach the origin; a client cannot forge them', async () => {
  await withAuth(publicPage, () => ({}), async (h, auth) => {
    await h.get('/me', { authorization: 'Bearer good-carol', 'x-auth-user': 'admin' });
    const seen = h.origin.requests[0]!.headers;
    assert.equal(seen['x-auth-user'], 'carol');
    assert.equal(seen['x-auth-role'], undefined, 'only the listed identity fields are copied');
    // What the auth service was told about the request.
    const q = auth.asked[0]!;
    assert.equal(q['authorization'], 'Bearer good-carol');
    assert.equal(q['x-original-method'], 'GET');
    assert.equal(q['x-original-uri'], '/me');
    assert.equal(q['x-forwarded-uri'], '/me');
    assert.equal(q['x-forwarded-for'], '127.0.0.1');
    assert.equal(q['x-auth-user'], undefined, "the client's forged field is not sent to the auth service either");
  });
  // The auth service names no identity: the forged field is still removed.
  const auth = await startAuthService((_req, res) => {
    res.writeHead(204);
    res.end();
  });
  const h = await startHarness(publicPage, { edge: edgeRules({ forwardAuth: { url: auth.url, identityFields: ['x-auth-user'] } }) });
  try {
    await h.get('/forged', { 'x-auth-user': 'admin' });
    assert.equal(h.origin.requests[0]!.headers['x-auth-user'], undefined);
  } finally {
    await h.close();
    await auth.close();
  }
});

test('forward-auth: decisions are remembered per credential for cacheTtlMs, allow and deny alike (cacheKey credentials)', async () => {
  await withAuth(publicPage, () => ({ forwardAuth: { cacheTtlMs: 5_000, cacheKey: 'credentials' } }), async (h, auth) => {
    for (let i = 0; i < 3; i++) assert.equal((await h.get(`/r${i}`, { authorization: 'Bearer good-dan' })).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await h.get(`/r${i}`, { authorization: 'Bearer nope' })).status, 401);
    assert.equal(auth.asked.length, 2, 'one question per credential');
    // Concurrent requests with a new credential share one question.
    await Promise.all([1, 2, 3, 4].map((i) => h.get(`/c${i}`, { authorization: 'Bearer good-erin' })));
    assert.equal(auth.asked.length, 3);
    h.clock.advance(5_001);
    await h.get('/r0', { authorization: 'Bearer good-dan' });
    assert.equal(auth.asked.length, 4, 'asked again once the decision expired');
    const stats = JSON.parse((await fetchReply(h.admin + '/stats')).text) as { edge: Record<string, number> };
    assert.deepEqual(stats.edge, { rememberedDecisions: 3, rememberedTokens: 0, rateBuckets: 0 });
  });
});

test('forward-auth: cacheKey credentials-and-path asks again for another path', async () => {
  await withAuth(publicPage, () => ({ forwardAuth: { cacheKey: 'credentials-and-path' } }), async (h, auth) => {
    await h.get('/a', { authorization: 'Bearer good-fay' });
    await h.get('/a', { authorization: 'Bearer good-fay' });
    await h.get('/b', { authorization: 'Bearer good-fay' });
    assert.equal(auth.asked.length, 2);
  });
});

test('forward-auth: a redirect (login page) is passed on with its Location', async () => {
  await withAuth(publicPage, () => ({}), async (h) => {
    const r = await h.get('/account?x=1', { authorization: 'Bearer login' });
    assert.equal(r.status, 302);
    assert.equal(r.headers['location'], 'https://login.example/?next=%2Faccount%3Fx%3D1');
    assert.equal(h.origin.count(), 0);
  });
});

test('forward-auth: a 3xx that is no redirect (304, 300, 305) fails closed; a 304 with a body was sent to the client (issue 12, review)', async () => {
  await withAuth(publicPage, () => ({}), async (h, auth) => {
    for (const status of [304, 300, 305]) {
      auth.setHandler((_req, res) => {
        res.writeHead(status, { location: 'https://login.example/' });
        res.end();
      });
      // A 304 has no body (RFC 9110 §15.4.5): answered with Strata's error body and its Content-Length, the client read a broken message.
      const r = await h.get(`/odd-${status}`, { authorization: 'Bearer good-kim' });
      assert.equal(r.status, 503, String(status));
      assert.match(r.text, /^503 AUTH_UNAVAILABLE: /);
    }
    assert.equal(h.origin.count(), 0);
  });
});

test('forward-auth: an auth service that is down, slow or broken fails closed with 503 AUTH_UNAVAILABLE, never cached', async () => {
  await withAuth(publicPage, () => ({ forwardAuth: { timeoutMs: 300 } }), async (h, auth) => {
    await h.get('/warm', { authorization: 'Bearer good-gil' });
    await h.stored(1);
    auth.setHandler((_req, res) => {
      res.writeHead(500, { 'content-length': '0' });
      res.end();
    });
    const broken = await h.get('/warm', { authorization: 'Bearer good-hal' });
    assert.equal(broken.status, 503);
    assert.match(broken.text, /^503 AUTH_UNAVAILABLE: /);
    assert.doesNotMatch(broken.text, /127\.0\.0\.1|answered 500/, 'the auth service and its answer are logged, not sent to the client');
    assert.doesNotMatch(broken.text, /page for/);
    auth.setHandler(() => {
      // Never answers: the guard's timeout decides.
    });
    const started = Date.now();
    const slow = await h.get('/warm', { authorization: 'Bearer good-ida' });
    assert.equal(slow.status, 503);
    assert.match(slow.text, /^503 AUTH_UNAVAILABLE: /);
    assert.ok(Date.now() - started < 3_000);
    await auth.close();
    const down = await h.get('/warm', { authorization: 'Bearer good-jon' });
    assert.equal(down.status, 503);
    assert.doesNotMatch(down.text, /ECONNREFUSED/);
    const lines = await h.logged((l) => l['code'] === 'AUTH_UNAVAILABLE', 3);
    assert.equal(lines[0]!['level'], 50, 'logged as an error');
    assert.match(String(lines[0]!['msg']), /auth service .* answered 500/);
    assert.match(String(lines[1]!['msg']), /timed out/);
    assert.match(String(lines[2]!['msg']), /did not answer \(ECONNREFUSED\)/);
    assert.equal(h.node.stats.counters.authUnavailable, 3);
    assert.equal(h.origin.count(), 1);
  });
});

test('forward-auth: an origin that varies on the identity field keeps one variant per identity', async () => {
  const origin = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const body = `dashboard of ${String(req.headers['x-auth-user'])}`;
    res.writeHead(200, { 'cache-control': 'public, max-age=600', vary: 'X-Auth-User', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  await withAuth(origin, () => ({}), async (h) => {
    assert.equal((await h.get('/dash', { authorization: 'Bearer good-kim' })).text, 'dashboard of kim');
    await h.stored(1);
    const lee = await h.get('/dash', { authorization: 'Bearer good-lee', 'x-auth-user': 'kim' });
    assert.equal(lee.text, 'dashboard of lee', "the forged field selected nothing: Strata's identity did");
    await h.stored(2);
    const kim = await h.get('/dash', { authorization: 'Bearer good-kim' });
    assert.equal(kim.text, 'dashboard of kim');
    assert.match(kim.headers['cache-status']!, /; hit/);
    assert.equal(h.origin.count('/dash'), 2);
  });
});

test('rate limit by header behind forward-auth: a key is a client of its own only once the auth passed it; invented keys spend their address', async () => {
  await withAuth(
    publicPage,
    () => ({ rateLimit: { requestsPerS: 1, burst: 3, by: 'header', header: 'authorization' } }),
    async (h) => {
      // The harness's clock is fake: no bucket refills during the test. Invented credentials: refused by the auth, paid by the address.
      for (let i = 0; i < 3; i++) assert.equal((await h.get('/rl', { authorization: `Bearer invented-${i}` })).status, 401, `invented ${i}`);
      const over = await h.get('/rl', { authorization: 'Bearer invented-3' });
      assert.equal(over.status, 429, 'a fourth invented key is over the address\'s limit, not given a bucket of its own');
      assert.equal(over.headers['retry-after'], '1');
      assert.equal((await h.get('/rl', { authorization: 'Bearer good-alice' })).status, 429, 'a new key, even a good one, is paid by the exhausted address');
    },
  );
  await withAuth(
    publicPage,
    () => ({ rateLimit: { requestsPerS: 1, burst: 3, by: 'header', header: 'authorization' } }),
    async (h) => {
      // One address, two accepted keys: the first request of each is the address's, then each has its own bucket.
      assert.equal((await h.get('/rl', { authorization: 'Bearer good-alice' })).status, 200);
      assert.equal((await h.get('/rl', { authorization: 'Bearer good-bob' })).status, 200);
      for (let i = 0; i < 2; i++) assert.equal((await h.get('/rl', { authorization: 'Bearer good-alice' })).status, 200, `alice ${i}`);
      assert.equal((await h.get('/rl', { authorization: 'Bearer good-alice' })).status, 429, 'alice\'s own bucket is empty');
      assert.equal((await h.get('/rl', { authorization: 'Bearer good-bob' })).status, 200, 'bob has his own');
    },
  );
  await withAuth(
    publicPage,
    () => ({ rateLimit: { requestsPerS: 1, burst: 3, by: 'header', header: 'x-client-id' } }),
    async (h) => {
      // A field the auth service is not sent (requestFields: authorization, cookie): a good credential vouches nothing for it.
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push((await h.get('/rl', { authorization: 'Bearer good-alice', 'x-client-id': `made-up-${Math.floor(i / 3)}` })).status);
      assert.deepEqual(statuses, [200, 200, 200, ...Array(9).fill(429)], 'invented values beside an accepted credential: the address pays');
    },
  );
});
