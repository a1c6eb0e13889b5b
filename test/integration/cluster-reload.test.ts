// cluster.peers applies on reload (issue 9, reload of live settings; issue 10,
// membership): a peer removed from the list is forgotten (no traffic, no purges
// owed to it), a peer added is probed and then used; joining or leaving a cluster
// changes what the node built at start and is refused as needing a restart.

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { startCluster, type ClusterHarness } from '../fixtures/cluster.js';

describe('cluster: peers reloaded live', () => {
  let h: ClusterHarness;
  before(async () => {
    h = await startCluster((req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' });
      res.end(`body of ${req.url}`);
    });
    await Promise.all([0, 1, 2].map((i) => h.sees(i, h.nodes.filter((_, j) => j !== i).map((n) => n.id))));
  });
  after(() => h.close());

  it('a peer removed from cluster.peers is forgotten, and added back it is probed and used again', async () => {
    const a = h.nodes[0]!;
    const all = structuredClone(a.config);
    const without = structuredClone(all);
    without.cluster.peers = all.cluster.peers.filter((p) => p.id !== 'node-c');
    const changes = await a.node!.reload(without);
    assert.deepEqual(changes.applied.map((c) => c.key), ['cluster.peers']);
    assert.deepEqual(changes.restartRequired, []);
    assert.deepEqual(a.node!.cluster()!.membership.peers().map((p) => p.id), ['node-b']);
    await h.sees(0, ['node-b']);

    await a.node!.reload(all);
    await h.sees(0, ['node-b', 'node-c']);
    // Used again: a purge fans out to both and both acknowledge.
    const r = await h.purge(0, { urls: ['http://site.test/x'] });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys((JSON.parse(r.body.toString()) as { peers: Record<string, string> }).peers).sort(), ['node-b', 'node-c']);
  });

  it('leaving the cluster by reload is refused as needing a restart, and the node keeps its peers', async () => {
    const a = h.nodes[0]!;
    const alone = structuredClone(a.config);
    alone.cluster.peers = [];
    await assert.rejects(a.node!.reload(alone), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'RELOAD_REFUSED');
      assert.match(err.message, /leaving the cluster .* needs a restart/);
      return true;
    });
    await h.sees(0, ['node-b', 'node-c']);
  });
});
