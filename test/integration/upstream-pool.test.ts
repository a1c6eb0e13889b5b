// Several upstreams serving one site: an upstream going down and coming back,
// every upstream down, a slow upstream, resets, start-up with an unreachable
// upstream, probation, /stats and the Host sent. Balancers, weights and retries:
// upstream-balancing.test.ts. Real node:http origins on 127.0.0.1; waits are on
// logged transitions, never on sleeps.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { answersName, fetchReply, startPoolHarness, type OriginHandler } from '../fixtures/harness.js';
import { spread, originStats, msgFor } from './upstream-pool-node.js';

test('one of three upstreams goes down and comes back: no client error, traffic returns after recovery', async () => {
  const h = await startPoolHarness([{ handler: answersName('a') }, { handler: answersName('b') }, { handler: answersName('c') }], {
    logLevel: 'info',
    origin: {
      balancer: 'round-robin',
      healthCheck: { path: '/health', intervalMs: 20, timeoutMs: 500, healthyThreshold: 2, unhealthyThreshold: 2, expectStatuses: [[200, 299]] },
      passiveHealth: { maxFails: 2, ejectMs: 60_000, maxEjectMs: 60_000 },
    },
  });
  try {
    assert.deepEqual((await spread(h, 30)).by, { a: 10, b: 10, c: 10 });

    await h.origins[1]!.close();
    // Before detection: requests that land on b fail to connect and are retried elsewhere.
    const during = await spread(h, 30);
    assert.deepEqual(during.statuses, Array(30).fill(200), 'no client error while b is down');
    await h.logged((l) => l['upstream'] === h.origins[1]!.url && (l['msg'] === 'upstream unhealthy' || l['msg'] === 'upstream ejected'));
    await h.logged(msgFor(h, 1, 'upstream unhealthy'));

    const retriesBefore = (await originStats(h)).retries;
    const after = await spread(h, 30);
    assert.deepEqual(after.statuses, Array(30).fill(200));
    assert.deepEqual(after.by, { a: 15, c: 15 });
    assert.equal((await originStats(h)).retries, retriesBefore, 'once detected, b is not even tried');

    await h.origins[1]!.reopen();
    await h.logged(msgFor(h, 1, 'upstream healthy'));
    const back = await spread(h, 30);
    assert.deepEqual(back.statuses, Array(30).fill(200));
    assert.ok((back.by['b'] ?? 0) >= 9, `traffic returns to b: ${JSON.stringify(back.by)}`);
    const s = (await originStats(h)).upstreams[1]!;
    assert.equal(s.state, 'healthy');
    assert.equal(s.lastTransition?.to, 'healthy');
  } finally {
    await h.close();
  }
});

test('every upstream down and nothing stored: 502 (the cause in the log only), and they are tried anyway', async () => {
  const h = await startPoolHarness([{ handler: answersName('a') }, { handler: answersName('b') }, { handler: answersName('c') }], {
    logLevel: 'info',
    origin: { passiveHealth: { maxFails: 1, ejectMs: 60_000, maxEjectMs: 60_000 } },
  });
  try {
    // The start-up reachability check is done before the upstreams go away.
    await h.logged((l) => l['msg'] === 'upstream reachable at start', 3);
    await Promise.all(h.origins.map((o) => o.close()));
    const first = await h.get('/gone');
    assert.equal(first.status, 502);
    assert.match(first.text, /ORIGIN_UNREACHABLE/);
    for (const o of h.origins) assert.ok(!first.text.includes(`127.0.0.1:${o.port}`), 'no upstream address reaches the client');
    // The cause and the attempts are the operator's: in the log.
    await h.logged((l) => l['code'] === 'ORIGIN_UNREACHABLE' && /\(ECONNREFUSED\); 3 upstreams tried/.test(String(l['msg'])));
    for (let i = 0; i < 3; i++) await h.logged(msgFor(h, i, 'upstream ejected'));
    // All ejected: not failing closed, the next request still tries them.
    const second = await h.get('/gone');
    assert.equal(second.status, 502);
    await h.logged((l) => l['msg'] === 'no upstream available; trying them anyway');
    const s = await originStats(h);
    assert.equal(s.allDownRequests, 1);
    assert.deepEqual(s.upstreams.map((u) => u.state), ['ejected', 'ejected', 'ejected']);
    assert.deepEqual(s.upstreams.map((u) => u.requests), [2, 2, 2]);

    // One comes back: the all-down attempt succeeds, and it is healthy again at once.
    await h.origins[2]!.reopen();
    const r = await h.get('/back');
    assert.equal(r.status, 200);
    assert.equal(r.text, 'c');
    await h.logged(msgFor(h, 2, 'upstream healthy'));
    // The next request finds an available upstream again, and says so.
    assert.equal((await h.get('/back2')).text, 'c');
    await h.logged((l) => l['msg'] === 'upstreams available again');
  } finally {
    await h.close();
  }
});

test('a slow upstream: p2c-ewma sends it almost nothing', async () => {
  const slow: OriginHandler = (req, res) => setTimeout(() => answersName('slow')(req, res, Buffer.alloc(0)), 300);
  const h = await startPoolHarness([{ handler: answersName('a') }, { handler: slow }, { handler: answersName('c') }], { origin: { balancer: 'p2c-ewma' } });
  try {
    const { by, statuses } = await spread(h, 60);
    assert.deepEqual(statuses, Array(60).fill(200));
    // Round-robin would give it 20; p2c gives it a first sample or two, then avoids it.
    assert.ok((by['slow'] ?? 0) <= 3, JSON.stringify(by));
    const s = await originStats(h);
    assert.ok(s.upstreams[1]!.ewmaMs >= 250, `slow EWMA ${s.upstreams[1]!.ewmaMs}`);
  } finally {
    await h.close();
  }
});

test('an upstream past the headers timeout: 504s count against it until it is ejected, then none', async () => {
  const h = await startPoolHarness([{ handler: answersName('a') }, { handler: () => undefined }, { handler: answersName('c') }], {
    logLevel: 'info',
    origin: { balancer: 'round-robin', headersTimeoutMs: 300, passiveHealth: { maxFails: 2, ejectMs: 60_000, maxEjectMs: 60_000 } },
  });
  try {
    const first = await spread(h, 6);
    // A timeout is not retried (the upstream may be working on it): the client sees 504.
    assert.deepEqual(first.statuses, [200, 504, 200, 200, 504, 200]);
    const ejected = await h.logged(msgFor(h, 1, 'upstream ejected'));
    assert.match(String(ejected[0]!['reason']), /2 consecutive failures, last: UND_ERR_HEADERS_TIMEOUT/);
    const after = await spread(h, 20);
    assert.deepEqual(after.statuses, Array(20).fill(200));
    assert.deepEqual(after.by, { a: 10, c: 10 });
  } finally {
    await h.close();
  }
});

test('a reset before any response byte is retried; a death mid-body is not (bytes reached the client)', async () => {
  let resets = 0;
  const flaky: OriginHandler = (req, res) => {
    if (req.url === '/reset') {
      resets++;
      return void req.socket.destroy();
    }
    res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '100000' });
    res.write(Buffer.alloc(1000, 1));
    setImmediate(() => res.socket?.destroy());
  };
  const h = await startPoolHarness([{ handler: flaky, weight: 100 }, { handler: answersName('b'), weight: 1 }], {
    origin: { balancer: 'round-robin', passiveHealth: { maxFails: 0, ejectMs: 1000, maxEjectMs: 1000 } },
  });
  try {
    const r = await h.get('/reset');
    assert.equal(r.status, 200);
    assert.equal(r.text, 'b');
    assert.equal(resets, 1);
    await assert.rejects(async () => {
      const res = await request(h.base + '/midbody');
      await res.body.arrayBuffer();
    });
    assert.equal(h.origins[1]!.count('/midbody'), 0, 'not retried once the response had begun');
  } finally {
    await h.close();
  }
});

test('an upstream unreachable at start is logged and out of rotation; the node starts', async () => {
  const h = await startPoolHarness([{ handler: answersName('a') }, { handler: answersName('b') }], { logLevel: 'info', origin: { balancer: 'round-robin' } });
  try {
    // The harness started the node while both listened; play the start again with b down.
    await h.origins[1]!.close();
    await h.restart();
    const [line] = await h.logged(msgFor(h, 1, 'upstream unreachable at start'));
    assert.equal(line!['reason'], 'ECONNREFUSED');
    await h.logged(msgFor(h, 1, 'upstream ejected'));
    const { by } = await spread(h, 10);
    assert.deepEqual(by, { a: 10 });
    assert.equal((await originStats(h)).retries, 0);
  } finally {
    await h.close();
  }
});

test('with active checks, an upstream down at start fails its first probe and is unhealthy at once', async () => {
  const h = await startPoolHarness([{ handler: answersName('a') }, { handler: answersName('b') }], {
    logLevel: 'info',
    origin: {
      balancer: 'round-robin',
      healthCheck: { path: '/health', intervalMs: 20, timeoutMs: 500, healthyThreshold: 2, unhealthyThreshold: 3, expectStatuses: [[200, 299]] },
    },
  });
  try {
    await h.origins[1]!.close();
    await h.restart();
    const [line] = await h.logged(msgFor(h, 1, 'upstream unhealthy'));
    assert.equal(line!['reason'], 'first health check failed: ECONNREFUSED');
    assert.deepEqual((await spread(h, 6)).by, { a: 6 });
  } finally {
    await h.close();
  }
});

test('passive only: an ejected upstream is back on probation after ejectMs, a success recovers it, traffic returns', async () => {
  const h = await startPoolHarness([{ handler: answersName('a') }, { handler: answersName('b') }, { handler: answersName('c') }], {
    logLevel: 'info',
    origin: { balancer: 'round-robin', passiveHealth: { maxFails: 1, ejectMs: 30_000, maxEjectMs: 120_000 } },
  });
  try {
    await h.logged((l) => l['msg'] === 'upstream reachable at start', 3);
    await h.origins[1]!.close();
    const down = await spread(h, 6);
    assert.deepEqual(down.statuses, Array(6).fill(200), 'the failed attempt was retried');
    const [ejected] = await h.logged(msgFor(h, 1, 'upstream ejected'));
    assert.equal(ejected!['ejectMs'], 30_000);

    // Time passes on the node's clock; b is still down: probation, one failure, ejected for twice as long.
    h.clock.advance(30_000);
    assert.deepEqual((await spread(h, 6)).statuses, Array(6).fill(200));
    await h.logged(msgFor(h, 1, 'upstream back on probation'));
    const twice = await h.logged(msgFor(h, 1, 'upstream ejected'), 2);
    assert.equal(twice[1]!['ejectMs'], 60_000);

    await h.origins[1]!.reopen();
    h.clock.advance(60_000);
    const back = await spread(h, 30);
    assert.deepEqual(back.statuses, Array(30).fill(200));
    await h.logged(msgFor(h, 1, 'upstream healthy'));
    assert.ok((back.by['b'] ?? 0) >= 9, JSON.stringify(back.by));
    const s = (await originStats(h)).upstreams[1]!;
    assert.deepEqual({ state: s.state, ejections: s.ejections }, { state: 'healthy', ejections: 0 });
  } finally {
    await h.close();
  }
});

test('/stats shows every upstream with state, in-flight, EWMA, requests and failures', async () => {
  const h = await startPoolHarness([{ handler: answersName('a'), weight: 2 }, { handler: answersName('b') }], { origin: { balancer: 'round-robin' } });
  try {
    await spread(h, 3);
    const s = await originStats(h);
    assert.equal(s.balancer, 'round-robin');
    assert.deepEqual(
      s.upstreams.map((u) => ({ name: u.name, weight: u.weight, state: u.state, available: u.available, inFlight: u.inFlight, requests: u.requests, failures: u.failures })),
      [
        { name: h.origins[0]!.url, weight: 2, state: 'healthy', available: true, inFlight: 0, requests: 2, failures: 0 },
        { name: h.origins[1]!.url, weight: 1, state: 'healthy', available: true, inFlight: 0, requests: 1, failures: 0 },
      ],
    );
    assert.ok(s.upstreams.every((u) => u.ewmaMs > 0));
  } finally {
    await h.close();
  }
});

test('Host sent to every upstream is the site host (the first upstream), the client Host in X-Forwarded-Host', async () => {
  const h = await startPoolHarness([{ handler: answersName('a') }, { handler: answersName('b') }], { origin: { balancer: 'round-robin' } });
  try {
    await h.get('/h1', { host: 'www.example' });
    await h.get('/h2', { host: 'www.example' });
    const seen = h.origins.flatMap((o) => o.requests.map((r) => [r.headers.host, r.headers['x-forwarded-host']]));
    const site = new URL(h.origins[0]!.url).host;
    assert.deepEqual(seen, [[site, 'www.example'], [site, 'www.example']]);
  } finally {
    await h.close();
  }
});

test('an upstream drained while a request is on its way is not retried on', async () => {
  let held: import('node:net').Socket | undefined;
  const holding: OriginHandler = (req) => void (held = req.socket);
  const h = await startPoolHarness([{ handler: holding, weight: 100 }, { handler: answersName('b'), weight: 1 }], {
    admin: { listen: { host: '127.0.0.1', port: 0 }, token: 't', hosts: [] },
    origin: { balancer: 'round-robin', passiveHealth: { maxFails: 0, ejectMs: 1000, maxEjectMs: 1000 } },
  });
  try {
    const pending = h.get('/held');
    await h.until(() => held !== undefined, 'the request at the first upstream');
    const drain = await fetchReply(`${h.admin}/upstreams/drain`, { authorization: 'Bearer t', 'content-type': 'application/json' }, 'POST', JSON.stringify({ upstream: h.origins[1]!.url }));
    assert.equal(drain.status, 200, drain.text);
    // A reset before any response byte: retried only on an upstream not drained, and there is none.
    held!.destroy();
    const r = await pending;
    assert.equal(r.status, 502, r.text);
    assert.equal(h.origins[1]!.count(), 0, 'the drained upstream got no retry');
  } finally {
    await h.close();
  }
});
