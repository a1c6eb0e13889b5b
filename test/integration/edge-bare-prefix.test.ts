// A prefix written with its trailing slash ("/account/", "/admin/") over real
// sockets: the bare path ("/account", "/admin") is the same resource to most
// origins (Express's non-strict routing, a directory index, nginx's 301 for a
// proxied "location /x/"), so it must meet the route and the filter rules the
// prefix names. Before, "/account" fell to the site's "/" route and reached the
// shared origin without the account route's forward-auth, and "/admin" passed a
// deny rule about "/admin/".

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterRules } from '../../src/config/edge-kinds.js';
import { startHarness, type OriginHandler } from '../fixtures/harness.js';
import { startSites } from '../fixtures/sites.js';
import { edgeRules, startAuthService } from '../fixtures/edge.js';

const HOST = { host: 'shop.example' };

/** An origin that, like Express with strict routing off, answers /account as /account/. */
const lenient: OriginHandler = (req, res) => {
  const path = (req.url ?? '/').split('?')[0]!.replace(/;[^/]*/g, '');
  const body = path === '/account' || path.startsWith('/account/') ? `account page for ${String(req.headers['x-auth-user'] ?? 'nobody')}` : `page ${path}`;
  res.writeHead(200, { 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

test('a route at "/account/" also takes "/account": its forward-auth is asked, the origin is not reached unauthorised', async () => {
  const auth = await startAuthService((req, res) => {
    const ok = req.headers['authorization'] === 'Bearer good';
    res.writeHead(ok ? 200 : 401, ok ? { 'x-auth-user': 'alice', 'content-length': '0' } : { 'www-authenticate': 'Bearer realm="shop"', 'content-length': '0' });
    res.end();
  });
  const h = await startSites({ shop: lenient }, (u) => ({
    shop: {
      hosts: ['shop.example'],
      routes: {
        public: { path: '/', upstream: u['shop'] },
        account: { path: '/account/', upstream: u['shop'], guard: { forwardAuth: { url: auth.url, identityFields: ['x-auth-user'] } } },
        // A route for the bare path itself still wins it: the longer match.
        about: { path: '/about', upstream: u['shop'] },
        aboutTeam: { path: '/about/team/', upstream: u['shop'], guard: { forwardAuth: { url: auth.url, identityFields: ['x-auth-user'] } } },
      },
    },
  }));
  try {
    for (const path of ['/account', '/account?tab=orders', '/account;jsessionid=1', '//account', '/%61ccount']) {
      const r = await h.get(path, HOST);
      assert.equal(r.status, 401, `${path}: ${r.text}`);
      assert.equal(r.headers['www-authenticate'], 'Bearer realm="shop"');
    }
    assert.equal(h.pools['shop']!.count(), 0, 'no unauthorised request reached the origin');
    const ok = await h.get('/account', { ...HOST, authorization: 'Bearer good' });
    assert.equal(ok.status, 200);
    assert.equal(ok.text, 'account page for alice');
    // Not a bare prefix: "/accounting" is the public route's, as before.
    assert.equal((await h.get('/accounting', HOST)).text, 'page /accounting');
    // "/about/team" has no route of its own: "/about/team/"'s (guarded), not "/about"'s.
    assert.equal((await h.get('/about/team', HOST)).status, 401);
    assert.equal((await h.get('/about', HOST)).text, 'page /about');
  } finally {
    await h.close();
    await auth.close();
  }
});

test('a filter about "/admin/" (or "/private/**") also denies "/admin" ("/private"), however it is spelt', async () => {
  const filters = filterRules().parse([
    { name: 'admin', action: 'deny', paths: ['/admin/'] },
    { name: 'private', action: 'deny', paths: ['/private/**'] },
  ]);
  const origin: OriginHandler = (req, res) => {
    const body = `body of ${req.url}`;
    res.writeHead(200, { 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const h = await startHarness(origin, { logLevel: 'warn', edge: edgeRules({ filters }) } as Parameters<typeof startHarness>[1]);
  try {
    for (const [path, rule] of [
      ['/admin', 'admin'],
      ['/admin?x=1', 'admin'],
      ['/admin;x=1', 'admin'],
      ['//admin', 'admin'],
      ['/%61dmin', 'admin'],
      ['/admin/users', 'admin'],
      ['/private', 'private'],
      ['/private/a/b', 'private'],
    ] as const) {
      const r = await h.get(path);
      assert.equal(r.status, 403, path);
      assert.equal(r.text, `403 FILTER_DENIED: request denied by filter rule "${rule}"\n`, path);
    }
    assert.equal(h.origin.count(), 0, 'no denied request reached the origin');
    for (const path of ['/administrator', '/privateer', '/adm']) assert.equal((await h.get(path)).status, 200, path);
  } finally {
    await h.close();
  }
});
