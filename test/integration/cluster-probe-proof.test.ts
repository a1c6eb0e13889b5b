// A health probe's proof is made for one node: captured on its way to node-b (a tap
// before node-b's admin listener: peers speak plain HTTP), it is no peer request on
// node-c's proxy listener, where a peer would skip the edge guard and see peer-only
// fields. On an admin listener a probe made for another id is still a peer's (a
// prober may know a node by an old id or none yet: peer-auth.ts checkPeer).

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { startCluster, type ClusterHarness } from '../fixtures/cluster.js';
import { startPeerTap, type PeerTap } from '../fixtures/peer-tap.js';
import { rawExchange } from '../protocol/raw.js';

const [B, C] = [1, 2];

describe('cluster: a captured health probe replayed to another node (three real nodes)', () => {
  let h: ClusterHarness;
  let tap: PeerTap;
  const port = (url: string) => Number(new URL(url).port);
  const statsOf = (i: number) => h.nodes[i]!.node!.cluster()!.stats() as { forgedPeerClaims: number; replayedPeerProofs: number };
  const used = new Set<string>();

  /** A probe node-a sent node-b, not used by this test before: waits for the next one (deadline 10 s). */
  async function captureProbe(): Promise<string> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const head = tap.heads.find((hd) => !used.has(hd) && hd.startsWith('GET /healthz ') && /\r\nstrata-peer: node-a\r\n/i.test(hd) && /\r\nstrata-peer-to: node-b\r\n/i.test(hd));
      if (head) {
        used.add(head);
        return head;
      }
      if (Date.now() > deadline) throw new Error(`no probe from node-a to node-b captured; heads: ${tap.heads.length}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  before(async () => {
    // node-b's admin port, learnt as the harness hands it out (probes start before startCluster returns).
    let bAdmin = 0;
    tap = await startPeerTap(() => bAdmin);
    h = await startCluster(
      (_req, res) => {
        res.writeHead(200, { 'content-length': 2, 'cache-control': 'max-age=600' });
        res.end('ok');
      },
      { n: 3, peerAdminPortOf: (id, p) => {
          if (id !== 'node-b') return p;
          bAdmin = p;
          return port(tap.url);
        } },
    );
    await Promise.all([h.sees(0, ['node-b', 'node-c']), h.sees(C, ['node-a', 'node-b'])]);
  });
  after(async () => {
    await h.close();
    await tap.close();
  });

  it("node-c's proxy listener takes a probe proof made for node-b as a client's request", async () => {
    const head = await captureProbe();
    const before = statsOf(C);
    const r = await rawExchange(port(h.nodes[C]!.base), Buffer.from(head, 'latin1'));
    assert.ok(r.responses[0], 'answered');
    assert.equal(r.responses[0]!.headers['strata-peer-age-ms'], undefined);
    assert.equal(statsOf(C).forgedPeerClaims, before.forgedPeerClaims + 1, 'refused as a proof not made for node-c');
    assert.equal(statsOf(C).replayedPeerProofs, before.replayedPeerProofs);
  });

  it("node-c's admin /healthz still takes a probe made for another id (a stale id): answered as to a peer", async () => {
    const head = await captureProbe();
    const before = statsOf(C);
    const r = await rawExchange(port(h.nodes[C]!.admin), Buffer.from(head, 'latin1'));
    const res = r.responses[0]!;
    assert.equal(res.status, 200, res.text);
    const doc = JSON.parse(res.text) as { node: string; owed?: number };
    assert.equal(doc.node, 'node-c');
    assert.equal(doc.owed, 0, 'a peer is told what it is owed');
    assert.equal(statsOf(C).forgedPeerClaims, before.forgedPeerClaims);
  });
});
