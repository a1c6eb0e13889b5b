// The cluster while the origin is down, over real sockets: three real nodes in one
// process in front of one origin, sharing a fake clock. A peer whose own origin
// fetch failed says so (a signed peer field), and the asker's own stale rules
// decide; stale copies served between peers do not pile up Cache-Status or Via.

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { primaryKey } from '../../src/cache/key.js';
import { rank } from '../../src/cluster/ownership.js';
import type { OriginHandler } from '../fixtures/harness.js';
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

/** An origin that resets every connection before answering. */
const resets: OriginHandler = (req) => req.socket.destroy();

describe('cluster: the origin down', () => {
  let h: ClusterHarness;
  let handler: OriginHandler;
  before(async () => {
    h = await startCluster((req, res, b) => handler(req, res, b), { overrides: { cache: { staleIfDisconnectedS: 3600 } } });
    await Promise.all([0, 1, 2].map((i) => h.sees(i, h.nodes.filter((_, j) => j !== i).map((n) => n.id))));
  });
  after(() => h.close());

  it("an owner holding a stale copy serves it when its successor's origin fetch failed too (stale-if-disconnected)", async () => {
    const p = '/down/owner-stale';
    const [owner, successor, edge] = rankOf(h, p) as [number, number, number];
    handler = (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=10', 'content-length': 4 });
      res.end('body');
    };
    // Asked at the third node: the owner fetches it for a peer (from the origin) and keeps
    // it; the successor never sees it.
    assert.equal((await get(h, edge, p)).status, 200);
    const hit = await get(h, owner, p);
    assert.match(hit.headers['cache-status']!, /^node-\w; hit/, 'the owner keeps a copy');
    h.clock.advance(20_000);
    handler = resets;
    const before = h.origin.count(p);
    // The owner asks its successor (cluster.successorCopy), which has no copy and whose
    // origin fetch fails: the owner's own stale copy answers, as on a lone node.
    const r = await get(h, owner, p);
    assert.equal(r.status, 200, `stale copy served, got ${r.status} ${r.text.slice(0, 80)}`);
    assert.equal(r.text, 'body');
    assert.match(r.headers['cache-status']!, new RegExp(`^${h.nodes[owner]!.id}; fwd=stale; .*detail=stale-if-disconnected$`));
    assert.equal(h.origin.count(p) - before, 1, 'the origin was asked once (by the successor), not again by the owner');
    void successor;
  });
});

describe('cluster: stale copies served between peers while the origin is down', () => {
  let h: ClusterHarness;
  before(async () => {
    h = await startCluster((_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=10, stale-if-error=86400', 'content-length': 4 });
      res.end('body');
    });
    await Promise.all([0, 1, 2].map((i) => h.sees(i, h.nodes.filter((_, j) => j !== i).map((n) => n.id))));
  });
  after(() => h.close());

  it('requests alternating between owner and successor keep Cache-Status and Via bounded (each node at most once)', async () => {
    const p = '/down/ping-pong';
    const [owner, successor] = rankOf(h, p) as [number, number, number];
    // The owner's miss goes through its successor: both keep a copy.
    assert.equal((await get(h, owner, p)).status, 200);
    h.clock.advance(20_000);
    h.origin.setHandler(resets);
    for (let k = 0; k < 30; k++) {
      const at = k % 2 ? successor : owner;
      const r = await get(h, at, p);
      assert.equal(r.status, 200, `request ${k}: ${r.status}`);
      const names = r.headers['cache-status']!.split(',').map((m) => m.split(';')[0]!.trim());
      const vias = r.headers['via']!.split(',').map((m) => m.trim());
      // At most: the other node's member, then this node's.
      assert.ok(names.length <= 2 && new Set(names).size === names.length, `request ${k} at ${h.nodes[at]!.id}: Cache-Status ${r.headers['cache-status']}`);
      assert.ok(vias.length <= 2 && new Set(vias).size === vias.length, `request ${k}: Via ${r.headers['via']}`);
      assert.equal(names.at(-1), h.nodes[at]!.id);
      h.clock.advance(1000);
    }
  });
});
