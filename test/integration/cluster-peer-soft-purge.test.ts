// A peer's answer from a copy it soft-purged: stale there, so stale where it is kept
// (http/headers.ts PEER_SOFT_PURGED). A soft purge cuts a copy's lifetime where its
// fields cannot show it (cache/soft-purge.ts); the owner serves it stale within
// stale-while-revalidate, and the node that asked used to keep it fresh for the rest
// of its max-age, old content and all, though the owner itself had moved on.
//
// node-b stands for a node that never receives the purge: one that joined the cluster
// after it (a node added to cluster.peers or cluster.dns is not sent earlier purges).
// Here node-a, which accepts the purge, does not list node-b, so only node-c (the
// owner) applies it.

import { strict as assert } from 'node:assert';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startCluster, type ClusterHarness, ownership } from '../fixtures/cluster.js';
import { fetchReply, until } from '../fixtures/harness.js';
import { answerUnsatisfiable, servedRange } from '../fixtures/origin-range.js';

const HOST = 'site.test';
const ids = ['node-a', 'node-b', 'node-c'];
const { ownerOf, pathOwnedBy } = ownership(HOST, ids);

/** A large object (stored in slices), its bytes and ETag those of version `v`; a Range is answered. */
function bigAnswer(range: string | undefined, v: number, fields: Record<string, string>, res: ServerResponse): void {
  const big = Buffer.alloc(200 * 1024, `v${v}`);
  const head = { ...fields, 'accept-ranges': 'bytes' };
  const r = servedRange(range, big.length);
  if (r === 'unsatisfiable') return answerUnsatisfiable(res, big.length);
  if (!r) {
    res.writeHead(200, { ...head, 'content-length': big.length });
    return void res.end(big);
  }
  res.writeHead(206, { ...head, 'content-range': `bytes ${r.start}-${r.end}/${big.length}`, 'content-length': r.end - r.start + 1 });
  res.end(big.subarray(r.start, r.end + 1));
}

describe('cluster: a copy the owner soft-purged, asked by a node that did not apply the purge', () => {
  let h: ClusterHarness;
  /** The origin's current version of each path. */
  const version = new Map<string, number>();

  before(async () => {
    h = await startCluster(
      (req, res) => {
        const v = version.get(req.url!) ?? 1;
        const etag = `"v${v}"`;
        const fields = { etag, 'cache-control': 'max-age=60, stale-while-revalidate=5' };
        if (req.url!.startsWith('/soft-big')) return void bigAnswer(req.headers.range, v, { ...fields, 'cache-control': 'max-age=60, stale-if-error=600' }, res);
        if (req.headers['if-none-match'] === etag) {
          res.writeHead(304, fields);
          return void res.end();
        }
        const b = `v${v} of ${req.url}`;
        res.writeHead(200, { ...fields, 'content-length': Buffer.byteLength(b) });
        res.end(b);
      },
      // Only the owner holds a copy (no successor copy on node-b), and node-a's purges reach node-c alone.
      { cluster: { successorCopy: false }, peersOf: (i, all) => (i === 0 ? ['node-a', 'node-c'] : all), overrides: { slices: { thresholdBytes: 64 * 1024, sliceBytes: 16 * 1024 } } },
    );
    await h.sees(1, ['node-a', 'node-c']);
    await h.sees(2, ['node-a', 'node-b']);
  });
  after(() => h.close());

  const get = (i: number, p: string, headers: Record<string, string> = {}) => fetchReply(h.nodes[i]!.base + p, { host: HOST, ...headers });

  /** node-b's answers until one is `want`; fails after a deadline (the refresh runs in the background). */
  async function eventually(p: string, want: string): Promise<void> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const r = await get(1, p);
      if (r.text === want) return;
      if (Date.now() > deadline) throw new Error(`node-b still answers ${r.text} (${r.headers['cache-status']})`);
      await until(() => true, 'a turn');
    }
  }

  it("a miss: the owner's stale answer is kept stale, and the next request revalidates", async () => {
    const p = pathOwnedBy('node-c', '/soft-miss');
    assert.equal((await get(2, p)).text, `v1 of ${p}`);
    h.clock.advance(1_000);
    version.set(p, 2);
    const purged = await h.purge(0, { urls: [p], soft: true });
    assert.deepEqual((JSON.parse(purged.text) as { peers: unknown }).peers, { 'node-c': 'acked' });
    h.clock.advance(1_000);
    // The owner answers from its soft-purged copy within stale-while-revalidate (and refreshes it behind).
    const miss = await get(1, p);
    assert.equal(miss.text, `v1 of ${p}`);
    assert.match(String(miss.headers['cache-status']), /^node-c; hit; ttl=-\d+; detail=stale-while-revalidate, node-b; fwd=uri-miss; fwd-status=200; stored; ttl=-\d+$/);
    assert.equal(miss.headers['strata-peer-soft-purged-ms'], undefined, 'between peers only');
    // Kept stale: the next request is not a fresh hit on the old content.
    const next = await get(1, p);
    assert.match(String(next.headers['cache-status']), /node-b; hit; ttl=-\d+; detail=stale-while-revalidate$/);
    await eventually(p, `v2 of ${p}`);
  });

  it("a revalidation: the owner's 304 from its soft-purged copy leaves node-b's copy stale", async () => {
    const p = pathOwnedBy('node-c', '/soft-304');
    assert.equal((await get(1, p)).text, `v1 of ${p}`, 'node-b keeps an edge copy of v1');
    h.clock.advance(30_000);
    // The owner's copy is refreshed (a client's no-cache): fresh there when node-b's is stale.
    assert.match(String((await get(2, p, { 'cache-control': 'no-cache' })).headers['cache-status']), /fwd-status=304/);
    h.clock.advance(34_000);
    version.set(p, 2);
    await h.purge(0, { urls: [p], soft: true });
    h.clock.advance(2_000);
    // node-b's copy is past its stale-while-revalidate window: it revalidates, and the owner answers
    // from its soft-purged copy (within its window, which counts from the purge).
    const validated = await get(1, p);
    assert.equal(validated.text, `v1 of ${p}`);
    assert.match(String(validated.headers['cache-status']), /^node-c; hit; ttl=-\d+; detail=stale-while-revalidate, node-b; fwd=stale; fwd-status=304; stored; ttl=-\d+$/);
    await eventually(p, `v2 of ${p}`);
  });

  it("a slice: the owner's soft-purged slice, answered when the origin fails, is kept stale", async () => {
    const p = pathOwnedBy('node-c', '/soft-big');
    const range = { range: 'bytes=0-99' };
    assert.equal((await get(2, p, range)).text, 'v1'.repeat(50));
    h.clock.advance(1_000);
    version.set(p, 2);
    await h.purge(0, { urls: [p], soft: true });
    h.clock.advance(1_000);
    // Stale slices are fetched again whole (no stale-while-revalidate): the owner's fetch fails, its stale-if-error answers.
    await h.origin.close();
    try {
      const miss = await get(1, p, range);
      assert.equal(miss.status, 206);
      assert.equal(miss.text, 'v1'.repeat(50));
      assert.match(String(miss.headers['cache-status']), /^node-c; fwd=stale; ttl=-\d+; detail=stale-if-\w+, node-b; fwd=uri-miss; fwd-status=206; stored; ttl=-\d+; detail=slices$/);
    } finally {
      await h.origin.reopen();
    }
    // node-b's slice is stale: fetched again, the current version.
    assert.equal((await get(1, p, range)).text, 'v2'.repeat(50));
  });
});
