// Invariant 7 while a purge is still on its way to some peers: a node that applied
// it never takes the old object from a peer that has not (cluster/purge-times.ts,
// peer-fetch.ts). Purges are applied in parallel, so such a peer is the usual
// case for a moment, and a long one when its delivery fails.
//   - nodes: the object's owner has not applied the purge yet; a node that has
//     misses, asks it, and gets the current version (the owner revalidates), never
//     the purged one, before and after the purge's answer;
//   - workers: purges under load on 3 workers; nothing purged is served after the
//     answer (a worker's miss asks the worker that stored the object, which may not
//     have applied the purge yet).

import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { startCluster, type ClusterHarness, ownership, whileOwnerLags } from '../fixtures/cluster.js';
import { fetchReply } from '../fixtures/harness.js';
import { get, servedBy, startWorkers, versionedOrigin } from '../fixtures/workers.js';

const HOST = 'site.test';
const ids = ['node-a', 'node-b', 'node-c'];
const { ownerOf, pathOwnedBy } = ownership(HOST, ids);

describe('cluster: a purge not yet applied by a peer', () => {
  let h: ClusterHarness;
  const fetched = new Map<string, number>();
  const get1 = (i: number, p: string) => fetchReply(h.nodes[i]!.base + p, { host: HOST });

  before(async () => {
    h = await startCluster((req, res) => {
      const n = (fetched.get(req.url!) ?? 0) + 1;
      fetched.set(req.url!, n);
      const b = `v${n} of ${req.url}`;
      res.writeHead(200, { 'content-length': Buffer.byteLength(b), 'cache-control': 'max-age=600' });
      res.end(b);
    });
    await Promise.all([0, 1, 2].map((i) => h.sees(i, ids.filter((_, j) => j !== i))));
  });
  after(() => h.close());

  it("a node that applied it does not take the owner's old copy, before or after the answer", async () => {
    const p = pathOwnedBy('node-c', '/lag');
    assert.equal((await get1(2, p)).text, `v1 of ${p}`, 'the owner holds v1');
    // Time passes: the owner's copy is a second old when the purge comes.
    h.clock.advance(1_000);
    // The owner applies the purge only when the test lets it (a slow or failed delivery).
    const r = await whileOwnerLags(h, { urls: [p] }, async () => {
      // node-b misses, asks the owner: its v1 left the origin before the purge node-b applied.
      const during = await get1(1, p);
      assert.equal(during.text, `v2 of ${p}`, `during: ${during.headers['cache-status']}`);
      // The owner's v2, fetched for node-b's second question (no-cache: it revalidated).
      assert.match(String(during.headers['cache-status']), /^node-c; fwd=request; .*, node-b; fwd=uri-miss/);
      const peerStats = h.nodes[1]!.node!.cluster()!.stats() as { peerAnswersPredatingPurges: number };
      assert.equal(peerStats.peerAnswersPredatingPurges, 1, 'the old copy was refused once; the revalidated one taken');
    });
    assert.equal(r.status, 200);
    assert.deepEqual((JSON.parse(r.text) as { peers: unknown }).peers, { 'node-b': 'acked', 'node-c': 'acked' });
    // After the answer: node-b answers from what it kept, the current version.
    const afterwards = await get1(1, p);
    assert.equal(afterwards.text, `v2 of ${p}`);
    assert.match(String(afterwards.headers['cache-status']), /node-b; hit/);
    // The marker of a copy's age between peers is never shown to a client.
    assert.equal(afterwards.headers['strata-peer-age-ms'], undefined);
  });
});

test('3 workers: purges under load; nothing purged is served after the answer', async () => {
  const origin = await versionedOrigin(0);
  const dir = await mkdtemp(join(tmpdir(), 'strata-purge-lag-'));
  const { s, base } = await startWorkers(3, origin, dir);
  try {
    const stale: string[] = [];
    for (let round = 0; round < 20; round++) {
      const path = `/lag${round}`;
      // Stored by one worker, an edge copy on the others.
      for (let i = 0; i < 9; i++) await get(base, path);
      const before = origin.count(path);
      let stop = false;
      const load = Array.from({ length: 6 }, async () => {
        while (!stop) await get(base, path).catch(() => undefined);
      });
      const p = await get(base, path, 'PURGE', { authorization: 'Bearer t' });
      stop = true;
      await Promise.all(load);
      assert.equal(p.status, 200, p.body);
      const afterwards = await Promise.all(Array.from({ length: 12 }, () => get(base, path)));
      for (const a of afterwards) if (a.body === `${path} v${before}`) stale.push(`${path}: ${servedBy(a)} ${a.cacheStatus}`);
    }
    assert.deepEqual(stale, [], 'the version before the purge, served after its answer');
  } finally {
    s.child.kill('SIGKILL');
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
