// Ways around the edge guard, tried over real sockets (a real auth service, real
// origins, a real Strata node), each of which once worked:
// - a path spelt so that it escapes its route's prefix (percent-encoded, doubled
//   or back slashes) while the origin resolves it to the protected page;
// - an identity field sent by the client on a route that checks nothing, to an
//   origin a protected route shares;
// - an identity field sent by the client matching a filter rule (filters run
//   before auth) that admits by it;
// - one client's remembered auth decision reused for another (anonymous clients,
//   another path);
// - publicAfterAuth taking the whole Cookie out of the cache key and out of Vary;
// - the origin's software named in a 103 Early Hints.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startHarness } from '../fixtures/harness.js';
import { startSites } from '../fixtures/sites.js';
import { edgeRules, startAuthService } from '../fixtures/edge.js';
import { rawExchange } from '../protocol/raw.js';

const HOST = { host: 'shop.example' };

/** A shareable page naming the path and the identity the origin was given. */
function page(req: IncomingMessage, res: ServerResponse): void {
  const body = `page ${req.url} for ${String(req.headers['x-auth-user'] ?? 'nobody')}`;
  res.writeHead(200, { 'cache-control': 'public, max-age=600', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function shopWithAccountRoute(authUrl: string) {
  return startSites({ shop: page }, (u) => ({
    shop: {
      hosts: ['shop.example'],
      routes: {
        public: { path: '/', upstream: u['shop'] },
        account: { path: '/account/', upstream: u['shop'], guard: { forwardAuth: { url: authUrl, identityFields: ['x-auth-user'] } } },
      },
    },
  }));
}

test('a protected route cannot be reached by spelling its path another way: encoded letters, doubled slashes, an encoded slash, a backslash, path parameters, a malformed escape', async () => {
  const auth = await startAuthService((req, res) => {
    const ok = req.headers['authorization'] === 'Bearer good';
    res.writeHead(ok ? 200 : 401, ok ? { 'x-auth-user': 'alice', 'content-length': '0' } : { 'content-length': '0' });
    res.end();
  });
  const h = await shopWithAccountRoute(auth.url);
  try {
    for (const path of ['/account/orders', '/%61ccount/orders', '/%61%63count/orders', '//account/orders', '/account%2Forders', '/account\\orders', '/account;jsessionid=1/orders', '/%61ccount/orders%FF']) {
      const r = await h.get(path, HOST);
      assert.equal(r.status, 401, `${path} is the account route's`);
      assert.doesNotMatch(r.text, /page/, path);
    }
    assert.equal(h.pools['shop']!.count(), 0, 'no spelling reached the origin');
    // Asked for each spelling (two the client library sends alike share one remembered answer).
    assert.ok(auth.asked.length >= 5, `the auth service was asked ${auth.asked.length} times: ${auth.asked.map((a) => a['x-original-uri']).join(' ')}`);
    const ok = await h.get('/%61ccount/orders', { ...HOST, authorization: 'Bearer good' });
    assert.equal(ok.status, 200, 'an authorised client still gets there');
    assert.equal(ok.text, 'page /%61ccount/orders for alice');
    // Paths that only look alike stay on the public route.
    assert.equal((await h.get('/accounts', HOST)).status, 200);
    assert.equal((await h.get('/x/account/orders', HOST)).status, 200);
  } finally {
    await h.close();
    await auth.close();
  }
});

test('a target beginning with "//" or "/\\" cannot carry a protected path past its route to an origin that reads a host there (new URL(req.url, base), as the Node.js docs do)', async () => {
  const auth = await startAuthService((_req, res) => {
    res.writeHead(401, { 'content-length': '0' });
    res.end();
  });
  // The path as WHATWG URL reads a request target against a base: "//host/p" and "/\host/p" name a host, then /p.
  const whatwg = (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url!, `http://${String(req.headers.host)}`).pathname;
    const body = path.startsWith('/account/') ? `account page ${path}` : `public page ${path}`;
    res.writeHead(200, { 'cache-control': 'public, max-age=600', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const h = await startSites({ shop: whatwg }, (u) => ({
    shop: {
      hosts: ['shop.example'],
      routes: {
        public: { path: '/', upstream: u['shop'] },
        account: { path: '/account/', upstream: u['shop'], guard: { forwardAuth: { url: auth.url } } },
      },
    },
  }));
  try {
    const port = h.node.proxyAddress().port;
    for (const target of ['//evil.example/account/orders', '/\\evil.example/account/orders', '///evil.example/account/orders', '/x/..//evil.example/account/orders', '//evil.example/account/orders?a=1']) {
      const r = (await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: shop.example\r\n\r\n`)).responses[0]!;
      assert.doesNotMatch(r.text, /account page/, `${target}: ${r.status} ${r.text}`);
    }
    for (const seen of h.pools['shop']!.requests) assert.match(seen.url, /^\/[^/\\]/, `the origin is sent one reading: ${seen.url}`);
    assert.equal(h.pools['shop']!.requests.at(-1)!.url, '/evil.example/account/orders?a=1');
    // A doubled slash before the protected path itself is still that route's.
    assert.equal((await h.get('//account/orders', HOST)).status, 401);
  } finally {
    await h.close();
    await auth.close();
  }
});

test("an identity field a route's auth sets cannot be sent by a client on a route that checks nothing", async () => {
  const auth = await startAuthService((_req, res) => {
    res.writeHead(401, { 'content-length': '0' });
    res.end();
  });
  const h = await shopWithAccountRoute(auth.url);
  try {
    const r = await h.get('/account-api/x', { ...HOST, 'x-auth-user': 'admin' });
    assert.equal(r.status, 200);
    assert.equal(r.text, 'page /account-api/x for nobody', 'the origin never saw the forged identity');
    assert.equal(h.pools['shop']!.requests[0]!.headers['x-auth-user'], undefined);
    assert.equal(auth.asked.length, 0, 'the public route asks nobody');
  } finally {
    await h.close();
    await auth.close();
  }
});

test('a filter rule cannot be passed with an identity field the client sent itself: filters see the fields the guard sets as absent (issue 12, review)', async () => {
  const auth = await startAuthService((req, res) => {
    const user = req.headers['authorization'] === 'Bearer bob' ? 'bob' : undefined;
    res.writeHead(user ? 200 : 401, { ...(user ? { 'x-auth-user': user } : {}), 'content-length': '0' });
    res.end();
  });
  // The operator means: only the admin user reaches /admin/ (its identity from the auth service).
  const adminsOnly = [
    { name: 'admins', action: 'allow', paths: ['/admin/'], headers: { 'x-auth-user': 'admin' } },
    { name: 'admin-denied', action: 'deny', paths: ['/admin/'] },
  ];
  const h = await startSites({ shop: page }, (u) => ({
    shop: {
      hosts: ['shop.example'],
      routes: {
        // Another route's auth sets x-auth-user; this one filters only.
        console: { path: '/console/', upstream: u['shop'], guard: { filters: [{ ...adminsOnly[0], paths: ['/console/'] }, { ...adminsOnly[1], paths: ['/console/'] }] } },
        app: { path: '/', upstream: u['shop'], guard: { filters: adminsOnly, forwardAuth: { url: auth.url, identityFields: ['x-auth-user'] } } },
      },
    },
  }));
  try {
    assert.equal((await h.get('/admin/x', { ...HOST, authorization: 'Bearer bob' })).status, 403);
    const forged = await h.get('/admin/x', { ...HOST, authorization: 'Bearer bob', 'x-auth-user': 'admin' });
    assert.equal(forged.status, 403, 'the allow rule did not take the client\'s own x-auth-user');
    assert.match(forged.text, /filter rule "admin-denied"/);
    const elsewhere = await h.get('/console/x', { ...HOST, 'x-auth-user': 'admin' });
    assert.equal(elsewhere.status, 403, 'nor on a route that checks nothing but filters, where the field is stripped too');
    assert.equal(h.pools['shop']!.count(), 0);
  } finally {
    await h.close();
    await auth.close();
  }
});

test("an identity field one route sets is still stripped elsewhere when another route's auth reads it from its clients, but kept there", async () => {
  const auth = await startAuthService((req, res) => {
    res.writeHead(200, { 'x-user': `checked-${String(req.headers['x-user'] ?? 'none')}`, 'content-length': '0' });
    res.end();
  });
  const seen = (req: IncomingMessage, res: ServerResponse): void => {
    const body = `${req.url} x-user=${String(req.headers['x-user'])}`;
    res.writeHead(200, { 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const h = await startSites({ shop: seen }, (u) => ({
    shop: {
      hosts: ['shop.example'],
      routes: {
        public: { path: '/public/', upstream: u['shop'] },
        app: { path: '/app/', upstream: u['shop'], guard: { forwardAuth: { url: auth.url, identityFields: ['x-user'] } } },
        svc: { path: '/svc/', upstream: u['shop'], guard: { forwardAuth: { url: auth.url, requestFields: ['authorization', 'x-user'] } } },
      },
    },
  }));
  try {
    assert.equal((await h.get('/public/a', { ...HOST, 'x-user': 'admin' })).text, '/public/a x-user=undefined', 'stripped on a route that checks nothing');
    assert.equal((await h.get('/app/a', { ...HOST, 'x-user': 'admin' })).text, '/app/a x-user=checked-none', "set from the auth answer on the route that sets it");
    assert.equal((await h.get('/svc/a', { ...HOST, 'x-user': 'k1' })).text, '/svc/a x-user=k1', 'kept on the route whose auth reads it');
  } finally {
    await h.close();
    await auth.close();
  }
});

test('remembered auth decisions: never for a request without credentials, and by default per path (an auth service that decides by path)', async () => {
  // Authelia-style: anyone may read /public/, only "Bearer admin" /admin/, any good token /user/.
  const auth = await startAuthService((req, res) => {
    const uri = String(req.headers['x-original-uri']);
    const token = req.headers['authorization'];
    const ok = uri.startsWith('/public/') || (uri.startsWith('/admin/') && token === 'Bearer admin') || (uri.startsWith('/user/') && token !== undefined);
    res.writeHead(ok ? 200 : token === undefined ? 401 : 403, { 'content-length': '0' });
    res.end();
  });
  const h = await startHarness(page, { logLevel: 'warn', edge: edgeRules({ forwardAuth: { url: auth.url, cacheTtlMs: 60_000 } }) } as Parameters<typeof startHarness>[1]);
  try {
    assert.equal((await h.get('/public/x')).status, 200);
    assert.equal((await h.get('/admin/x')).status, 401, 'an anonymous allow on /public/ is not reused for /admin/');
    assert.equal((await h.get('/user/x', { authorization: 'Bearer bob' })).status, 200);
    assert.equal((await h.get('/admin/x', { authorization: 'Bearer bob' })).status, 403, "bob's allow on /user/ is not reused for /admin/");
    assert.equal((await h.get('/admin/x', { authorization: 'Bearer admin' })).status, 200);
    const asked = auth.asked.length;
    assert.equal((await h.get('/user/x', { authorization: 'Bearer bob' })).status, 200);
    assert.equal(auth.asked.length, asked, 'the same credential on the same path is remembered');
    await h.get('/public/y');
    await h.get('/public/y');
    assert.equal(auth.asked.length, asked + 1, 'keyed by path and address, an anonymous decision is remembered for that path alone');
  } finally {
    await h.close();
    await auth.close();
  }
  // Keyed by credentials alone (one decision for every path), an anonymous client is asked about every time.
  const auth2 = await startAuthService((req, res) => {
    const ok = String(req.headers['x-original-uri']).startsWith('/public/');
    res.writeHead(ok ? 200 : 401, { 'content-length': '0' });
    res.end();
  });
  const h2 = await startHarness(page, { logLevel: 'warn', edge: edgeRules({ forwardAuth: { url: auth2.url, cacheTtlMs: 60_000, cacheKey: 'credentials' } }) } as Parameters<typeof startHarness>[1]);
  try {
    assert.equal((await h2.get('/public/x')).status, 200);
    assert.equal((await h2.get('/admin/x')).status, 401, 'no anonymous allow is reused on another path');
    assert.equal((await h2.get('/public/x')).status, 200);
    assert.equal(auth2.asked.length, 3);
  } finally {
    await h2.close();
    await auth2.close();
  }
});

test('publicAfterAuth: route key cookies still key the answer, and a response that varies on Cookie is neither shared between users nor served across', async () => {
  const auth = await startAuthService((_req, res) => {
    res.writeHead(200, { 'content-length': '0' });
    res.end();
  });
  const byCookie = (req: IncomingMessage, res: ServerResponse): void => {
    const body = `${req.url} for ${String(req.headers['cookie'])}`;
    const varies = req.url!.startsWith('/mine');
    res.writeHead(200, { 'cache-control': 'public, max-age=600', 'content-length': Buffer.byteLength(body), ...(varies ? { vary: 'Cookie' } : {}) });
    res.end(body);
  };
  const h = await startSites({ shop: byCookie }, (u) => ({
    shop: {
      hosts: ['shop.example'],
      routes: {
        all: {
          path: '/',
          upstream: u['shop'],
          cache: { keyCookies: ['lang'] },
          guard: { forwardAuth: { url: auth.url, requestFields: ['cookie'] }, publicAfterAuth: true },
        },
      },
    },
  }));
  try {
    const fr = await h.get('/home', { ...HOST, cookie: 'session=a; lang=fr' });
    assert.equal(fr.text, '/home for session=a; lang=fr');
    await h.stored(1);
    const en = await h.get('/home', { ...HOST, cookie: 'session=b; lang=en' });
    assert.equal(en.text, '/home for session=b; lang=en', 'lang keys the answer though Cookie left the cache view');
    const fr2 = await h.get('/home', { ...HOST, cookie: 'session=c; lang=fr' });
    assert.equal(fr2.text, '/home for session=a; lang=fr', 'the same language is shared across sessions');
    assert.match(fr2.headers['cache-status']!, /; hit/);

    // Vary: Cookie means per cookie: two users at once get their own pages, and none is stored.
    const [a, b] = await Promise.all([h.get('/mine', { ...HOST, cookie: 'session=a' }), h.get('/mine', { ...HOST, cookie: 'session=b' })]);
    assert.equal(a.text, '/mine for session=a');
    assert.equal(b.text, '/mine for session=b');
    const a2 = await h.get('/mine', { ...HOST, cookie: 'session=b' });
    assert.equal(a2.text, '/mine for session=b');
    assert.match(a2.headers['cache-status']!, /detail=varies-on-credential/);

    // A variant stored for a client without the cookie is not served to one whose cookie the edge checked.
    const anon = await h.get('/mine-too', HOST);
    assert.equal(anon.text, '/mine-too for undefined');
    await h.stored(2);
    assert.match((await h.get('/mine-too', HOST)).headers['cache-status']!, /; hit/, 'stored for clients without Cookie');
    const signedIn = await h.get('/mine-too', { ...HOST, cookie: 'session=z' });
    assert.equal(signedIn.text, '/mine-too for session=z');
  } finally {
    await h.close();
    await auth.close();
  }
});

test("103 Early Hints from the origin: hidden fields (the origin's software) are removed, Link passes", async () => {
  const h = await startHarness((_req, res) => {
    res.writeEarlyHints({ link: '</a.css>; rel=preload', 'x-powered-by': 'PHP/8.3', server: 'Apache' });
    res.writeHead(200, { 'content-length': '2', 'cache-control': 'max-age=60' });
    res.end('ok');
  });
  try {
    const url = new URL(h.base + '/hinted');
    const req = http.get({ host: url.hostname, port: url.port, path: url.pathname });
    const hints: http.IncomingHttpHeaders[] = [];
    req.on('information', (info) => {
      if (info.statusCode === 103) hints.push(info.headers);
    });
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    res.resume();
    await once(res, 'end');
    assert.equal(res.statusCode, 200);
    assert.equal(hints.length, 1);
    assert.equal(hints[0]!['link'], '</a.css>; rel=preload');
    assert.equal(hints[0]!['x-powered-by'], undefined);
    assert.equal(hints[0]!['server'], undefined);
  } finally {
    await h.close();
  }
});
