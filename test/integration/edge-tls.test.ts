// The edge guard over TLS, HTTP/1.1 and HTTP/2 (ALPN), with real TLS clients
// trusting a test CA made for this run: forward-auth refusals and passes, a hit
// for an authorised client, hidden origin fields and a filter deny behave as over
// plain HTTP; the auth service is told the client used https.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Agent } from 'undici';
import { filterRules } from '../../src/config/edge-kinds.js';
import { fetchReply, startHarness, type Harness, type Reply } from '../fixtures/harness.js';
import { edgeRules, startAuthService, type AuthService } from '../fixtures/edge.js';
import { makeCa, makeLeaf, tlsAgents } from '../fixtures/tls.js';

let h: Harness;
let auth: AuthService;
let h1: Agent;
let h2: Agent;

function call(agent: Agent, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return fetchReply(`https://127.0.0.1:${h.node.proxyAddress().port}${path}`, headers, 'GET', undefined, agent);
}

before(async () => {
  const ca = await makeCa();
  const site = await makeLeaf(ca, 'site', ['localhost']);
  auth = await startAuthService((req, res) => {
    const ok = req.headers['authorization'] === 'Bearer good';
    res.writeHead(ok ? 200 : 401, ok ? { 'x-auth-user': 'tess' } : { 'www-authenticate': 'Basic realm="site"' });
    res.end();
  });
  h = await startHarness(
    (_req, res) => {
      res.writeHead(200, { 'cache-control': 'public, max-age=60', server: 'gunicorn/21', 'content-length': '6' });
      res.end('secret');
    },
    {
      tls: { certificates: [site] },
      edge: edgeRules({ forwardAuth: { url: auth.url, identityFields: ['x-auth-user'] }, filters: filterRules().parse([{ name: 'no-env', action: 'deny', paths: ['/**.env'] }]) }),
    } as Parameters<typeof startHarness>[1],
  );
  ({ h1, h2 } = tlsAgents(ca));
});

after(async () => {
  await h1.close();
  await h2.close();
  await h.close();
  await auth.close();
});

test('forward-auth, cache hits, hidden fields and filters over HTTPS/1.1 and HTTP/2', { timeout: 30_000 }, async () => {
  for (const [proto, agent] of [['h1', h1], ['h2', h2]] as const) {
    const path = `/doc-${proto}`;
    const first = await call(agent, path, { authorization: 'Bearer good' });
    assert.equal(first.status, 200, proto);
    assert.equal(first.text, 'secret');
    assert.equal(first.headers['server'], undefined, `${proto}: origin software hidden`);
    await h.stored(proto === 'h1' ? 1 : 2);
    const refused = await call(agent, path);
    assert.equal(refused.status, 401, proto);
    assert.equal(refused.headers['www-authenticate'], 'Basic realm="site"');
    assert.doesNotMatch(refused.text, /secret/);
    const hit = await call(agent, path, { authorization: 'Bearer good' });
    assert.match(hit.headers['cache-status']!, /; hit/, proto);
    const denied = await call(agent, '/app/.env', { authorization: 'Bearer good' });
    assert.equal(denied.status, 403, proto);
    assert.match(denied.text, /"no-env"/);
  }
  assert.ok(auth.asked.every((q) => q['x-forwarded-proto'] === 'https'), 'the auth service is told the client used https');
  assert.equal(h.origin.requests.filter((r) => r.url.startsWith('/doc-')).length, 2);
  assert.ok(h.origin.requests.every((r) => r.headers['x-auth-user'] === 'tess'));
});
