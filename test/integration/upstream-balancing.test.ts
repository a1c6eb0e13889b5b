// Several upstreams serving one site: weights under each balancer, consistent
// hashing, p2c-ewma, and retries (bounded, and never replaying what is not safe).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { answersName, startPoolHarness, type OriginHandler } from '../fixtures/harness.js';
import { spread, originStats } from './upstream-pool-node.js';

test('weights are honoured: round-robin 1:2:3 over 120 requests', async () => {
  const h = await startPoolHarness(
    [{ handler: answersName('a'), weight: 1 }, { handler: answersName('b'), weight: 2 }, { handler: answersName('c'), weight: 3 }],
    { origin: { balancer: 'round-robin' } },
  );
  try {
    const { by } = await spread(h, 120);
    for (const [name, want] of [['a', 20], ['b', 40], ['c', 60]] as const) assert.ok(Math.abs(by[name]! - want) <= 2, JSON.stringify(by));
  } finally {
    await h.close();
  }
});

test('least-connections honours weights when idle and avoids the upstream holding requests', async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const holding: OriginHandler = (req, res) => {
    if (req.url!.startsWith('/hold')) return void held.then(() => answersName('a')(req, res, Buffer.alloc(0)));
    answersName('a')(req, res, Buffer.alloc(0));
  };
  const h = await startPoolHarness([{ handler: holding }, { handler: answersName('b') }], { origin: { balancer: 'least-connections' } });
  try {
    assert.deepEqual((await spread(h, 20)).by, { a: 10, b: 10 });
    // Park two requests (distinct URLs, so they are not coalesced); idle ties
    // alternate, so one lands on a and stays in flight there.
    const parked = [h.get('/hold1'), h.get('/hold2')];
    const holds = () => h.origins.reduce((n, o) => n + o.count('/hold1') + o.count('/hold2'), 0);
    const deadline = Date.now() + 5000;
    while (holds() < 2) {
      if (Date.now() > deadline) throw new Error('the parked requests never reached an upstream');
      await new Promise((r) => setTimeout(r, 2));
    }
    assert.equal(h.origins[0]!.count('/hold1') + h.origins[0]!.count('/hold2'), 1, 'one parked on a');
    const during = await spread(h, 10);
    assert.deepEqual(during.by, { b: 10 }, 'a has one in flight, b none: b wins every time');
    release();
    await Promise.all(parked);
  } finally {
    await h.close();
  }
});

test('consistent-hash: each object has a home upstream', async () => {
  const h = await startPoolHarness([{ handler: answersName('a') }, { handler: answersName('b') }, { handler: answersName('c') }], { origin: { balancer: 'consistent-hash' } });
  try {
    const homes = new Set<string>();
    // Sixty: with thirty, one upstream owned none in about 2 of 10,000 draws of the test's ports (it happened once in a full run).
    for (let i = 0; i < 60; i++) {
      const path = `/obj${i}`;
      const first = (await h.get(path)).text;
      homes.add(first);
      for (let k = 0; k < 3; k++) assert.equal((await h.get(path)).text, first, path);
    }
    assert.equal(homes.size, 3, 'sixty objects are spread over all three');
  } finally {
    await h.close();
  }
});

test('retries: idempotent requests without a body go to another upstream; others are not replayed', async () => {
  // The dead upstream has a large weight so round-robin picks it first.
  const h = await startPoolHarness([{ handler: answersName('dead'), weight: 100 }, { handler: answersName('b'), weight: 1 }], {
    origin: { balancer: 'round-robin', passiveHealth: { maxFails: 0, ejectMs: 1000, maxEjectMs: 1000 } },
  });
  try {
    await h.origins[0]!.close();
    const put = await h.get('/r', { 'content-type': 'text/plain' }, 'PUT', 'body');
    assert.equal(put.status, 502, 'a request body cannot be replayed');
    const post = await h.get('/r', {}, 'POST');
    assert.equal(post.status, 502, 'POST is not idempotent');
    for (const method of ['GET', 'HEAD', 'DELETE', 'OPTIONS']) {
      const r = await h.get('/r', {}, method);
      assert.equal(r.status, 200, method);
    }
    assert.equal((await originStats(h)).retries, 4);
    assert.equal(h.origins[1]!.count('/r'), 4);
  } finally {
    await h.close();
  }
});

test('retries are bounded by retries.count', async () => {
  const h = await startPoolHarness(
    [{ handler: answersName('d1'), weight: 100 }, { handler: answersName('d2'), weight: 100 }, { handler: answersName('ok'), weight: 1 }],
    { logLevel: 'warn', origin: { balancer: 'round-robin', passiveHealth: { maxFails: 0, ejectMs: 1000, maxEjectMs: 1000 }, retries: { count: 1, budgetMs: 10_000, concurrencyPercent: 20 } } },
  );
  try {
    await h.origins[0]!.close();
    await h.origins[1]!.close();
    const r = await h.get('/bounded');
    assert.equal(r.status, 502);
    // How many were tried is the operator's to read (the client's body names no upstream).
    await h.logged((l) => l['code'] === 'ORIGIN_UNREACHABLE' && /2 upstreams tried/.test(String(l['msg'])));
    assert.equal(h.origins[2]!.count(), 0);
  } finally {
    await h.close();
  }
});

test('retries are bounded by retries.budgetMs: a zero budget allows none', async () => {
  const h = await startPoolHarness([{ handler: answersName('dead'), weight: 100 }, { handler: answersName('ok'), weight: 1 }], {
    logLevel: 'warn',
    origin: { balancer: 'round-robin', passiveHealth: { maxFails: 0, ejectMs: 1000, maxEjectMs: 1000 }, retries: { count: 2, budgetMs: 0, concurrencyPercent: 20 } },
  });
  try {
    await h.origins[0]!.close();
    const r = await h.get('/budget');
    assert.equal(r.status, 502);
    const [line] = await h.logged((l) => l['code'] === 'ORIGIN_UNREACHABLE');
    assert.doesNotMatch(String(line!['msg']), /upstreams tried/);
    assert.equal(h.origins[1]!.count(), 0);
  } finally {
    await h.close();
  }
});

test('p2c-ewma: an upstream failing fast with 503 is not mistaken for the fastest', async () => {
  const failing: OriginHandler = (_req, res) => {
    res.writeHead(503, { 'cache-control': 'no-store', 'content-length': '4' });
    res.end('fail');
  };
  const h = await startPoolHarness([{ handler: answersName('a') }, { handler: failing }, { handler: answersName('c') }], {
    origin: { balancer: 'p2c-ewma', passiveHealth: { maxFails: 0, ejectMs: 1000, maxEjectMs: 1000 } },
  });
  try {
    const { statuses } = await spread(h, 60);
    // Without ejection, only the latency penalty keeps traffic away from it.
    assert.ok(statuses.filter((s) => s === 503).length <= 3, JSON.stringify(statuses));
  } finally {
    await h.close();
  }
});
