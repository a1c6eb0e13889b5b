// Reading the purge bus when things go wrong (a real redis-server): an entry whose
// apply failed is applied when it is read again, not skipped as a copy of itself,
// and its node is reported `acked` only then; a Redis that stalls during the
// start-up replay ends the wait (the node serves) and the replay finishes in the
// background once it answers, each entry applied once.

import { strict as assert } from 'node:assert';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { PurgeBus, STREAM_KEY } from '../../src/cluster/purge-bus.js';
import type { WirePurge } from '../../src/cluster/purge-wire.js';
import { until } from '../fixtures/harness.js';
import { startRedis, type TestRedis } from '../fixtures/redis.js';

const SELECTOR = { primaryKeys: [], paths: ['/replay'], urlPrefixes: [], pathPrefixes: [], tags: [], all: false };
const purge = (id: string): WirePurge => ({ id, from: 'a', selector: SELECTOR });

/** `p`, or a rejection naming `what` once `ms` have passed. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms}ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe('purge bus: reading on after a failure', () => {
  let redis: TestRedis;
  const buses: PurgeBus[] = [];
  const forged: string[] = [];
  const bus = (nodeId: string, apply: (p: WirePurge) => Promise<unknown>) => {
    const b = new PurgeBus({ url: redis.url, nodeId, secret: 'k', logger: pino({ level: 'silent' }), apply, onForged: (id, _from, why) => forged.push(`${id} ${why}`) });
    buses.push(b);
    return b;
  };
  after(async () => {
    redis?.resume();
    await Promise.all(buses.map((b) => b.close()));
    await redis?.stop();
  });

  it('an entry whose apply failed once is applied when read again, and only then acked', async () => {
    redis = await startRedis();
    const a = bus('a', async () => undefined);
    const applied: string[] = [];
    let failures = 0;
    const b = bus('b', async (p) => {
      if (failures++ === 0) throw new Error('store busy');
      applied.push(p.id);
    });
    await Promise.all([a.catchUp(10_000), b.catchUp(10_000)]);
    const id = await a.publish(purge('a:1'));
    assert.deepEqual(await a.acks(id, ['b'], 20_000), { b: 'acked' });
    assert.deepEqual(applied, ['a:1'], 'acked means applied');
    assert.deepEqual(forged, [], 'not skipped as a replay of itself');
    assert.equal(failures, 2);
  });

  it('a Redis that stalls during the start-up replay ends the wait; the replay finishes once it answers, each entry applied once', async () => {
    const a = bus('a2', async () => undefined);
    await a.catchUp(10_000);
    // Node c joins the bus (its position: the end), then is down while three purges are accepted.
    const first = bus('c', async () => undefined);
    await first.catchUp(10_000);
    await first.close();
    const ids: string[] = [];
    for (const n of [1, 2, 3]) ids.push(await a.publish({ ...purge(`a2:${n}`), from: 'a2' }));
    const applied: string[] = [];
    const c = bus('c', async (p) => {
      applied.push(p.id);
      // Redis stalls while the first purge is applied: the position it then writes gets no answer.
      if (applied.length === 1) redis.pause();
    });
    const started = Date.now();
    assert.equal(await within(c.catchUp(2_000), 15_000, 'catchUp(2000) did not return'), 'unreachable');
    assert.ok(Date.now() - started < 10_000, `start-up waited ${Date.now() - started}ms`);
    assert.deepEqual(applied, ['a2:1']);
    redis.resume();
    await until(() => c.stats()['position'] === ids[2], 'the replay to finish in the background');
    assert.deepEqual(applied, ['a2:1', 'a2:2', 'a2:3'], 'each once: one reader moved the position');
  });

  it('a Redis that stalls after start-up fails a publish within its command timeout (the purge then goes by fan-out), and works again once it answers', async () => {
    const a = bus('a4', async () => undefined);
    await a.catchUp(10_000);
    redis.pause();
    try {
      const started = Date.now();
      await assert.rejects(within(a.publish({ ...purge('a4:1'), from: 'a4' }), 10_000, 'publish did not settle'), /timed out/i);
      assert.ok(Date.now() - started < 6_000, `failed after ${Date.now() - started}ms`);
    } finally {
      redis.resume();
    }
    assert.match(await a.publish({ ...purge('a4:2'), from: 'a4' }), /^\d+-\d+$/);
  });

  it('a stream trimmed past a node\'s position: the purge of everything standing for the lost entries is applied even when its first apply fails', async () => {
    const a = bus('a3', async () => undefined);
    await a.catchUp(10_000);
    const first = bus('d', async () => undefined);
    await first.catchUp(10_000);
    await first.close();
    // While d is down: entries past its position, then the stream trimmed to the last one.
    for (const n of [1, 2, 3]) await a.publish({ ...purge(`a3:${n}`), from: 'a3' });
    const redisClient = new Redis(redis.url, { lazyConnect: true });
    await redisClient.connect();
    await redisClient.xtrim(STREAM_KEY, 'MAXLEN', 1);
    await redisClient.quit();
    const applied: WirePurge[] = [];
    let failures = 0;
    const d = bus('d', async (p) => {
      if (p.selector.all && failures++ === 0) throw new Error('store busy');
      applied.push(p);
    });
    assert.equal(await d.catchUp(2_000), 'unreachable');
    await until(() => applied.some((p) => p.selector.all), 'the purge of everything applied by the read loop');
    assert.equal(failures, 2);
  });
});
