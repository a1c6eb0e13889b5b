// Reading the purge bus when things go wrong (a real redis-server): an entry whose
// apply failed is applied when it is read again, not skipped as a copy of itself,
// and its node is reported `acked` only then.

import { strict as assert } from 'node:assert';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { PurgeBus } from '../../src/cluster/purge-bus.js';
import type { WirePurge } from '../../src/cluster/purge-wire.js';
import { startRedis, type TestRedis } from '../fixtures/redis.js';

const SELECTOR = { primaryKeys: [], paths: ['/replay'], urlPrefixes: [], pathPrefixes: [], tags: [], all: false };
const purge = (id: string): WirePurge => ({ id, from: 'a', selector: SELECTOR });

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
});
