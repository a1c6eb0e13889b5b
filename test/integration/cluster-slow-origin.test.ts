// An origin slower than cluster.peerTimeoutMs, behind three real nodes. The owner
// waiting on it is alive (peer-heartbeat.ts: 102 Processing while it works), so the
// node that asked it waits for its answer: one origin request, no peer counted
// failed. Before, each node in the ranking was asked in turn and timed out, then
// the asking node went to the origin itself: three origin requests for one object,
// the client waiting the slow origin plus a peer timeout per node, and healthy
// peers counted failed for the origin's slowness.

import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { primaryKey } from '../../src/cache/key.js';
import { rank } from '../../src/cluster/ownership.js';
import { createNode } from '../../src/node.js';
import { CLUSTER_SECRET, startCluster, startStalledPeer, type ClusterHarness } from '../fixtures/cluster.js';
import { fetchReply, startOrigin, testConfig, until } from '../fixtures/harness.js';

const HOST = 'site.test';
const ORIGIN_MS = 1_500;
const PEER_TIMEOUT_MS = 400;

describe('cluster: an origin slower than cluster.peerTimeoutMs', () => {
  let h: ClusterHarness;
  before(async () => {
    h = await startCluster(
      (req, res) => {
        setTimeout(() => {
          const b = `body of ${req.url}`;
          res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': Buffer.byteLength(b) });
          res.end(b);
        }, ORIGIN_MS);
      },
      { cluster: { peerTimeoutMs: PEER_TIMEOUT_MS } },
    );
    await Promise.all([0, 1, 2].map((i) => h.sees(i, h.nodes.filter((_, j) => j !== i).map((n) => n.id))));
  });
  after(() => h.close());

  const order = (p: string) => rank(primaryKey('http', HOST, p), h.nodes.map((n) => ({ id: n.id }))).map((m) => h.nodes.findIndex((n) => n.id === m.id));

  it('a non-owner waits for the owner that is waiting for the origin: one origin request, nobody counted failed', async () => {
    const p = '/slow-origin/1';
    const [owner, , edge] = order(p) as [number, number, number];
    const r = await fetchReply(h.nodes[edge]!.base + p, { host: HOST });
    assert.equal(r.status, 200);
    assert.equal(r.text, `body of ${p}`);
    assert.equal(h.origin.count(p), 1, 'one origin request for the cluster');
    assert.match(String(r.headers['cache-status']), new RegExp(`${h.nodes[owner]!.id}; fwd=uri-miss; fwd-status=200; stored.*${h.nodes[edge]!.id}; fwd=uri-miss`));
    const m = h.nodes[edge]!.node!.cluster()!.membership;
    for (const peer of m.peers()) assert.equal(peer.health.snapshot().consecutiveFailures, 0, `${peer.id} not counted failed`);
  });

  it("an owner's own miss through its successor: one origin request", async () => {
    const p = '/slow-origin/2';
    const [owner, successor] = order(p) as [number, number, number];
    const r = await fetchReply(h.nodes[owner]!.base + p, { host: HOST });
    assert.equal(r.status, 200);
    assert.equal(h.origin.count(p), 1);
    assert.match(String(r.headers['cache-status']), new RegExp(`^${h.nodes[successor]!.id}; fwd=uri-miss`));
  });
});

test('a peer that only ever sends signs of life is waited for origin.headersTimeoutMs + cluster.peerTimeoutMs at most, then the next node is asked', async () => {
  // Its proxy listener answers every request with 102 Processing, every 50 ms, and never more.
  const endless = await startStalledPeer('node-z');
  const beats = setInterval(() => {
    for (const r of endless.held) if (!r.destroyed) r.writeProcessing();
  }, 50);
  const dir = await mkdtemp(join(tmpdir(), 'strata-beats-'));
  const origin = await startOrigin((req, res) => {
    const b = `body of ${req.url}`;
    res.writeHead(200, { 'content-length': Buffer.byteLength(b), 'cache-control': 'max-age=600' });
    res.end(b);
  });
  const config = testConfig(origin.url, dir);
  config.nodeId = 'node-a';
  config.origin = { ...config.origin, headersTimeoutMs: 600 };
  config.cluster = { ...config.cluster, secret: CLUSTER_SECRET, healthCheckIntervalMs: 100, peerTimeoutMs: 200, handoffMs: 0, successorCopy: false, peers: [endless.peer] };
  const node = createNode(config);
  await node.start();
  try {
    const m = node.cluster()!.membership;
    await until(() => m.peers().every((p) => m.usable(p)), 'node-z to answer its health check');
    let p = '';
    for (let i = 0; p === ''; i++) if (rank(primaryKey('http', HOST, `/beats/${i}`), [{ id: 'node-a' }, { id: 'node-z' }])[0]!.id === 'node-z') p = `/beats/${i}`;
    const started = performance.now();
    const r = await fetchReply(`http://127.0.0.1:${node.proxyAddress().port}${p}`, { host: HOST });
    const took = performance.now() - started;
    assert.equal(r.status, 200);
    assert.equal(r.text, `body of ${p}`);
    assert.ok(endless.held.length >= 1, 'node-z was asked first');
    // 800 ms of patience, then the origin (a shared machine: generous above, strict below).
    assert.ok(took >= 750 && took < 5_000, `answered after ${Math.round(took)} ms`);
  } finally {
    clearInterval(beats);
    await node.stop();
    await endless.close();
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
