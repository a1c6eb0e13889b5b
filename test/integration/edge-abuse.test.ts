// Abuse defences over real sockets: filter rules (403, logged with the rule's
// name), per-client rate limits (429 + Retry-After, on a fake clock), hidden
// origin fields on hits and misses, and PURGE still authenticated by the admin
// token alone when edge auth is on. (Connections per client address are the
// listener's cap, limits.maxConnectionsPerClient: test/protocol/slow-clients.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { filterRules } from '../../src/config/edge-kinds.js';
import { fetchReply, startHarness } from '../fixtures/harness.js';
import { edgeRules } from '../fixtures/edge.js';

const origin = (req: IncomingMessage, res: ServerResponse) => {
  const body = `body of ${req.url}`;
  res.writeHead(200, {
    'cache-control': 'max-age=600',
    'content-length': Buffer.byteLength(body),
    server: 'Microsoft-IIS/10.0',
    'x-powered-by': 'ASP.NET',
    'x-aspnet-version': '4.0.30319',
    'x-internal-host': 'web-17.dc1',
  });
  res.end(body);
};

test('filters: a deny answers 403 naming the rule, is logged with it, and never touches cache or origin', async () => {
  const filters = filterRules().parse([
    { name: 'loopback-admin', action: 'allow', paths: ['/admin/'], addresses: ['127.0.0.0/8', '::1'] },
    { name: 'admin', action: 'deny', paths: ['/admin/'] },
    { name: 'secret-files', action: 'deny', paths: ['/**.env', '~* \\.git/'] },
    { name: 'scanners', action: 'deny', headers: { 'user-agent': '~* (sqlmap|nikto)' } },
    { name: 'no-writes', action: 'deny', methods: ['POST', 'PUT', 'DELETE'] },
    { name: 'not-from-doc-net', action: 'deny', addresses: ['192.0.2.0/24'] },
  ]);
  const h = await startHarness(origin, { logLevel: 'warn', edge: edgeRules({ filters }) } as Parameters<typeof startHarness>[1]);
  try {
    assert.equal((await h.get('/admin/panel')).status, 200, 'allowed from loopback before the deny rule');
    assert.equal((await h.get('/page')).status, 200);
    await h.stored(2);
    for (const [path, headers, method, rule] of [
      ['/app/.env', {}, 'GET', 'secret-files'],
      ['/repo/.GIT/config', {}, 'GET', 'secret-files'],
      ['/%2Eenv', {}, 'GET', 'secret-files'],
      ['/page', { 'user-agent': 'Mozilla/5.0 sqlmap/1.8' }, 'GET', 'scanners'],
      ['/form', {}, 'POST', 'no-writes'],
    ] as const) {
      const r = await h.get(path, headers, method, method === 'POST' ? 'a=1' : undefined);
      assert.equal(r.status, 403, path);
      assert.equal(r.text, `403 FILTER_DENIED: request denied by filter rule "${rule}"\n`, path);
      assert.match(r.headers['cache-status']!, /fwd=bypass; detail=filter_denied/);
    }
    const lines = await h.logged((l) => l['code'] === 'FILTER_DENIED', 5);
    assert.deepEqual(
      lines.map((l) => l['rule']),
      ['secret-files', 'secret-files', 'secret-files', 'scanners', 'no-writes'],
    );
    assert.equal(lines[0]!['client'], '127.0.0.1');
    assert.equal(h.node.stats.counters.filtered, 5);
    assert.equal(h.origin.count(), 2, 'denied requests reached neither the cache nor the origin');
    assert.equal((await h.get('/page')).status, 200, 'the stored page is still served to others');
  } finally {
    await h.close();
  }
});

test('rate limit: the burst, then 429 with Retry-After, cache hits included; the bucket refills with time', async () => {
  const h = await startHarness(origin, { edge: edgeRules({ rateLimit: { requestsPerS: 2, burst: 3 } }) });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await h.get('/hot')).status, 200);
    const limited = await h.get('/hot');
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['retry-after'], '1');
    assert.match(limited.text, /^429 RATE_LIMITED: /);
    assert.equal(h.node.stats.counters.rateLimited, 1);
    h.clock.advance(500);
    const again = await h.get('/hot');
    assert.equal(again.status, 200, 'one token after 1/rate seconds');
    assert.match(again.headers['cache-status']!, /; hit/);
    assert.equal((await h.get('/hot')).status, 429);
    assert.equal(h.origin.count('/hot'), 1);
  } finally {
    await h.close();
  }
});

test('rate limit by header: each key has its own bucket; without the header the address is the client; a new key first costs its address a token', async () => {
  const h = await startHarness(origin, { edge: edgeRules({ rateLimit: { requestsPerS: 1, burst: 2, by: 'header', header: 'x-api-key' } }) });
  try {
    // The harness's clock is fake: no bucket refills during the test.
    assert.equal((await h.get('/k', { 'x-api-key': 'team-a' })).status, 200, 'new key: one of the address\'s two tokens, one of its own');
    assert.equal((await h.get('/k', { 'x-api-key': 'team-a' })).status, 200);
    assert.equal((await h.get('/k', { 'x-api-key': 'team-a' })).status, 429, 'its own bucket is empty');
    assert.equal((await h.get('/k', { 'x-api-key': 'team-b' })).status, 200, 'another key has its own bucket (and pays the address its last token)');
    assert.equal((await h.get('/k')).status, 429, 'without the header: the address, now empty');
    assert.equal((await h.get('/k', { 'x-api-key': 'invented-1' })).status, 429, 'a key never seen is refused once its address is empty');
    assert.equal((await h.get('/k', { 'x-api-key': 'team-b' })).status, 200, 'a known key still has its own bucket');
  } finally {
    await h.close();
  }
});

test('hidden origin fields: removed from misses, hits and HEAD answers; the list is the operator\'s', async () => {
  const h = await startHarness(origin, { edge: edgeRules({ hideResponseFields: ['server', 'x-powered-by', 'x-aspnet-version', 'x-internal-host'] }) });
  try {
    const miss = await h.get('/h');
    await h.stored(1);
    const hit = await h.get('/h');
    const head = await h.get('/h', {}, 'HEAD');
    assert.match(hit.headers['cache-status']!, /; hit/);
    for (const r of [miss, hit, head]) {
      for (const f of ['server', 'x-powered-by', 'x-aspnet-version', 'x-internal-host']) assert.equal(r.headers[f], undefined, f);
      assert.equal(r.headers['cache-control'], 'max-age=600', 'other fields untouched');
    }
  } finally {
    await h.close();
  }
  const keep = await startHarness(origin, { edge: edgeRules({ hideResponseFields: [] }) });
  try {
    const r = await keep.get('/h');
    assert.equal(r.headers['server'], 'Microsoft-IIS/10.0', '[] keeps them all');
  } finally {
    await keep.close();
  }
});

test('PURGE is authenticated by the admin token alone when edge auth is on', async () => {
  const h = await startHarness(origin, {
    admin: { token: 'adm1n' },
    edge: edgeRules({ jwt: { jwksUrl: 'http://127.0.0.1:9/jwks.json' } }),
  } as Parameters<typeof startHarness>[1]);
  try {
    assert.equal((await h.get('/p')).status, 401, 'edge auth on for ordinary requests');
    const r = await h.get('/p', { authorization: 'Bearer adm1n' }, 'PURGE');
    assert.notEqual(r.status, 401);
    assert.ok(r.status < 300, `PURGE answered ${r.status}`);
  } finally {
    await h.close();
  }
});

test('IPv6 clients: address ranges and rate-limit buckets over a real IPv6 connection', async () => {
  const filters = filterRules().parse([{ name: 'v6-docs', action: 'deny', paths: ['/private/'], addresses: ['::1/128'] }]);
  const h = await startHarness(origin, { listen: { host: '::1', port: 0 }, edge: edgeRules({ filters, rateLimit: { requestsPerS: 1, burst: 2 } }) } as Parameters<typeof startHarness>[1]);
  try {
    const base = `http://[::1]:${h.node.proxyAddress().port}`;
    const denied = await fetchReply(`${base}/private/x`);
    assert.equal(denied.status, 403);
    assert.match(denied.text, /"v6-docs"/);
    // The denied request took no token (filters come first): the burst of 2 is whole.
    assert.equal((await fetchReply(`${base}/a`)).status, 200);
    assert.equal((await fetchReply(`${base}/b`)).status, 200);
    const limited = await fetchReply(`${base}/c`);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['retry-after'], '1');
  } finally {
    await h.close();
  }
});

test('skipAuthPreflight: a CORS preflight passes without credentials; other OPTIONS and GETs still need them', async () => {
  const preflight = { origin: 'https://app.example', 'access-control-request-method': 'GET' };
  for (const skip of [false, true]) {
    const h = await startHarness(origin, { edge: edgeRules({ skipAuthPreflight: skip, jwt: { jwksUrl: 'http://127.0.0.1:9/jwks.json' } }) });
    try {
      assert.equal((await h.get('/api', preflight, 'OPTIONS')).status, skip ? 200 : 401, `preflight, skip=${skip}`);
      assert.equal((await h.get('/api', { origin: 'https://app.example' }, 'OPTIONS')).status, 401, 'not a preflight');
      assert.equal((await h.get('/api', preflight)).status, 401, 'a GET is never a preflight');
    } finally {
      await h.close();
    }
  }
});

test('reload: edge rules change live; unchanged ones keep their state (rate buckets); a key file that cannot be used refuses the reload', async () => {
  const h = await startHarness(origin, { edge: edgeRules({ rateLimit: { requestsPerS: 1, burst: 1 } }) });
  try {
    assert.equal((await h.get('/r')).status, 200);
    assert.equal((await h.get('/r')).status, 429);
    // An unrelated change: the guard and its buckets carry over.
    await h.node.reload({ ...h.config, logLevel: 'error' });
    assert.equal((await h.get('/r')).status, 429, 'the bucket survived the reload');
    // New filter rules: applied to the next request.
    const filters = filterRules().parse([{ name: 'closed', action: 'deny', paths: ['/'] }]);
    const changes = await h.node.reload({ ...h.config, edge: edgeRules({ filters }) });
    assert.ok(changes.applied.some((c) => c.key === 'edge.filters'));
    const denied = await h.get('/r');
    assert.equal(denied.status, 403);
    assert.match(denied.text, /"closed"/);
    // A JWT key file that cannot be read: refused, the running rules stay.
    await assert.rejects(
      h.node.reload({ ...h.config, edge: edgeRules({ jwt: { keyFiles: ['/nonexistent/strata-test.pem'] } }) }),
      (err: Error & { code?: string }) => err.code === 'RELOAD_REFUSED' && /edge\.jwt\.keyFiles: \/nonexistent\/strata-test\.pem: cannot read/.test(err.message),
    );
    assert.equal((await h.get('/r')).status, 403, 'still the rules of the last good reload');
  } finally {
    await h.close();
  }
});

test('filters: a rule naming GET covers HEAD, which Strata answers from a GET and fetches as one (issue 12, review)', async () => {
  const filters = filterRules().parse([
    { name: 'no-export', action: 'deny', methods: ['GET'], paths: ['/export/'] },
    { name: 'reads', action: 'allow', methods: ['GET'], paths: ['/ro/'] },
    { name: 'ro-rest', action: 'deny', paths: ['/ro/'] },
  ]);
  const h = await startHarness(origin, { edge: edgeRules({ filters }) });
  try {
    assert.equal((await h.get('/export/all')).status, 403);
    const head = await h.get('/export/all', {}, 'HEAD');
    assert.equal(head.status, 403, 'HEAD is denied as GET is');
    assert.equal(head.headers['x-internal-host'], undefined);
    assert.equal(h.origin.count(), 0, 'the origin never ran the GET the rule denies');
    assert.equal((await h.get('/ro/page', {}, 'HEAD')).status, 200, 'and allowed where GET is');
    assert.equal((await h.get('/ro/page', {}, 'DELETE')).status, 403);
  } finally {
    await h.close();
  }
});

test('filters: a rule on the host meets it as sites do (case, trailing dot and port aside), so no other spelling of the host gets past (issue 12, review)', async () => {
  const filters = filterRules().parse([
    { name: 'admin-office', action: 'allow', headers: { host: 'admin.example' }, addresses: ['10.0.0.0/8'] },
    { name: 'admin-elsewhere', action: 'deny', headers: { host: 'Admin.Example' } },
    { name: 'ops', action: 'deny', headers: { host: '~ ^ops\\.example$' } },
  ]);
  const h = await startHarness(origin, { edge: edgeRules({ filters }) });
  try {
    for (const host of ['admin.example', 'ADMIN.example', 'admin.example.', 'admin.example:80', 'Admin.Example.:8080', 'ops.example', 'OPS.example', 'ops.example.:80']) {
      const r = await h.get('/page', { host });
      assert.equal(r.status, 403, host);
    }
    assert.equal((await h.get('/page', { host: 'www.example' })).status, 200);
    assert.equal(h.origin.count(), 1);
  } finally {
    await h.close();
  }
});
