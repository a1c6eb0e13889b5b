// Reload (POST /reload on the admin listener) of each live setting while clients
// keep sending requests over kept-alive connections: none of them fails. Also: a
// request in flight finishes on the pool it started with; an upstream listed
// before and after keeps its health state; an invalid configuration is refused
// (422, one line naming key, value and expectation) and the old one keeps
// serving; restart-only changes are named, not applied; feature hooks. Real
// origins, a real node, a real client; waits are on events, never on sleeps.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Client } from 'undici';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { createNode, type StrataNode } from '../../src/node.js';
import { FakeClock } from '../../src/util/clock.js';
import { fetchReply, startOrigin, testConfig, until, type OriginHandler, type Reply, type TestOrigin } from '../fixtures/harness.js';

const TOKEN = 'reload-token';

/** Answers its own name, uncacheable, so every request reaches an upstream. */
function named(name: string): OriginHandler {
  return (_req, res) => {
    res.writeHead(200, { 'cache-control': 'no-store', 'content-length': name.length });
    res.end(name);
  };
}

interface Reloadable {
  node: StrataNode;
  clock: FakeClock;
  origins: TestOrigin[];
  logs: Record<string, unknown>[];
  base: string;
  /** What the next reload reads; a test edits it (a copy of the running one to start with). */
  next: Config;
  /** Replaces the configuration source (e.g. with one that reads an invalid file). */
  source?: () => Readonly<Config>;
  reload(): Promise<{ status: number; body: Record<string, unknown> }>;
  stats(): Promise<{ origin: { balancer: string; upstreams: { name: string; state: string; weight: number; requests: number; transitions: number }[] } }>;
  close(): Promise<void>;
}

async function startReloadable(handlers: OriginHandler[], overrides: Parameters<typeof testConfig>[2] = {}): Promise<Reloadable> {
  const clock = new FakeClock(Date.now());
  const origins = await Promise.all(handlers.map((h) => startOrigin(h, clock)));
  const cacheDir = await mkdtemp(join(tmpdir(), 'strata-reload-'));
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) logs.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const config = testConfig(origins[0]!.url, cacheDir, { admin: { listen: { host: '127.0.0.1', port: 0 }, token: TOKEN, hosts: [] }, ...overrides });
  config.origin.upstreams = origins.map((o) => ({ url: o.url, weight: 1, maxConnections: config.origin.maxConnections }));
  const r: Reloadable = {
    node: undefined as unknown as StrataNode,
    clock,
    origins,
    logs,
    base: '',
    next: structuredClone(config),
    reload: async () => {
      const res = await fetchReply(`http://127.0.0.1:${r.node.adminAddress().port}/reload`, { authorization: `Bearer ${TOKEN}` }, 'POST');
      return { status: res.status, body: JSON.parse(res.text) as Record<string, unknown> };
    },
    stats: async () => JSON.parse((await fetchReply(`http://127.0.0.1:${r.node.adminAddress().port}/stats`)).text),
    close: async () => {
      await r.node.stop();
      await Promise.all(origins.map((o) => o.close()));
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
  r.node = createNode(config, { clock, logDestination: sink as Writable & { write(s: string): boolean }, loadConfig: () => (r.source ? r.source() : structuredClone(r.next)) });
  await r.node.start();
  r.base = `http://127.0.0.1:${r.node.proxyAddress().port}`;
  return r;
}

/** Resolves once the asynchronous `cond` holds; fails after 5 s naming what was awaited. */
async function eventually(cond: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Clients requesting `paths` back to back on kept-alive connections until stopped; every non-200 or error is a failure. */
function steadyLoad(base: string, paths: string[], clients = 6) {
  let running = true;
  const failures: string[] = [];
  const bodies = new Map<string, number>();
  let ok = 0;
  const loops = Array.from({ length: clients }, async (_, i) => {
    for (let n = i; running; n++) {
      const path = paths[n % paths.length]!;
      try {
        const res = await fetchReply(base + path);
        if (res.status !== 200) failures.push(`${path}: ${res.status} ${res.text.slice(0, 200)}`);
        else {
          ok++;
          bodies.set(res.text, (bodies.get(res.text) ?? 0) + 1);
        }
      } catch (err) {
        failures.push(`${path}: ${(err as Error).message}`);
      }
    }
  });
  return {
    failures,
    get ok() {
      return ok;
    },
    seen: (body: string) => bodies.get(body) ?? 0,
    /** Resolves once `n` more requests succeeded. */
    more: (n: number) => {
      const target = ok + n;
      return until(() => ok >= target || failures.length > 0, `${n} more answers under load`);
    },
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

test('upstreams swapped from origin A to origin B under load: no request fails, in-flight ones finish on A, then A gets nothing', async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const a: OriginHandler = (req, res) => {
    if (req.url === '/slow') return void released.then(() => named('A-slow')(req, res, Buffer.alloc(0)));
    named('A')(req, res, Buffer.alloc(0));
  };
  const r = await startReloadable([a, named('B')]);
  // Start on A alone; B is configured only by the reload.
  const [A, B] = r.origins as [TestOrigin, TestOrigin];
  r.next.origin.upstreams = [r.next.origin.upstreams[0]!];
  await r.node.reload(structuredClone(r.next));
  const load = steadyLoad(r.base, ['/p1', '/p2', '/p3']);
  // One kept-alive connection used before and after the reload: it is never closed.
  const conn = new Client(r.base);
  let connects = 0;
  let disconnects = 0;
  conn.on('connect', () => connects++).on('disconnect', () => disconnects++);
  const onConn = async (path: string): Promise<string> => {
    const res = await conn.request({ method: 'GET', path });
    return res.body.text();
  };
  try {
    assert.equal(await onConn('/c1'), 'A');
    await load.more(30);
    const slow = fetchReply(`${r.base}/slow`);
    await until(() => A.count('/slow') === 1, 'the slow request at A');

    r.next.origin.upstreams = [{ url: B.url, weight: 1, maxConnections: 64 }];
    const answer = await r.reload();
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.status, 'reloaded');
    assert.deepEqual((answer.body.applied as { key: string }[]).map((c) => c.key), ['origin.upstreams']);
    assert.deepEqual(answer.body.restartRequired, []);

    await until(() => load.seen('B') >= 30, 'answers from B');
    assert.equal(await onConn('/c2'), 'B');
    assert.deepEqual({ connects, disconnects }, { connects: 1, disconnects: 0 });
    const aAfter = A.count();
    await load.more(60);
    assert.equal(A.count(), aAfter, 'A receives nothing once the reload answered and B answers');
    // The request in flight on A's pool when the pool was replaced finishes there.
    release();
    const s = await slow;
    assert.equal(s.status, 200);
    assert.equal(s.text, 'A-slow');
    await load.stop();
    assert.deepEqual(load.failures, []);
    const stats = await r.stats();
    assert.deepEqual(stats.origin.upstreams.map((u) => u.name), [B.url]);
  } finally {
    release();
    await load.stop();
    await conn.close();
    await r.close();
  }
});

test('weights reloaded under load: the new shares apply; an upstream in both keeps its pool, figures and health', async () => {
  const r = await startReloadable([named('A'), named('B')], { origin: { balancer: 'round-robin' } });
  const [A, B] = r.origins as [TestOrigin, TestOrigin];
  const load = steadyLoad(r.base, ['/w1', '/w2']);
  try {
    await load.more(40);
    const before = (await r.stats()).origin.upstreams;
    r.next.origin.upstreams = [
      { url: A.url, weight: 3, maxConnections: 64 },
      { url: B.url, weight: 1, maxConnections: 64 },
    ];
    const answer = await r.reload();
    assert.equal(answer.status, 200);
    const after = (await r.stats()).origin.upstreams;
    assert.deepEqual(after.map((u) => u.weight), [3, 1]);
    // The same upstream objects: their request counts go on, they did not restart from zero.
    for (const i of [0, 1]) assert.ok(after[i]!.requests >= before[i]!.requests, `${after[i]!.name} counts on`);
    const a0 = A.count();
    const b0 = B.count();
    await load.more(400);
    const share = (A.count() - a0) / (A.count() - a0 + B.count() - b0);
    assert.ok(share > 0.68 && share < 0.82, `A's share ${share} (expected 3/4)`);
    await load.stop();
    assert.deepEqual(load.failures, []);
  } finally {
    await load.stop();
    await r.close();
  }
});

test('balancer changed under load: consistent-hash sends each path to one upstream from the reload on', async () => {
  const r = await startReloadable([named('A'), named('B')], { origin: { balancer: 'round-robin' } });
  const load = steadyLoad(r.base, ['/b1', '/b2', '/b3']);
  try {
    await load.more(30);
    r.next.origin.balancer = 'consistent-hash';
    const answer = await r.reload();
    assert.deepEqual(answer.body.applied, [{ key: 'origin.balancer', from: 'round-robin', to: 'consistent-hash' }]);
    assert.equal((await r.stats()).origin.balancer, 'consistent-hash');
    for (let p = 0; p < 6; p++) {
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) seen.add((await fetchReply(`${r.base}/home${p}`)).text);
      assert.equal(seen.size, 1, `/home${p} went to ${[...seen].join(' and ')}`);
    }
    await load.stop();
    assert.deepEqual(load.failures, []);
  } finally {
    await load.stop();
    await r.close();
  }
});

test('health checks turned on by a reload take a failing upstream out under load; a later reload keeps its health state', async () => {
  const sick: OriginHandler = (req, res) => {
    if (req.url === '/health') {
      res.writeHead(503, { 'content-length': 0 });
      return void res.end();
    }
    named('B')(req, res, Buffer.alloc(0));
  };
  const r = await startReloadable([named('A'), sick]);
  const [A, B] = r.origins as [TestOrigin, TestOrigin];
  const load = steadyLoad(r.base, ['/h1', '/h2']);
  try {
    await load.more(30);
    assert.ok(load.seen('B') > 0, 'B serves before checks are on');
    r.next.origin.healthCheck = { ...r.next.origin.healthCheck, path: '/health', intervalMs: 50, unhealthyThreshold: 1 };
    assert.equal((await r.reload()).status, 200);
    await until(() => B.count('/health') > 0 && A.count('/health') > 0, 'probes of both upstreams');
    await eventually(async () => (await r.stats()).origin.upstreams[1]!.state === 'unhealthy', 'B unhealthy');
    const upstreams = (await r.stats()).origin.upstreams;
    const served = B.count() - B.count('/health');
    await load.more(60);
    assert.equal(B.count() - B.count('/health'), served, 'an unhealthy upstream gets no traffic');

    // A's weight and every upstream's timeouts change (new undici pools): B keeps its
    // verdict (no new transition) and its figures; A keeps serving.
    const transitions = upstreams[1]!.transitions;
    r.next.origin.upstreams = [{ ...r.next.origin.upstreams[0]!, weight: 2 }, r.next.origin.upstreams[1]!];
    r.next.origin.headersTimeoutMs = 4000;
    const answer = await r.reload();
    assert.deepEqual((answer.body.applied as { key: string }[]).map((c) => c.key), ['origin.upstreams', 'origin.headersTimeoutMs']);
    const after = (await r.stats()).origin.upstreams;
    assert.equal(after[1]!.state, 'unhealthy');
    assert.equal(after[1]!.transitions, transitions);
    assert.ok(after[1]!.requests >= upstreams[1]!.requests);
    await load.more(30);
    await load.stop();
    assert.deepEqual(load.failures, []);
  } finally {
    await load.stop();
    await r.close();
  }
});

test('cache rules reloaded: a stale window applies to entries already stored; their freshness stays what it was when stored', async () => {
  let failing = false;
  let clock!: FakeClock;
  const origin: OriginHandler = (req, res) => {
    if (req.url === '/doc' && failing) {
      res.writeHead(500, { 'content-length': 4 });
      return void res.end('oops');
    }
    if (req.url === '/heur') {
      // No explicit freshness: heuristic, a fraction of the 100 s since Last-Modified.
      res.writeHead(200, { 'last-modified': new Date(clock.now() - 100_000).toUTCString(), 'content-length': 4 });
      return void res.end('heur');
    }
    const body = `v:${req.url}`;
    res.writeHead(200, { 'cache-control': 'max-age=10', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const r = await startReloadable([origin]);
  clock = r.clock;
  try {
    assert.equal((await fetchReply(`${r.base}/doc`)).text, 'v:/doc');
    assert.equal((await fetchReply(`${r.base}/heur`)).text, 'heur');
    await until(() => r.node.stats.counters.stored >= 2, 'stored');
    const load = steadyLoad(r.base, ['/hot']);
    try {
      await load.more(30);
      r.clock.advance(30_000);
      failing = true;
      assert.equal((await fetchReply(`${r.base}/doc`)).status, 500, 'no stale-if-error window yet');
      r.next.cache.staleIfErrorS = 600;
      const answer = await r.reload();
      assert.deepEqual(answer.body.applied, [{ key: 'cache.staleIfErrorS', from: 0, to: 600 }]);
      const stale: Reply = await fetchReply(`${r.base}/doc`);
      assert.equal(stale.status, 200);
      assert.equal(stale.text, 'v:/doc');
      assert.match(stale.headers['cache-status']!, /stale-if-error/);

      // /heur was stored with 10 s of heuristic freshness (0.1 × 100 s). A larger
      // fraction applies to what is stored from now on, not to it: 30 s later it is stale.
      r.next.cache.heuristicFraction = 0.9;
      assert.equal((await r.reload()).status, 200);
      const heur = await fetchReply(`${r.base}/heur`);
      assert.doesNotMatch(heur.headers['cache-status']!, /; ?hit/);
      assert.equal(r.origins[0]!.count('/heur'), 2);
      await load.more(30);
      await load.stop();
      assert.deepEqual(load.failures, []);
    } finally {
      await load.stop();
    }
  } finally {
    await r.close();
  }
});

test('a limit reloaded under load: a longer URL than the new limits.maxUrlBytes is refused from then on', async () => {
  const r = await startReloadable([named('A')]);
  const long = `/${'x'.repeat(300)}`;
  const load = steadyLoad(r.base, ['/l1', '/l2']);
  try {
    assert.equal((await fetchReply(r.base + long)).status, 200);
    r.next.limits.maxUrlBytes = 200;
    assert.deepEqual((await r.reload()).body.applied, [{ key: 'limits.maxUrlBytes', from: '8KiB', to: '200' }]);
    const refused = await fetchReply(r.base + long);
    assert.equal(refused.status, 414);
    // The header limit applies to connections accepted after the reload.
    const bigHeader = { 'x-big': 'y'.repeat(6000) };
    assert.equal((await fetchReply(`${r.base}/l1`, bigHeader)).status, 200);
    r.next.limits.maxHeaderBytes = 4096;
    assert.equal((await r.reload()).status, 200);
    const fresh = new Client(r.base);
    try {
      const res = await fresh.request({ method: 'GET', path: '/l1', headers: bigHeader });
      await res.body.dump();
      assert.equal(res.statusCode, 431);
    } finally {
      await fresh.destroy();
    }
    await load.more(40);
    await load.stop();
    assert.deepEqual(load.failures, []);
  } finally {
    await load.stop();
    await r.close();
  }
});

test('log level reloaded: warn turns the access lines off, info turns them on again', async () => {
  const r = await startReloadable([named('A')], { logLevel: 'info' });
  const accessFor = (url: string) => r.logs.filter((l) => l.msg === 'access' && l.url === url);
  const load = steadyLoad(r.base, ['/g1']);
  try {
    await fetchReply(`${r.base}/before`);
    await until(() => accessFor('/before').length === 1, 'the access line of /before');
    r.next.logLevel = 'warn';
    assert.equal((await r.reload()).status, 200);
    await fetchReply(`${r.base}/while-warn`);
    r.next.logLevel = 'info';
    assert.equal((await r.reload()).status, 200);
    await fetchReply(`${r.base}/after`);
    await until(() => accessFor('/after').length === 1, 'the access line of /after');
    assert.equal(accessFor('/while-warn').length, 0);
    await load.more(20);
    await load.stop();
    assert.deepEqual(load.failures, []);
  } finally {
    await load.stop();
    await r.close();
  }
});

test('an invalid configuration is refused with its one-line error; the old one keeps serving', async () => {
  const r = await startReloadable([named('A')], { logLevel: 'error' });
  const load = steadyLoad(r.base, ['/i1', '/i2']);
  try {
    await load.more(20);
    const running = r.node.config();
    r.source = () => loadConfig({ argv: [], env: {}, hostname: 'h', file: 'strata.yaml', readFile: () => 'origin:\n  url: http://127.0.0.1:1\n  balancer: fastest\n' });
    const answer = await r.reload();
    assert.equal(answer.status, 422);
    assert.equal(answer.body.error, 'RELOAD_REFUSED');
    assert.match(answer.body.message as string, /^config file strata\.yaml: origin\.balancer: "fastest" .*expected/);
    assert.ok(!(answer.body.message as string).includes('\n'));
    assert.equal(r.node.config(), running, 'the running configuration is unchanged');
    assert.deepEqual([r.node.stats.counters.reloads, r.node.stats.counters.reloadsRefused], [0, 1]);
    await until(() => r.logs.some((l) => l.level === 50 && /reload refused/.test(String(l.msg))), 'the refusal logged');
    await load.more(40);
    assert.equal(load.seen('A') > 0, true);
    await load.stop();
    assert.deepEqual(load.failures, []);
  } finally {
    await load.stop();
    await r.close();
  }
});

test('restart-only changes are named with running and configured values and not applied; live ones beside them are', async () => {
  const r = await startReloadable([named('A')]);
  try {
    const port = r.node.proxyAddress().port;
    r.next.listen = { host: '127.0.0.1', port: port + 1 };
    r.next.cache.dir = '/somewhere/else';
    r.next.cache.memoryMaxBytes = 1024 * 1024;
    r.next.cache.staleWhileRevalidateS = 5;
    const answer = await r.reload();
    assert.equal(answer.status, 200);
    const restart = answer.body.restartRequired as { key: string; from: unknown; to: unknown }[];
    assert.deepEqual(restart.map((c) => c.key), ['listen', 'cache.dir', 'cache.memoryMaxBytes']);
    assert.deepEqual(restart[0], { key: 'listen', from: `127.0.0.1:0`, to: `127.0.0.1:${port + 1}` });
    assert.deepEqual(answer.body.applied, [{ key: 'cache.staleWhileRevalidateS', from: 0, to: 5 }]);
    assert.equal(r.node.proxyAddress().port, port);
    assert.equal(r.node.config().cache.staleWhileRevalidateS, 5);
    assert.notEqual(r.node.config().cache.dir, '/somewhere/else');
    assert.equal((await fetchReply(`${r.base}/still`)).status, 200);
    // Still pending: the next reload of the same sources names them again.
    const again = await r.reload();
    assert.deepEqual((again.body.restartRequired as { key: string }[]).map((c) => c.key), ['listen', 'cache.dir', 'cache.memoryMaxBytes']);
    assert.deepEqual(again.body.applied, []);
    assert.match(await (await fetchReply(`http://127.0.0.1:${r.node.adminAddress().port}/metrics`)).text, /^strata_reloads_total 2$/m);
  } finally {
    await r.close();
  }
});

test('POST /reload needs the admin token; nothing changed answers "unchanged"; GET is 405', async () => {
  const r = await startReloadable([named('A')]);
  try {
    const url = `http://127.0.0.1:${r.node.adminAddress().port}/reload`;
    assert.equal((await fetchReply(url, {}, 'POST')).status, 401);
    assert.equal((await fetchReply(url, { authorization: 'Bearer wrong' }, 'POST')).status, 401);
    assert.equal((await fetchReply(url, { authorization: `Bearer ${TOKEN}` })).status, 405);
    const answer = await r.reload();
    assert.deepEqual(answer.body, { status: 'unchanged', applied: [], restartRequired: [] });
    // A new token applies at once: the old one no longer works.
    r.next.admin.token = 'rotated';
    assert.deepEqual((await r.reload()).body.applied, [{ key: 'admin.token', from: '(secret)', to: '(secret)' }]);
    assert.equal((await fetchReply(url, { authorization: `Bearer ${TOKEN}` }, 'POST')).status, 401);
    assert.equal((await fetchReply(url, { authorization: 'Bearer rotated' }, 'POST')).status, 200);
  } finally {
    await r.close();
  }
});

test('reload hooks: a hook refusing in check() refuses the reload and nothing is applied; apply() gets the new config', async () => {
  const r = await startReloadable([named('A')]);
  try {
    const applied: number[] = [];
    let refuse = true;
    r.node.onReload({
      name: 'tls',
      check: () => {
        if (refuse) throw new Error('cert.pem: not a PEM certificate');
      },
      apply: (next) => void applied.push(next.cache.staleIfErrorS),
    });
    r.next.cache.staleIfErrorS = 30;
    const answer = await r.reload();
    assert.equal(answer.status, 422);
    assert.equal(answer.body.message, 'tls: cert.pem: not a PEM certificate');
    assert.equal(r.node.config().cache.staleIfErrorS, 0);
    assert.deepEqual(applied, []);
    refuse = false;
    assert.equal((await r.reload()).status, 200);
    assert.deepEqual(applied, [30]);
    // Every reload runs the hooks, changed settings or not (a certificate file may have changed).
    assert.equal((await r.reload()).body.status, 'unchanged');
    assert.deepEqual(applied, [30, 30]);
  } finally {
    await r.close();
  }
});
