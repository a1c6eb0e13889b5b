// GET /explain over a running node: a stored URL (tier, TTL, the field that won,
// tags), a URL whose response was refused (the reason, hit-for-pass), and the
// refusals: no token, wrong Host, no url; a failure inside is answered 500 and logged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Explanation } from '../../src/cache/explain.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createExplainRoute, type ExplainDeps } from '../../src/admin/explain.js';
import { FakeClock } from '../../src/util/clock.js';
import { fetchReply, startHarness, type Harness, type Reply } from '../fixtures/harness.js';

const TOKEN = 'explain-token';
const auth = { authorization: `Bearer ${TOKEN}` };

function ask(h: Harness, url: string | undefined, headers: Record<string, string> = auth): Promise<Reply> {
  return fetchReply(h.admin + '/explain' + (url === undefined ? '' : `?url=${encodeURIComponent(url)}`), headers);
}

async function explained(h: Harness, url: string): Promise<Explanation> {
  const r = await ask(h, url);
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers['content-type']!, /application\/json/);
  return JSON.parse(r.text) as Explanation;
}

test('GET /explain: a stored URL (tier, TTL, winning field, tags) and a refused one (reason, hit-for-pass)', async () => {
  const h = await startHarness(
    (req, res) => {
      if (req.url === '/cached') res.writeHead(200, { 'cache-control': 'max-age=10', 'cdn-cache-control': 'max-age=600', 'surrogate-key': 'home news', 'content-length': '2' });
      else res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '2' });
      res.end('ok');
    },
    { admin: { token: TOKEN } },
  );
  try {
    await h.node.ready();
    assert.equal((await h.get('/cached')).status, 200);
    await h.stored(1);
    h.clock.advance(100_000);
    const url = h.base + '/cached';
    const e = await explained(h, url);
    assert.equal(e.cached, true);
    assert.equal(e.primaryKey, `GET ${url}`);
    assert.equal(e.variants.length, 1);
    const v = e.variants[0]!;
    assert.ok(['memory', 'both'].includes(v.tier), v.tier);
    assert.equal(v.status, 200);
    assert.deepEqual(v.freshness, { source: 'cdn-cache-control', field: 'cdn-cache-control', directive: 'max-age', value: 'max-age=600' });
    assert.equal(v.lifetimeS, 600);
    assert.ok(v.ttlS > 490 && v.ttlS <= 500, String(v.ttlS));
    assert.equal(v.fresh, true);
    assert.deepEqual(v.tags, ['home', 'news']);
    assert.equal(e.hitForPass, false);
    assert.equal(e.lastNotStored, null);
    assert.match(e.why.join(' '), /lifetime of 600 s comes from cdn-cache-control: max-age=600/);
    assert.match(e.why.join(' '), /is fresh for \d+ s more/);

    assert.equal((await h.get('/private-page')).status, 200);
    const n = await explained(h, h.base + '/private-page');
    assert.equal(n.cached, false);
    assert.equal(n.lastNotStored!.reason, 'no-store');
    assert.equal(n.lastNotStored!.status, 200);
    assert.equal(n.hitForPass, true);
    assert.match(n.why.join(' '), /refused: no-store/);

    // A path is looked up under the origin host (nothing was asked under it here).
    const p = await explained(h, '/cached');
    assert.equal(p.primaryKey, `GET ${h.origin.url}/cached`);
    assert.match(p.hostRule, /origin host/);
  } finally {
    await h.close();
  }
});

test('GET /explain refusals: 401 without the token, 403 with none configured, 421 for another Host, 400 without url', async () => {
  const h = await startHarness((_req, res) => res.end('ok'), { admin: { token: TOKEN } });
  try {
    let r = await ask(h, '/a', {});
    assert.equal(r.status, 401);
    assert.equal((JSON.parse(r.text) as { error: string }).error, 'UNAUTHORIZED');
    assert.match(r.headers['www-authenticate']!, /^Bearer/);
    r = await ask(h, '/a', { authorization: 'Bearer wrong' });
    assert.equal(r.status, 401);
    r = await ask(h, '/a', { ...auth, host: 'evil.example' });
    assert.equal(r.status, 421);
    r = await ask(h, undefined);
    assert.equal(r.status, 400);
    assert.equal((JSON.parse(r.text) as { error: string }).error, 'BAD_REQUEST');
    assert.match((JSON.parse(r.text) as { message: string }).message, /explain needs \?url=/);
    r = await ask(h, 'not a url');
    assert.equal(r.status, 400);
  } finally {
    await h.close();
  }
  const off = await startHarness((_req, res) => res.end('ok'));
  try {
    const r = await ask(off, '/a');
    assert.equal(r.status, 403);
    assert.equal((JSON.parse(r.text) as { error: string }).error, 'EXPLAIN_DISABLED');
  } finally {
    await off.close();
  }
});

test('GET /explain that fails inside (its store rejects a read) answers 500 and logs the failure with its code and message', async () => {
  // The failure comes through the store the route is given: a record whose metadata read
  // throws (a damaged line is a miss since index-log.ts checks the shape of what it reads).
  const logged: { fields: Record<string, unknown>; msg: string }[] = [];
  const route = createExplainRoute({
    token: TOKEN,
    logger: { error: (fields: Record<string, unknown>, msg: string) => void logged.push({ fields, msg }) } as ExplainDeps['logger'],
    clock: new FakeClock(Date.now()),
    originHost: 'origin.test',
    targetedField: 'cdn-cache-control',
    defaults: { staleWhileRevalidateS: 0, staleIfErrorS: 0 },
    store: {
      variants: (pk) => [{ key: pk, primaryKey: pk, varyNames: [], varyValues: {}, responseTimeMs: 0 }],
      readMeta: () => Promise.reject(new Error('index line of the entry unreadable')),
      memory: { has: () => false },
      disk: { has: () => true, stats: () => ({ loading: false }) },
    },
    notStored: { get: () => undefined },
    hitForPass: () => false,
  });
  const server = createServer(route);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const r = await fetchReply(`http://127.0.0.1:${port}/explain?url=${encodeURIComponent('/failing')}`, auth);
    assert.equal(r.status, 500);
    assert.equal((JSON.parse(r.text) as { error: string }).error, 'INTERNAL');
    assert.equal(logged.length, 1, 'one error line');
    const [line] = logged;
    assert.equal(line!.msg, 'admin request failed');
    assert.equal(line!.fields.admin, 'explain');
    assert.equal(line!.fields.code, 'INTERNAL');
    assert.match(String(line!.fields.err), /unreadable/, 'with the failure message');
    assert.match(String(line!.fields.url), /^\/explain\?url=/);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
