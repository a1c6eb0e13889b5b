// Route prefixes and edge-filter paths are matched as written (case counts, as in
// nginx) unless a site sets caseInsensitivePaths: Express (by default), IIS and
// ASP.NET serve /Account/x as /account/x, so there a case-sensitive match would send
// /Account/profile through the site's "/" route, past /account/'s forward-auth, and
// store the answer for everyone; on an origin that tells the cases apart, folding
// would send /STATIC/x to an open /static/ route instead of the guarded "/" one.
// The key and the target sent upstream keep the case the client sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OriginHandler } from '../fixtures/harness.js';
import { startHarness } from '../fixtures/harness.js';
import { startSites } from '../fixtures/sites.js';
import { edgeRules, startAuthService } from '../fixtures/edge.js';

/** Routes as Express does by default: case-insensitive. */
const express: OriginHandler = (req, res) => {
  const path = new URL(req.url!, 'http://x').pathname;
  const body = path.toLowerCase().startsWith('/account/') ? `account ${path} for ${String(req.headers['x-auth-user'] ?? 'nobody')}` : `public ${path}`;
  res.writeHead(200, { 'cache-control': 'public, max-age=300', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

async function withAccountSite(caseInsensitivePaths: boolean | undefined, body: (get: (path: string, headers?: Record<string, string>) => Promise<{ status: number; text: string }>, seen: () => string | undefined) => Promise<void>): Promise<void> {
  const auth = await startAuthService((req, res) => {
    const ok = req.headers['authorization'] === 'Bearer alice';
    res.writeHead(ok ? 200 : 401, ok ? { 'x-auth-user': 'alice', 'content-length': '0' } : { 'content-length': '0' });
    res.end();
  });
  const h = await startSites({ app: express }, (u) => ({
    shop: {
      hosts: ['shop.example'],
      ...(caseInsensitivePaths === undefined ? {} : { caseInsensitivePaths }),
      routes: {
        all: { path: '/', upstream: u['app'] },
        // Written in mixed case: lower-cased once at load under caseInsensitivePaths.
        account: { path: '/Account/', upstream: u['app'], guard: { forwardAuth: { url: auth.url, identityFields: ['x-auth-user'] } } },
        admin: { path: '/ops/', upstream: u['app'], guard: { filters: [{ name: 'no-secrets', action: 'deny', paths: ['/ops/secrets/', '/ops/**.BAK', '~ ^/ops/Private'] }] } },
      },
    },
  }));
  try {
    await body(
      (path, headers = {}) => h.get(path, { host: 'shop.example', ...headers }),
      () => h.pools['app']!.requests.at(-1)?.url,
    );
  } finally {
    await h.close();
    await auth.close();
  }
}

test('caseInsensitivePaths: a route prefix and a route filter meet the path in any case; the key and the upstream target keep the case sent', async () => {
  await withAccountSite(true, async (get, seen) => {
    for (const path of ['/account/profile', '/Account/profile', '/ACCOUNT/profile', '/%41ccount/profile']) {
      const r = await get(path);
      assert.equal(r.status, 401, `${path}: the /Account/ route's forward-auth refuses`);
    }
    const alice = await get('/ACCOUNT/profile', { authorization: 'Bearer alice' });
    assert.equal(alice.text, 'account /ACCOUNT/profile for alice');
    assert.equal(seen(), '/ACCOUNT/profile', 'the origin gets the target as sent');
    assert.equal((await get('/ACCOUNT/profile')).status, 401, 'still refused after a stored answer');
    for (const path of ['/ops/Secrets/x', '/OPS/SECRETS/x', '/ops/a/b.bak', '/ops/privateX']) assert.equal((await get(path)).status, 403, path);
    assert.equal((await get('/ops/open')).text, 'public /ops/open');
  });
});

test('by default (and with caseInsensitivePaths: false) paths match as written, for origins that tell /Account/ from /account/', async () => {
  for (const setting of [undefined, false]) await withAccountSite(setting, async (get) => {
    assert.equal((await get('/Account/profile')).status, 401);
    assert.equal((await get('/account/profile')).text, 'account /account/profile for nobody', 'another path to this site: the / route');
    assert.equal((await get('/ops/Secrets/x')).status, 200);
    assert.equal((await get('/ops/a/b.BAK')).status, 403);
  });
});

test('without sites, node-wide edge filters match as written: an allow-list admits no other spelling', async () => {
  const h = await startHarness(express, {
    edge: edgeRules({
      filters: [
        { name: 'no-admin', action: 'deny', methods: [], paths: ['/admin/'], headers: {}, addresses: [] },
        { name: 'public-ok', action: 'allow', methods: [], paths: ['/public/'], headers: {}, addresses: [] },
        { name: 'rest', action: 'deny', methods: [], paths: [], headers: {}, addresses: [] },
      ],
    }),
  });
  try {
    assert.equal((await h.get('/admin/x')).status, 403);
    assert.equal((await h.get('/public/Admin/x')).status, 200);
    assert.equal((await h.get('/PUBLIC/x')).status, 403, 'not the allowed spelling');
  } finally {
    await h.close();
  }
});
