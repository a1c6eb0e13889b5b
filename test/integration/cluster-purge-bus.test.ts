// Purge everywhere through the Redis purge bus (a real redis-server): acks from
// the live nodes' positions, a node down during a purge replays it before it
// serves again, and an unreachable Redis neither stops serving nor loses a purge
// (fan-out, said in the answer).

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { primaryKey } from '../../src/cache/key.js';
import { busEntrySignature } from '../../src/cluster/peer-auth.js';
import { startCluster, type ClusterHarness, ownership } from '../fixtures/cluster.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createNode } from '../../src/node.js';
import { FakeClock } from '../../src/util/clock.js';
import { fetchReply, fixed, startOrigin, testConfig, until } from '../fixtures/harness.js';
import { freePort, startRedis, type TestRedis } from '../fixtures/redis.js';

const HOST = 'site.test';
const ids = ['node-a', 'node-b', 'node-c'];
const { ownerOf, pathOwnedBy } = ownership(HOST, ids);

describe('cluster: purge bus (Redis Streams)', () => {
  let h: ClusterHarness;
  let redis: TestRedis;
  const get = (i: number, p: string, headers: Record<string, string> = {}) => fetchReply(h.nodes[i]!.base + p, { host: HOST, ...headers });
  const held = (i: number, p: string) => h.nodes[i]!.node!.store().get(primaryKey('http', HOST, p));

  before(async () => {
    redis = await startRedis();
    h = await startCluster(
      (req, res) => {
        const b = `body of ${req.url}`;
        res.writeHead(200, { 'content-length': Buffer.byteLength(b), 'cache-control': 'max-age=600' });
        res.end(b);
      },
      // The answer waits for acks at most this long; generous, so a loaded machine does not make a live node look slow.
      { cluster: { purgeBus: redis.url, purgeAckTimeoutMs: 5000 } },
    );
    await Promise.all([0, 1, 2].map((i) => h.sees(i, ids.filter((_, j) => j !== i))));
  });
  after(async () => {
    await h.close();
    await redis.stop();
  });

  it('a purge on one node goes through the bus; the answer waits for the live nodes', async () => {
    const p = '/bus/one';
    for (const i of [0, 1, 2]) await get(i, p);
    const r = await h.purge(0, { urls: [p] });
    assert.equal(r.status, 200);
    const a = JSON.parse(r.text) as { peers: Record<string, string>; via: string };
    assert.equal(a.via, 'bus');
    assert.deepEqual(a.peers, { 'node-b': 'acked', 'node-c': 'acked' });
    for (const i of [0, 1, 2]) assert.equal(await held(i, p), undefined, `node ${i} purged`);
  });

  it('a node down during a purge replays it before it serves again', async () => {
    const p = pathOwnedBy('node-c', '/bus/down');
    for (const i of [0, 1, 2]) await get(i, p);
    await h.nodes[2]!.node!.store().flush();
    await h.stop(2);
    // The node answering the purge (node-b) must know node-c is down, or it waits for it as a live node.
    await Promise.all([h.sees(0, ['node-b']), h.sees(1, ['node-a'])]);
    const r = await h.purge(1, { urls: [p] });
    const a = JSON.parse(r.text) as { peers: Record<string, string>; via: string };
    assert.equal(a.via, 'bus');
    assert.equal(a.peers['node-a'], 'acked');
    assert.match(a.peers['node-c']!, /^pending: .*replays the purge bus/);
    await h.start(2);
    // start() resolved: the node listens only after the replay.
    const stats = h.nodes[2]!.node!.cluster()!.stats()['purgeBus'] as { replayed: number };
    assert.ok(stats.replayed >= 1, 'replayed what it missed');
    await h.nodes[2]!.node!.ready();
    assert.equal(await held(2, p), undefined);
    assert.equal((await get(2, p, { 'cache-control': 'only-if-cached' })).status, 504);
  });

  it('Redis unreachable: nodes keep serving, purges fall back to fan-out and say so', async () => {
    await redis.stop();
    const p = '/bus/fallback';
    for (const i of [0, 1, 2]) assert.equal((await get(i, p)).status, 200);
    const r = await h.purge(2, { urls: [p] });
    assert.equal(r.status, 200);
    const a = JSON.parse(r.text) as { peers: Record<string, string>; via: string };
    assert.match(a.via, /^fan-out \(purge bus unreachable: /);
    assert.deepEqual(a.peers, { 'node-a': 'acked', 'node-b': 'acked' });
    for (const i of [0, 1, 2]) assert.equal(await held(i, p), undefined);
    await redis.start();
  });
});

describe('cluster: purge bus down at start', () => {
  it('the node starts and serves without Redis, then reads the bus once Redis answers', async () => {
    const port = await freePort();
    const redis = await startRedis({ port, lazy: true });
    const clock = new FakeClock(Date.now());
    const origin = await startOrigin(fixed('bus body', { 'cache-control': 'max-age=600' }), clock);
    const dir = await mkdtemp(join(tmpdir(), 'strata-bus-'));
    const config = testConfig(origin.url, dir);
    config.nodeId = 'lonely';
    // A peer that never answers: the node is clustered, and alone.
    config.cluster = { ...config.cluster, secret: 'k', purgeBus: `redis://127.0.0.1:${port}`, peers: [{ id: 'gone', url: `http://127.0.0.1:${await freePort()}`, adminPort: await freePort() }] };
    const node = createNode(config, { clock });
    const started = performance.now();
    await node.start();
    try {
      assert.ok(performance.now() - started < 20_000, `start-up waits for Redis only briefly (${Math.round(performance.now() - started)} ms)`);
      const url = `http://127.0.0.1:${node.proxyAddress().port}/bus-later`;
      assert.equal((await fetchReply(url)).status, 200);
      assert.ok(await node.store().get(primaryKey('http', `127.0.0.1:${node.proxyAddress().port}`, '/bus-later')));
      await redis.start();
      // Another node publishes a purge once Redis is up; this node reads it.
      const pub = new Redis(`redis://127.0.0.1:${port}`);
      const bus = () => node.cluster()!.stats()['purgeBus'] as { position: string | null };
      await until(() => bus().position !== null, 'the reader to connect');
      // Whoever can write to Redis without cluster.secret cannot purge: unsigned, or signed with another secret.
      const all = JSON.stringify({ id: 'intruder:1', from: 'other', selector: { primaryKeys: [], paths: [], urlPrefixes: [], pathPrefixes: [], tags: [], all: true } });
      const now = String(Date.now());
      await pub.xadd('strata:purges', '*', 'purge', all);
      await pub.xadd('strata:purges', '*', 'purge', all, 'at', now, 'sig', busEntrySignature('not-k', 'strata:purges', 'other', now, all));
      // Signed for another sender than the one it names.
      await pub.xadd('strata:purges', '*', 'purge', all, 'at', now, 'sig', busEntrySignature('k', 'strata:purges', 'node-x', now, all));
      // Signed for another time than the one it carries.
      await pub.xadd('strata:purges', '*', 'purge', all, 'at', String(Number(now) - 5_000), 'sig', busEntrySignature('k', 'strata:purges', 'other', now, all));
      await until(() => node.cluster()!.stats()['forgedBusEntries'] === 4, 'the forged entries to be read and counted');
      assert.equal((node.cluster()!.stats()['purgeBus'] as { replayed: number }).replayed, 0);
      assert.ok(await node.store().get(primaryKey('http', `127.0.0.1:${node.proxyAddress().port}`, '/bus-later')), 'a forged purge purged nothing');
      // A genuine entry written long ago and appended again now (a replay) purges nothing either.
      const old = JSON.stringify({ id: 'other:0', from: 'other', selector: { primaryKeys: [], paths: [], urlPrefixes: [], pathPrefixes: [], tags: [], all: true } });
      const then = String(Date.now() - 10 * 60_000);
      await pub.xadd('strata:purges', '*', 'purge', old, 'at', then, 'sig', busEntrySignature('k', 'strata:purges', 'other', then, old));
      await until(() => node.cluster()!.stats()['forgedBusEntries'] === 5, 'the replayed entry to be read and counted');
      assert.ok(await node.store().get(primaryKey('http', `127.0.0.1:${node.proxyAddress().port}`, '/bus-later')), 'a replayed purge purged nothing');
      const text = JSON.stringify({ id: 'other:1', from: 'other', selector: { primaryKeys: [], paths: ['/bus-later'], urlPrefixes: [], pathPrefixes: [], tags: [], all: false } });
      const at = String(Date.now());
      const sig = busEntrySignature('k', 'strata:purges', 'other', at, text);
      await pub.xadd('strata:purges', '*', 'purge', text, 'at', at, 'sig', sig);
      await until(() => (node.cluster()!.stats()['purgeBus'] as { replayed: number }).replayed === 1, 'the purge to be applied');
      assert.equal(await node.store().get(primaryKey('http', `127.0.0.1:${node.proxyAddress().port}`, '/bus-later')), undefined);
      // The same entry appended again at once: applied once only (the page, stored again, stays).
      assert.equal((await fetchReply(url)).status, 200);
      assert.ok(await node.store().get(primaryKey('http', `127.0.0.1:${node.proxyAddress().port}`, '/bus-later')));
      await pub.xadd('strata:purges', '*', 'purge', text, 'at', at, 'sig', sig);
      await until(() => node.cluster()!.stats()['forgedBusEntries'] === 6, 'the copied entry to be read and counted');
      assert.equal((node.cluster()!.stats()['purgeBus'] as { replayed: number }).replayed, 1);
      assert.ok(await node.store().get(primaryKey('http', `127.0.0.1:${node.proxyAddress().port}`, '/bus-later')), 'a copy of an applied purge purged nothing');
      pub.disconnect();
    } finally {
      await node.stop();
      await redis.stop();
      await origin.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
