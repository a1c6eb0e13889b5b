// What the hop between nodes adds to a request, over real sockets: three real nodes
// in one process in front of one counting origin. A client's header block the node
// accepted is answered, even when the hop's own fields would take it past a peer's
// limits.maxHeaderBytes (the node then asks the origin itself).

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { primaryKey } from '../../src/cache/key.js';
import { rank } from '../../src/cluster/ownership.js';
import { fetchReply } from '../fixtures/harness.js';
import { startCluster, type ClusterHarness } from '../fixtures/cluster.js';

const HOST = 'site.test';

/** The nodes' indexes in ownership order for `path`: the owner first. */
function rankOf(h: ClusterHarness, path: string): number[] {
  return rank(primaryKey('http', HOST, path), h.nodes.map((n) => ({ id: n.id }))).map((m) => h.nodes.findIndex((n) => n.id === m.id));
}

function get(h: ClusterHarness, i: number, path: string, headers: Record<string, string> = {}) {
  return fetchReply(h.nodes[i]!.base + path, { host: HOST, ...headers });
}

describe('cluster: the hop and the header limit', () => {
  let h: ClusterHarness;
  before(async () => {
    h = await startCluster((_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': 10 });
      res.end('0123456789');
    });
    await Promise.all([0, 1, 2].map((i) => h.sees(i, h.nodes.filter((_, j) => j !== i).map((n) => n.id))));
  });
  after(() => h.close());

  it('a client header block just under limits.maxHeaderBytes is answered at the owner and at another node, not refused by the peer hop', async () => {
    const limit = h.nodes[0]!.config.limits.maxHeaderBytes;
    const filler = { 'x-filler': 'f'.repeat(limit - 400) };
    const p = '/hop/big-fields';
    const [owner, , edge] = rankOf(h, p) as [number, number, number];
    // At the owner: its miss would go through its successor (cluster.successorCopy).
    const atOwner = await get(h, owner, `${p}?owner`, filler);
    assert.equal(atOwner.status, 200, `owner: ${atOwner.status} ${atOwner.text.slice(0, 100)}`);
    assert.equal(atOwner.text, '0123456789');
    // At a non-owner: its miss would go to the owner.
    const atEdge = await get(h, edge, p, filler);
    assert.equal(atEdge.status, 200, `edge: ${atEdge.status} ${atEdge.text.slice(0, 100)}`);
    assert.equal(atEdge.text, '0123456789');
    // Fetched from the origin by a node that does not own it: kept as an edge copy (cluster.edgeCopies: memory), not on disk.
    const edgeStore = h.nodes[edge]!.node!.store();
    await edgeStore.flush();
    const key = primaryKey('http', HOST, p);
    assert.ok(edgeStore.memory.peek(key), 'edge copy in memory');
    assert.equal(edgeStore.disk.has(key), false, 'no copy on the disk of a node that does not own it');
  });

  it('a smaller block still goes through the owner: one origin request for the cluster', async () => {
    const p = '/hop/small-fields';
    const [owner, successor, edge] = rankOf(h, p) as [number, number, number];
    const fields = { 'x-filler': 'f'.repeat(2000) };
    for (const i of [edge, successor, owner]) assert.equal((await get(h, i, p, fields)).status, 200);
    assert.equal(h.origin.count(p), 1);
  });
});
