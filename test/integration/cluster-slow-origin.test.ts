// An origin slower than cluster.peerTimeoutMs, behind three real nodes. The owner
// waiting on it is alive (peer-heartbeat.ts: 102 Processing while it works), so the
// node that asked it waits for its answer: one origin request, no peer counted
// failed. Before, each node in the ranking was asked in turn and timed out, then
// the asking node went to the origin itself: three origin requests for one object,
// the client waiting the slow origin plus a peer timeout per node, and healthy
// peers counted failed for the origin's slowness.

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { primaryKey } from '../../src/cache/key.js';
import { rank } from '../../src/cluster/ownership.js';
import { startCluster, type ClusterHarness } from '../fixtures/cluster.js';
import { fetchReply } from '../fixtures/harness.js';

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
