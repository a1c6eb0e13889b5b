// A node of a three-node cluster dies mid-traffic and comes back: no client
// errors once the others noticed (a dead owner is skipped at once: its
// connections are refused), ownership of its objects moves to each object's next
// node in rendezvous order and returns with it, and the returning node takes its
// objects back from whoever held them meanwhile, not from the origin.

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { primaryKey } from '../../src/cache/key.js';
import { rank } from '../../src/cluster/ownership.js';
import { startCluster, type ClusterHarness } from '../fixtures/cluster.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode } from '../../src/node.js';
import { CLUSTER_SECRET, startStalledPeer } from '../fixtures/cluster.js';
import { fetchReply, startOrigin, testConfig, until } from '../fixtures/harness.js';

const HOST = 'site.test';
const body = (path: string) => `body of ${path}`;
const ids = ['node-a', 'node-b', 'node-c'];
const ownerOf = (path: string, members = ids) => rank(primaryKey('http', HOST, path), members.map((id) => ({ id })))[0]!.id;

describe('cluster: the owner dies mid-traffic and returns', () => {
  let h: ClusterHarness;
  before(async () => {
    h = await startCluster((req, res) => {
      const b = body(req.url!);
      res.writeHead(200, { 'content-length': Buffer.byteLength(b), 'cache-control': 'max-age=600' });
      res.end(b);
    });
    await Promise.all([0, 1, 2].map((i) => h.sees(i, ids.filter((_, j) => j !== i))));
  });
  after(() => h.close());

  it('no client errors after detection; ownership moves and comes back; no origin storm on return', async () => {
    const paths = Array.from({ length: 60 }, (_, i) => `/obj/${i}`);
    const ofC = paths.filter((p) => ownerOf(p) === 'node-c');
    assert.ok(ofC.length > 5, 'node-c owns a share of the objects');
    const get = (i: number, p: string) => fetchReply(h.nodes[i]!.base + p, { host: HOST });
    for (const p of paths) assert.equal((await get(0, p)).status, 200);

    // Traffic on a and b while c stops.
    let detected = false;
    let running = true;
    const errorsAfterDetection: string[] = [];
    let errorsBefore = 0;
    let requests = 0;
    const traffic = Promise.all(
      [0, 1].map(async (i) => {
        for (let k = 0; running; k++) {
          const p = `/during/${k % 40}`;
          const r = await get(i, p).catch((err: Error) => ({ status: 0, text: err.message }));
          requests++;
          if (r.status !== 200 || r.text !== body(p)) {
            if (detected) errorsAfterDetection.push(`${p}: ${r.status}`);
            else errorsBefore++;
          }
        }
      }),
    );
    await new Promise((r) => setTimeout(r, 50));
    await h.stop(2);
    await Promise.all([h.sees(0, ['node-b']), h.sees(1, ['node-a'])]);
    detected = true;
    const atDetection = requests;
    while (requests < atDetection + 200) await new Promise((r) => setTimeout(r, 5));
    running = false;
    await traffic;
    assert.deepEqual(errorsAfterDetection, []);
    assert.equal(errorsBefore, 0, 'a refused connection to a dead owner is skipped at once');

    // Ownership moved: c's objects are now owned by their next node, and answered.
    const a = h.nodes[0]!.node!.cluster()!.membership;
    for (const p of ofC) assert.equal(a.order(primaryKey('http', HOST, p))[0]!.id, ownerOf(p, ['node-a', 'node-b']));
    // Objects first asked during the outage, some of which c will own.
    const fresh = Array.from({ length: 60 }, (_, i) => `/fresh/${i}`);
    for (const p of fresh) assert.equal((await get(1, p)).status, 200);

    // c returns (same address, same cache directory).
    await h.start(2);
    await Promise.all([0, 1, 2].map((i) => h.sees(i, ids.filter((_, j) => j !== i))));
    for (const p of ofC) assert.equal(a.order(primaryKey('http', HOST, p))[0]!.id, 'node-c');
    const originBefore = h.origin.requests.length;
    // Asked of c itself, which never held the fresh objects it now owns: taken from the previous owner.
    for (const p of fresh) {
      const r = await get(2, p);
      assert.equal(r.status, 200);
      assert.equal(r.text, body(p));
    }
    for (const p of [...paths, ...fresh]) assert.equal((await get(0, p)).status, 200);
    assert.equal(h.origin.requests.length - originBefore, 0, 'no origin request when the owner returned');
    for (const p of fresh) assert.equal(h.origin.count(p), 1);
  });
});

describe('cluster: a slow owner', () => {
  it('an owner that sends no headers within cluster.peerTimeoutMs is skipped for the next node, then counts against its health', async () => {
    const stalled = await startStalledPeer('node-z');
    const dir = await mkdtemp(join(tmpdir(), 'strata-slow-'));
    const origin = await startOrigin((req, res) => {
      const b = body(req.url!);
      res.writeHead(200, { 'content-length': Buffer.byteLength(b), 'cache-control': 'max-age=600' });
      res.end(b);
    });
    const config = testConfig(origin.url, dir);
    config.nodeId = 'node-a';
    config.cluster = {
      ...config.cluster,
      secret: CLUSTER_SECRET,
      healthCheckIntervalMs: 100,
      peerTimeoutMs: 300,
      handoffMs: 0,
      peers: [stalled.peer],
    };
    const node = createNode(config);
    await node.start();
    try {
      const m = node.cluster()!.membership;
      await until(() => m.peers().every((p) => m.usable(p)), 'node-z to answer its health check');
      const paths = Array.from({ length: 40 }, (_, i) => `/slow/${i}`).filter((p) => ownerOf(p, ['node-a', 'node-z']) === 'node-z').slice(0, 3);
      assert.equal(paths.length, 3);
      for (const p of paths) {
        const started = performance.now();
        const r = await fetchReply(`http://127.0.0.1:${node.proxyAddress().port}${p}`, { host: HOST });
        assert.equal(r.status, 200);
        assert.equal(r.text, body(p));
        assert.ok(performance.now() - started < 3000, 'answered soon after the peer timeout');
        assert.equal(r.headers['cache-status']!.split(',').length, 1, 'fetched by this node itself from the origin');
      }
      assert.ok(stalled.held.length >= 1, 'the slow owner was asked first');
      assert.ok(m.peer('node-z')!.health.snapshot().consecutiveFailures >= 1 || m.peer('node-z')!.health.snapshot().ejections >= 1, 'timeouts count against its health');
    } finally {
      await node.stop();
      await stalled.close();
      await origin.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('cluster: successor copies (cluster.successorCopy)', () => {
  const handler: Parameters<typeof startCluster>[0] = (req, res) => {
    const b = body(req.url!);
    res.writeHead(200, { 'content-length': Buffer.byteLength(b), 'cache-control': 'max-age=600' });
    res.end(b);
  };

  it("the owner dies: what it fetched for its own clients costs the origin nothing more, before and after detection", async () => {
    const h = await startCluster(handler);
    try {
      await Promise.all([0, 1, 2].map((i) => h.sees(i, ids.filter((_, j) => j !== i))));
      // Objects asked only of their owner (node-c): nobody else served them.
      const ofC = Array.from({ length: 80 }, (_, i) => `/only-c/${i}`).filter((p) => ownerOf(p) === 'node-c');
      assert.ok(ofC.length > 10);
      for (const p of ofC) assert.equal((await h.get(2, p, { host: HOST })).status, 200);
      await h.stop(2);
      // At once (c not yet out of the set: its refused connections send each request on) and after detection.
      for (const p of ofC) {
        const r = await h.get(ofC.indexOf(p) % 2, p, { host: HOST });
        assert.equal(r.status, 200);
        assert.equal(r.text, body(p));
      }
      await Promise.all([h.sees(0, ['node-b']), h.sees(1, ['node-a'])]);
      for (const p of ofC) assert.equal((await h.get((ofC.indexOf(p) + 1) % 2, p, { host: HOST })).text, body(p));
      assert.deepEqual(ofC.filter((p) => h.origin.count(p) !== 1), [], 'each fetched from the origin once');
    } finally {
      await h.close();
    }
  });

  it('off: the owner asks the origin itself, and nobody else holds a copy', async () => {
    const h = await startCluster(handler, { cluster: { successorCopy: false } });
    try {
      await Promise.all([0, 1, 2].map((i) => h.sees(i, ids.filter((_, j) => j !== i))));
      const p = Array.from({ length: 40 }, (_, i) => `/no-copy/${i}`).find((x) => ownerOf(x) === 'node-a')!;
      const r = await h.get(0, p, { host: HOST });
      assert.match(r.headers['cache-status']!, /^node-a; fwd=uri-miss; fwd-status=200; stored; ttl=\d+$/);
      const key = primaryKey('http', HOST, p);
      for (const i of [1, 2]) assert.equal(h.nodes[i]!.node!.store().memory.peek(key), undefined);
    } finally {
      await h.close();
    }
  });
});
