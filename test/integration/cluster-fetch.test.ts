// The cluster's miss path over real sockets: three real nodes in one process in
// front of one counting origin. Ownership by rendezvous hashing, peer fetch,
// edge copies, the Cache-Status chain and Age across the hop, forged peer claims
// and no loops when peer lists disagree.

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { primaryKey } from '../../src/cache/key.js';
import { rank } from '../../src/cluster/ownership.js';
import { peerProof } from '../../src/cluster/peer-auth.js';
import { CLUSTER_SECRET, startCluster, type ClusterHarness } from '../fixtures/cluster.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode } from '../../src/node.js';
import { fetchReply, testConfig } from '../fixtures/harness.js';

const body = (path: string) => `body of ${path}`;

// Every node's clients name the same Host, so the nodes agree on the keys.
const HOST = 'site.test';

function keyOf(path: string): string {
  return primaryKey('http', HOST, path);
}

/** The nodes' indexes in ownership order for `path`: the owner first. */
function rankOf(h: ClusterHarness, path: string): [number, number, number] {
  const order = rank(keyOf(path), h.nodes.map((n) => ({ id: n.id }))).map((m) => h.nodes.findIndex((n) => n.id === m.id));
  return [order[0]!, order[1]!, order[2]!];
}

/** The index of the node that owns `path`. */
function ownerOf(h: ClusterHarness, path: string): number {
  const owner = rank(keyOf(path), h.nodes.map((n) => ({ id: n.id })))[0]!.id;
  return h.nodes.findIndex((n) => n.id === owner);
}

function get(h: ClusterHarness, i: number, path: string, headers: Record<string, string> = {}) {
  return fetchReply(h.nodes[i]!.base + path, { host: HOST, ...headers });
}

describe('cluster: ownership and peer fetch (three real nodes)', () => {
  let h: ClusterHarness;
  before(async () => {
    h = await startCluster((req, res) => {
      // Slow enough that concurrent requests overlap the origin fetch.
      setTimeout(() => {
        const b = body(req.url!);
        res.writeHead(200, { 'content-length': Buffer.byteLength(b), 'cache-control': 'max-age=600', 'surrogate-key': 'all-objects' });
        res.end(b);
      }, req.url!.startsWith('/cold') ? 100 : 0);
    });
    await Promise.all([0, 1, 2].map((i) => h.sees(i, h.nodes.filter((_, j) => j !== i).map((n) => n.id))));
  });
  after(() => h.close());

  it('300 concurrent requests for one cold object spread over the three nodes cost 1 origin request', async () => {
    // Every node's clients name the same Host, so the three agree on the key.
    const host = 'site.test';
    const replies = await Promise.all(Array.from({ length: 300 }, (_, i) => fetchReply(h.nodes[i % 3]!.base + '/cold/one', { host })));
    assert.ok(replies.every((r) => r.status === 200 && r.text === body('/cold/one')), 'every client got the whole object');
    assert.equal(h.origin.count('/cold/one'), 1);
  });

  it('uniform traffic over 1,000 objects costs 1 origin request each', async () => {
    const host = 'site.test';
    const paths = Array.from({ length: 1000 }, (_, i) => `/u/${i}`);
    // Each object asked on two different nodes (a cluster-unaware node would fetch it
    // twice), in shuffled order, 60 at a time.
    const work = paths.flatMap((p, k) => [k % 3, (k + 1 + (k % 2)) % 3].map((i) => ({ p, i })));
    for (let k = work.length - 1; k > 0; k--) {
      const j = Math.floor(Math.random() * (k + 1));
      [work[k], work[j]] = [work[j]!, work[k]!];
    }
    let next = 0;
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: 60 }, async () => {
        while (next < work.length) {
          const { p, i } = work[next++]!;
          const r = await fetchReply(h.nodes[i]!.base + p, { host });
          if (r.status !== 200 || r.text !== body(p)) failures.push(`${p} on ${i}: ${r.status}`);
        }
      }),
    );
    assert.deepEqual(failures, []);
    const extra = paths.filter((p) => h.origin.count(p) !== 1).map((p) => `${p}: ${h.origin.count(p)}`);
    assert.deepEqual(extra, [], 'each object fetched from the origin exactly once');
    // Every peer request was proven and accepted once: none refused as forged or replayed.
    for (const n of h.nodes) assert.equal((n.node!.cluster()!.stats() as { forgedPeerClaims: number }).forgedPeerClaims, 0, n.id);
  });

  it("Cache-Status lists one member per hop, closest to the origin first, and Age carries across the hops", async () => {
    const path = '/chain';
    const [owner, next, third] = rankOf(h, path);
    const id = (i: number) => h.nodes[i]!.id;
    // The owner's own miss goes through the next node in ownership order (cluster.successorCopy).
    const first = await get(h, owner, path);
    assert.match(first.headers['cache-status']!, new RegExp(`^${id(next)}; fwd=uri-miss; fwd-status=200; stored; ttl=\\d+, ?${id(owner)}; fwd=uri-miss; fwd-status=200; stored`));
    h.clock.advance(7_000);
    const viaEdge = await get(h, third, path);
    assert.equal(viaEdge.status, 200);
    const [nextMember, ownerMember, edgeMember, ...more] = viaEdge.headers['cache-status']!.split(/,\s*/);
    assert.equal(more.length, 0);
    // Stored with the owner's copy: what the next node said when the owner fetched it.
    assert.match(nextMember!, new RegExp(`^${id(next)}; fwd=uri-miss`));
    assert.match(ownerMember!, new RegExp(`^${id(owner)}; hit; ttl=59[23]`));
    assert.match(edgeMember!, new RegExp(`^${id(third)}; fwd=uri-miss; fwd-status=200; stored; ttl=59[23]`));
    assert.equal(viaEdge.headers['age'], '7');
    // The edge copy answers the next request by itself, its Age still counting from the origin.
    h.clock.advance(2_000);
    const hit = await get(h, third, path);
    assert.equal(hit.headers['age'], '9');
    assert.match(hit.headers['cache-status']!, new RegExp(`${id(third)}; hit; ttl=59[01]$`));
    assert.equal(h.origin.count(path), 1);
    assert.match(hit.headers['via']!, new RegExp(`1.1 ${id(next)}, 1.1 ${id(owner)}, 1.1 ${id(third)}`));
  });

  it("an owner's own miss leaves a copy on the next node in ownership order (memory only), one origin request", async () => {
    const path = '/successor-copy';
    const [owner, next, third] = rankOf(h, path);
    const r = await get(h, owner, path);
    assert.equal(r.status, 200);
    assert.equal(h.origin.count(path), 1);
    const key = keyOf(path);
    const nextStore = h.nodes[next]!.node!.store();
    await Promise.all([nextStore.flush(), h.nodes[owner]!.node!.store().flush()]);
    assert.ok(nextStore.memory.peek(key), "the next node keeps a copy of the owner's object");
    assert.equal(nextStore.disk.has(key), false, 'as an edge copy: memory only');
    assert.ok(h.nodes[owner]!.node!.store().disk.has(key), 'the owner keeps its copy in both tiers');
    assert.equal(h.nodes[third]!.node!.store().memory.peek(key), undefined, 'one copy besides the owner\'s');
    // The next node answers its own clients from that copy.
    const atNext = await get(h, next, path);
    assert.match(atNext.headers['cache-status']!, new RegExp(`${h.nodes[next]!.id}; hit`));
    assert.equal(h.origin.count(path), 1);
  });

  it('edge copies live in memory only (cluster.edgeCopies: memory); the owner keeps it on disk too', async () => {
    const path = '/tiers';
    const owner = ownerOf(h, path);
    const edge = (owner + 2) % 3;
    await get(h, edge, path);
    const key = keyOf(path);
    const edgeStore = h.nodes[edge]!.node!.store();
    await h.nodes[owner]!.node!.store().flush();
    await edgeStore.flush();
    assert.ok(edgeStore.memory.peek(key), 'edge copy in memory');
    assert.equal(edgeStore.disk.has(key), false, 'no edge copy on disk');
    assert.ok(h.nodes[owner]!.node!.store().disk.has(key), "the owner's copy is on disk");
  });

  it('a request claiming to be a peer without a valid proof is a client request, its peer fields removed', async () => {
    const path = '/forged';
    const owner = ownerOf(h, path);
    const other = (owner + 1) % 3;
    const r = await get(h, other, path, { 'strata-peer': h.nodes[owner]!.id, 'strata-peer-time': String(Date.now()), 'strata-peer-sig': 'AAAA' });
    assert.equal(r.status, 200);
    const seen = h.origin.requests.filter((q) => q.url === path);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.headers['strata-peer'], undefined, 'peer fields never reach the origin');
    // Served as a client's: it went through the owner, so both hold it.
    assert.match(r.headers['cache-status']!, new RegExp(`^${h.nodes[owner]!.id}; fwd=uri-miss`));
    // A replayed (stale) proof is refused too.
    const old = peerProof(CLUSTER_SECRET, h.nodes[owner]!.id, h.nodes[other]!.id, 'GET', '/forged-old', Date.now() - 120_000, { host: HOST });
    const r2 = await get(h, other, '/forged-old', old);
    // Two caches either way: through the owner, or the owner itself through the next node in order.
    assert.equal(r2.headers['cache-status']!.split(',').length, 2);
    assert.equal(h.origin.requests.find((q) => q.url === '/forged-old')!.headers['strata-peer'], undefined);
  });

  it("a peer's request is answered by the node it reached, never sent on to another peer", async () => {
    const path = '/peer-only';
    const owner = ownerOf(h, path);
    const notOwner = (owner + 1) % 3;
    const proof = peerProof(CLUSTER_SECRET, h.nodes[owner]!.id, h.nodes[notOwner]!.id, 'GET', path, Date.now(), { host: HOST });
    const r = await get(h, notOwner, path, proof);
    assert.equal(r.status, 200);
    assert.equal(r.headers['cache-status']!.split(',').length, 1, 'one hop: the node asked went to the origin itself');
    assert.equal(h.origin.count(path), 1);
  });

  it('a node can front the cluster as its origin (edge → shield → origin): Cache-Status shows every cache', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-edge-'));
    const config = testConfig(h.nodes[0]!.base, dir);
    config.nodeId = 'outer-edge';
    const outer = createNode(config, { clock: h.clock });
    await outer.start();
    try {
      const path = '/layered';
      const r = await fetchReply(`http://127.0.0.1:${outer.proxyAddress().port}${path}`);
      assert.equal(r.status, 200);
      const members = r.headers['cache-status']!.split(/,\s*/).map((m) => m.split(';')[0]);
      // The shield's owner (and the shield node asked, when it is not the owner), then the outer edge.
      assert.equal(members[members.length - 1], 'outer-edge');
      assert.ok(members.length >= 2 && members.slice(0, -1).every((m) => m!.startsWith('node-')), r.headers['cache-status']);
      assert.equal(h.origin.count(path), 1);
      const again = await fetchReply(`http://127.0.0.1:${outer.proxyAddress().port}${path}`);
      assert.match(again.headers['cache-status']!, /outer-edge; hit/);
    } finally {
      await outer.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('/stats lists each peer and its state', async () => {
    const s = (await fetchReply(`${h.nodes[0]!.admin}/stats`)).body.toString();
    const peers = (JSON.parse(s) as { peers: { clustered: boolean; members: { id: string; available: boolean; health: { state: string } }[] } }).peers;
    assert.equal(peers.clustered, true);
    assert.deepEqual(peers.members.map((m) => [m.id, m.available, m.health.state]).sort(), [
      ['node-b', true, 'healthy'],
      ['node-c', true, 'healthy'],
    ]);
  });
});

describe('cluster: large objects in slices', () => {
  it('ranges and slices pass through the owner; each slice is fetched from the origin once', async () => {
    const big = Buffer.alloc(200 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251;
    const h = await startCluster(
      (req, res) => {
        const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
        const head = { etag: '"big-1"', 'cache-control': 'max-age=600', 'accept-ranges': 'bytes' };
        if (!m) {
          res.writeHead(200, { ...head, 'content-length': big.length });
          return void res.end(big);
        }
        const start = Number(m[1]);
        const end = Math.min(Number(m[2]), big.length - 1);
        res.writeHead(206, { ...head, 'content-range': `bytes ${start}-${end}/${big.length}`, 'content-length': end - start + 1 });
        res.end(big.subarray(start, end + 1));
      },
      { overrides: { slices: { thresholdBytes: 64 * 1024, sliceBytes: 16 * 1024 } } },
    );
    try {
      await Promise.all([0, 1, 2].map((i) => h.sees(i, h.nodes.filter((_, j) => j !== i).map((n) => n.id))));
      const path = '/big.bin';
      const owner = ownerOf(h, path);
      const edge = (owner + 1) % 3;
      const r = await get(h, edge, path, { range: 'bytes=20000-20099' });
      assert.equal(r.status, 206);
      assert.deepEqual(r.body, big.subarray(20000, 20100));
      assert.equal(r.headers['cache-status']!.split(',').length, 2, "owner's member, then the edge's");
      const whole = await get(h, (owner + 2) % 3, path);
      assert.equal(whole.status, 200);
      assert.ok(whole.body.equals(big), 'the whole object, assembled from slices');
      const seen = h.origin.requests.filter((q) => q.url === path);
      assert.ok(seen.every((q) => String(q.headers['via']).endsWith(`1.1 ${h.nodes[owner]!.id}`)), 'only the owner asked the origin');
      const ranges = seen.map((q) => q.headers.range).filter((x) => x !== undefined);
      assert.equal(new Set(ranges).size, ranges.length, 'each slice fetched once');
    } finally {
      await h.close();
    }
  });
});

describe('cluster: disagreeing peer lists', () => {
  it('no loop: each node answers, and no request crosses more than one peer hop', async () => {
    // a knows b, b knows c, c knows a: every node's view of the owners differs.
    const h = await startCluster(
      (req, res) => {
        const b = body(req.url!);
        res.writeHead(200, { 'content-length': Buffer.byteLength(b), 'cache-control': 'max-age=600' });
        res.end(b);
      },
      { peersOf: (i, ids) => [ids[i]!, ids[(i + 1) % 3]!] },
    );
    try {
      await Promise.all([0, 1, 2].map((i) => h.sees(i, [h.nodes[(i + 1) % 3]!.id])));
      const host = 'site.test';
      for (let k = 0; k < 30; k++) {
        for (let i = 0; i < 3; i++) {
          // A fresh object per node: its Via shows the hops of this one request.
          const fresh = await fetchReply(h.nodes[i]!.base + `/loop/${k}/${i}`, { host });
          assert.equal(fresh.status, 200);
          assert.ok(fresh.headers['via']!.split(',').length <= 2, `at most one peer hop: ${fresh.headers['via']}`);
          assert.equal(h.origin.count(`/loop/${k}/${i}`), 1);
          // And one object asked on every node.
          assert.equal((await fetchReply(h.nodes[i]!.base + `/loop/${k}`, { host })).status, 200);
        }
        assert.ok(h.origin.count(`/loop/${k}`) <= 3);
      }
    } finally {
      await h.close();
    }
  });
});
