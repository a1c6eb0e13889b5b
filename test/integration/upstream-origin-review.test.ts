// Origin-side review cases (pool, retries, timeouts), each a defect reproduced over
// real sockets before it was fixed. Origins are node:http servers on 127.0.0.1.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { fetchReply, startOrigin, startPoolHarness, until, type OriginHandler } from '../fixtures/harness.js';
import { originStats } from './upstream-pool-node.js';
import { startReloadable } from './reload-node.js';

test('a GET whose kept-alive connection the origin closed as it was reused is sent again on a fresh one: a single upstream does not answer 502', async () => {
  // The keep-alive race every proxy meets: the origin closes an idle connection just as
  // a request is written on it. Played here by resetting every second request of a connection.
  const served = new WeakMap<Socket, number>();
  const racy: OriginHandler = (req, res) => {
    const n = (served.get(req.socket) ?? 0) + 1;
    served.set(req.socket, n);
    if (n > 1) return void req.socket.destroy();
    res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '2', 'keep-alive': 'timeout=60' });
    res.end('ok');
  };
  const h = await startPoolHarness([{ handler: racy }], { logLevel: 'info', origin: { passiveHealth: { maxFails: 1, ejectMs: 60_000, maxEjectMs: 60_000 } } });
  try {
    for (let i = 0; i < 4; i++) {
      const r = await h.get(`/ka${i}`);
      assert.equal(r.status, 200, `request ${i}: ${r.text}`);
      assert.equal(r.text, 'ok');
    }
    const s = await originStats(h);
    assert.equal(s.upstreams[0]!.state, 'healthy', 'a stale kept-alive connection says nothing of the upstream');
  } finally {
    await h.close();
  }
});

test('a POST on a kept-alive connection the origin reset is never sent again', async () => {
  const served = new WeakMap<Socket, number>();
  let posts = 0;
  const racy: OriginHandler = (req, res) => {
    const n = (served.get(req.socket) ?? 0) + 1;
    served.set(req.socket, n);
    if (req.method === 'POST') posts++;
    if (n > 1) return void req.socket.destroy();
    res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '2' });
    res.end('ok');
  };
  const h = await startPoolHarness([{ handler: racy }], {});
  try {
    assert.equal((await h.get('/warm')).status, 200);
    const r = await fetchReply(h.base + '/form', { 'content-type': 'text/plain' }, 'POST', 'x=1');
    assert.equal(r.status, 502);
    assert.equal(posts, 1, 'the POST reached the origin once');
  } finally {
    await h.close();
  }
});

test('a request waiting for one of maxConnections busy connections is answered 504 within connect + headers timeout, not after every request ahead of it', async () => {
  // An origin that never answers, and a pool of one connection: each request ahead in the
  // queue used to add a whole headers timeout to the wait of the ones behind it.
  const stuck: OriginHandler = () => undefined;
  const h = await startPoolHarness([{ handler: stuck }], {
    logLevel: 'warn',
    origin: { maxConnections: 1, connectTimeoutMs: 200, headersTimeoutMs: 300, passiveHealth: { maxFails: 0, ejectMs: 1000, maxEjectMs: 1000 } },
  });
  try {
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const r = await h.get(`/queued${i}`);
        return { status: r.status, ms: performance.now() - started };
      }),
    );
    assert.deepEqual(answers.map((a) => a.status), Array(8).fill(504));
    const slowest = Math.max(...answers.map((a) => a.ms));
    // Eight headers timeouts one after the other would be 2.4 s.
    assert.ok(slowest < 1_500, `every request answered within connect + headers timeout (+ margin): slowest ${Math.round(slowest)} ms`);
    const logged = await h.logged((l) => l['code'] === 'ORIGIN_TIMEOUT' && /waited .* for a connection/.test(String(l['msg'])));
    assert.ok(logged.length > 0);
  } finally {
    await h.close();
  }
});

test('an ejection is not lifted by a slow request that began before it', async () => {
  // An upstream answering 503 is ejected; a request it took before that, answered
  // late with a 200, is old news and must not bring it back at once.
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let held = false;
  const ailing: OriginHandler = (req, res) => {
    if (req.url === '/slow') {
      held = true;
      void released.then(() => res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '4' }).end('late'));
      return;
    }
    res.writeHead(503, { 'cache-control': 'no-store', 'content-length': '4' }).end('down');
  };
  const h = await startPoolHarness([{ handler: ailing }], { origin: { passiveHealth: { maxFails: 2, ejectMs: 60_000, maxEjectMs: 60_000 } } });
  try {
    const slow = h.get('/slow');
    await h.until(() => held, 'the slow request reached the origin');
    assert.equal((await h.get('/bad1')).status, 503);
    assert.equal((await h.get('/bad2')).status, 503);
    assert.equal((await originStats(h)).upstreams[0]!.state, 'ejected');
    release();
    assert.equal((await slow).status, 200);
    const s = (await originStats(h)).upstreams[0]!;
    assert.equal(s.state, 'ejected', `still ejected after a success of a request sent before the ejection (last: ${JSON.stringify(s.lastTransition)})`);
  } finally {
    release();
    await h.close();
  }
});

test('an outage does not multiply origin load: retries under way at once are bounded by a share of the requests in flight', async () => {
  // Every upstream resets every request. The first attempts of 40 concurrent misses are held
  // until all have arrived, then reset together: without a budget each was sent to all three.
  const N = 40;
  let received = 0;
  const held: { destroy(): void }[] = [];
  const resetting: OriginHandler = (req) => {
    received++;
    if (received > N) return void req.socket.destroy();
    held.push(req.socket);
    if (received === N) for (const s of held.splice(0)) s.destroy();
  };
  const h = await startPoolHarness([{ handler: resetting }, { handler: resetting }, { handler: resetting }], {
    logLevel: 'info',
    origin: { balancer: 'round-robin', passiveHealth: { maxFails: 0, ejectMs: 1000, maxEjectMs: 1000 } },
  });
  try {
    const statuses = await Promise.all(Array.from({ length: N }, (_, i) => h.get(`/outage${i}`).then((r) => r.status)));
    assert.deepEqual(statuses, Array(N).fill(502));
    assert.ok(received < N * 1.5, `origin requests for ${N} misses: ${received} (without a budget: ${N * 3})`);
    await h.logged((l) => /retry budget/.test(String(l['msg'])));
    // Alone, a request still gets its retries.
    const before = received;
    assert.equal((await h.get('/alone')).status, 502);
    assert.equal(received - before, 3);
  } finally {
    await h.close();
  }
});

test('p2c-ewma: an upstream added by a reload, with no latency sample yet, takes one request, not a burst, until its first answer', async () => {
  const a: OriginHandler = (_req, res) => {
    setTimeout(() => res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '1' }).end('a'), 20);
  };
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const cold: OriginHandler = (_req, res) => void released.then(() => res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '1' }).end('b'));
  const r = await startReloadable([a], { origin: { balancer: 'p2c-ewma' } });
  const b = await startOrigin(cold);
  try {
    for (let i = 0; i < 5; i++) assert.equal((await fetchReply(`${r.base}/warm${i}`)).text, 'a');
    r.next.origin.upstreams = [...r.next.origin.upstreams, { url: b.url, weight: 1, maxConnections: 64 }];
    assert.equal((await r.reload()).status, 200);
    const answers = Array.from({ length: 20 }, (_, i) => fetchReply(`${r.base}/burst${i}`));
    await until(() => r.origins[0]!.count() + b.count() >= 5 + 20, 'the burst reached the upstreams');
    const toCold = b.count();
    release();
    await Promise.all(answers);
    assert.ok(toCold <= 2, `requests sent to the unsampled upstream before its first answer: ${toCold}`);
  } finally {
    release();
    await r.close();
    await b.close();
  }
});

test('interim responses do not hold a request past the headers timeout: an origin sending 102 Processing forever gets a 504', async () => {
  // undici restarts its headers timeout at every 1xx: an origin sending 102 every 150 ms
  // held the request, its connection and the client without end.
  const timers: NodeJS.Timeout[] = [];
  const processing: OriginHandler = (_req, res) => void timers.push(setInterval(() => res.writeProcessing(), 150));
  const h = await startPoolHarness([{ handler: processing }], { origin: { headersTimeoutMs: 500, passiveHealth: { maxFails: 0, ejectMs: 1000, maxEjectMs: 1000 } } });
  try {
    const started = performance.now();
    const r = await Promise.race([h.get('/processing'), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5_000).unref())]);
    assert.ok(r !== undefined, 'answered within 5 s');
    assert.equal(r.status, 504);
    assert.ok(performance.now() - started < 2_000, `answered after ${Math.round(performance.now() - started)} ms`);
  } finally {
    for (const t of timers) clearInterval(t);
    await h.close();
  }
});
