// A purge bus entry a node refuses (its writer's clock off by more than 30 s from
// Redis's, or signed with another cluster.secret) is passed over, but that node
// is never reported `acked` for it: the accepting node's answer says pending, and
// why. Two buses (nodes a and b) on a real redis-server.

import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { busEntrySignature } from '../../src/cluster/peer-auth.js';
import { PurgeBus, STREAM_KEY } from '../../src/cluster/purge-bus.js';
import type { WirePurge } from '../../src/cluster/purge-wire.js';
import { startRedis, type TestRedis } from '../fixtures/redis.js';

const SELECTOR = { primaryKeys: [], paths: ['/skew'], urlPrefixes: [], pathPrefixes: [], tags: [], all: false };

describe('purge bus: a refused entry is not acked', () => {
  let redis: TestRedis;
  let pub: Redis;
  let a: PurgeBus;
  let b: PurgeBus;
  const applied: WirePurge[] = [];
  const errors: Record<string, unknown>[] = [];
  const bus = (nodeId: string, secret: string, apply: (p: WirePurge) => Promise<unknown>) => {
    const out = new Writable({ write: (chunk: Buffer, _enc, done) => (errors.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) });
    return new PurgeBus({ url: redis.url, nodeId, secret, logger: pino({ level: 'error' }, out), apply, onForged: () => undefined });
  };

  before(async () => {
    redis = await startRedis();
    pub = new Redis(redis.url);
    a = bus('a', 'k', async () => undefined);
    b = bus('b', 'k', async (p) => applied.push(p));
    await Promise.all([a.catchUp(10_000), b.catchUp(10_000)]);
  });
  after(async () => {
    pub.disconnect();
    await Promise.all([a.close(), b.close()]);
    await redis.stop();
  });

  it('a genuine purge is acked by the node that applied it', async () => {
    const id = await a.publish({ id: 'a:1', from: 'a', selector: SELECTOR });
    assert.deepEqual(await a.acks(id, ['b'], 10_000), { b: 'acked' });
    assert.equal(applied.at(-1)?.id, 'a:1');
  });

  it("an entry refused for clock skew (its writer's clock 60 s behind) is pending, with the offset, and logged at error level", async () => {
    const text = JSON.stringify({ id: 'a:2', from: 'a', selector: SELECTOR });
    const at = String(Date.now() - 60_000);
    const id = (await pub.xadd(STREAM_KEY, '*', 'purge', text, 'at', at, 'sig', busEntrySignature('k', STREAM_KEY, 'a', at, text)))!;
    const out = await a.acks(id, ['b'], 10_000);
    assert.match(out['b']!, /^pending: clock skew: written by a \d+ ms from Redis's time/);
    assert.ok(!applied.some((p) => p.id === 'a:2'), 'not applied');
    const logged = errors.filter((e) => /clock skew/.test(String(e['msg'])));
    assert.equal(logged.length, 1);
    assert.ok(Number(logged[0]!['offsetMs']) >= 60_000, `offset logged: ${JSON.stringify(logged[0])}`);
  });

  it('an entry whose signature fails (another cluster.secret) is pending too', async () => {
    const text = JSON.stringify({ id: 'a:3', from: 'a', selector: SELECTOR });
    const at = String(Date.now());
    const id = (await pub.xadd(STREAM_KEY, '*', 'purge', text, 'at', at, 'sig', busEntrySignature('other-secret', STREAM_KEY, 'a', at, text)))!;
    assert.match((await a.acks(id, ['b'], 10_000))['b']!, /^pending: signature failed/);
    // Later purges still go through: the reader moved past the refused entry.
    const next = await a.publish({ id: 'a:4', from: 'a', selector: SELECTOR });
    assert.deepEqual(await a.acks(next, ['b'], 10_000), { b: 'acked' });
  });
});
