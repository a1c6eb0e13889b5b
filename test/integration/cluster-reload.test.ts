// cluster.peers applies on reload (issue 9, reload of live settings; issue 10,
// membership): a peer removed from the list is forgotten (no traffic, no purges
// owed to it), a peer added is probed and then used; joining or leaving a cluster
// changes what the node built at start and is refused as needing a restart.

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { startCluster, type ClusterHarness } from '../fixtures/cluster.js';
import { until } from '../fixtures/harness.js';
import { freePort } from '../fixtures/ports.js';

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

  it('a peer listed at a new address keeps the purges owed to it, and gets them there', async () => {
    const a = h.nodes[0]!;
    const c = h.nodes[2]!;
    await h.stop(2);
    await h.sees(0, ['node-b']);
    const r = await h.purge(0, { urls: ['http://site.test/moved'] });
    assert.equal(r.status, 200, r.body.toString());
    const owed = () => (a.node!.cluster()!.stats()['purgesOwed'] as Record<string, number>)['node-c'] ?? 0;
    assert.equal(owed(), 1);
    // node-c comes back on other ports; node-a's list says so (same id, new address).
    const [port, adminPort] = [await freePort(), await freePort()];
    c.config.listen = { ...c.config.listen, port };
    c.config.admin = { ...c.config.admin, listen: { ...c.config.admin.listen, port: adminPort } };
    c.config.logLevel = 'info';
    await h.start(2);
    const moved = structuredClone(a.config);
    moved.cluster.peers = moved.cluster.peers.map((p) => (p.id === 'node-c' ? { ...p, url: `http://127.0.0.1:${port}`, adminPort } : p));
    await a.node!.reload(moved);
    await h.sees(0, ['node-b', 'node-c']);
    await until(() => owed() === 0, 'the purge owed to node-c to be delivered');
    await until(() => c.logs.some((l) => l['msg'] === 'purge from a peer' && (l['purge'] as { by?: string }).by === 'peer node-a'), 'node-c to apply the purge node-a owed it');
  });
});
