// Peer proofs against someone on the wire between two real nodes (peers speak
// plain HTTP): a tap between node-a and node-b records the peer requests node-a
// makes and can rewrite them. A captured request sent again, a proof carried
// with another Host or a changed signed field is refused: the request is then a
// client's, and the edge guard applies (here: a filter refusing requests that
// came through a proxy, i.e. carry Via, which only peers' requests do). Fields
// added on the way never reach the origin. Normal peer traffic goes on.

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { primaryKey } from '../../src/cache/key.js';
import { rank } from '../../src/cluster/ownership.js';
import { filterRules } from '../../src/config/edge-kinds.js';
import { startCluster, type ClusterHarness } from '../fixtures/cluster.js';
import { edgeRules } from '../fixtures/edge.js';
import { fetchReply } from '../fixtures/harness.js';
import { startPeerTap, type PeerTap } from '../fixtures/peer-tap.js';
import { rawExchange } from '../protocol/raw.js';

const HOST = 'site.test';
const A = 0;
const B = 1;

/** Paths under `prefix` that node-b owns (two nodes: about half of them). */
function ownedByB(prefix: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    const path = `${prefix}-${i}`;
    if (rank(primaryKey('http', HOST, path), [{ id: 'node-a' }, { id: 'node-b' }])[0]!.id === 'node-b') out.push(path);
  }
  return out;
}

describe('cluster: peer proofs against a tap on the wire (two real nodes)', () => {
  let h: ClusterHarness;
  let tap: PeerTap;
  const portOf = (i: number) => Number(new URL(h.nodes[i]!.base).port);
  const statsOf = (i: number) => h.nodes[i]!.node!.cluster()!.stats() as { forgedPeerClaims: number; replayedPeerProofs: number; peerProofsRemembered: number };
  const get = (path: string, headers: Record<string, string> = {}) => fetchReply(h.nodes[A]!.base + path, { host: HOST, ...headers });
  /** The head node-a sent node-b for `path`, as captured. */
  const captured = (path: string) => tap.heads.find((hd) => hd.startsWith(`GET ${path} `))!;

  before(async () => {
    tap = await startPeerTap(() => portOf(B));
    h = await startCluster(
      (req, res) => {
        const body = `body of ${req.url}`;
        res.writeHead(200, { 'content-length': Buffer.byteLength(body), 'cache-control': 'max-age=600', server: 'origin-build-42' });
        res.end(body);
      },
      {
        n: 2,
        // node-a reaches node-b through the tap.
        peerUrlOf: (id, url) => (id === 'node-b' ? tap.url : url),
        overrides: { edge: edgeRules({ filters: filterRules().parse([{ name: 'proxied', action: 'deny', headers: { via: '*' } }]) }) },
      },
    );
    await Promise.all([h.sees(A, ['node-b']), h.sees(B, ['node-a'])]);
  });
  after(async () => {
    await h.close();
    await tap.close();
  });

  it('a peer request goes through the tap, is proven, and every field it carries is signed', async () => {
    const [path] = ownedByB('/normal', 1);
    const r = await get(path!, { 'accept-language': 'en' });
    assert.equal(r.status, 200);
    assert.equal(r.text, `body of ${path}`);
    assert.match(r.headers['cache-status']!, /^node-b; fwd=uri-miss;[^,]* stored;[^,]*, node-a; fwd=uri-miss/);
    assert.equal(r.headers['server'], undefined, 'the client is answered with origin-identifying fields hidden');
    const head = captured(path!);
    assert.match(head, /\r\nstrata-peer-sig: /);
    const signed = /\r\nstrata-peer-signed: ([^\r]*)/.exec(head)![1]!.split(',');
    for (const f of ['accept-language', 'via', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']) assert.ok(signed.includes(f), `${f} signed: ${signed.join(',')}`);
    assert.equal(statsOf(B).forgedPeerClaims, 0);
    assert.ok(statsOf(B).peerProofsRemembered >= 1, 'its proof is remembered: accepted once');
  });

  it('a captured peer request sent again is refused: a client request, which the guard refuses', async () => {
    const [path] = ownedByB('/replayed', 1);
    assert.equal((await get(path!)).status, 200);
    const before = statsOf(B);
    const replay = await rawExchange(portOf(B), Buffer.from(captured(path!), 'latin1'));
    const res = replay.responses[0]!;
    assert.equal(res.status, 403, res.text);
    assert.match(res.text, /proxied/, 'the filter rule named');
    assert.equal(statsOf(B).replayedPeerProofs, before.replayedPeerProofs + 1);
    assert.equal(h.origin.count(path!), 1);
    // Sent again at once on another connection (a race with the peer): still one use.
    const twice = await Promise.all([0, 1].map(() => rawExchange(portOf(B), Buffer.from(captured(path!), 'latin1'))));
    assert.deepEqual(twice.map((x) => x.responses[0]!.status), [403, 403]);
  });

  it('a proof carried with another Host is refused (the request rewritten on the way: its first use)', async () => {
    const [path] = ownedByB('/other-host', 1);
    tap.rewrite = (head) => head.replace(/\r\nhost: [^\r]*/i, '\r\nhost: admin.internal');
    try {
      const before = statsOf(B);
      const r = await get(path!);
      assert.equal(r.status, 403, 'node-b answered a client request carrying Via: the guard refused it');
      assert.equal(statsOf(B).forgedPeerClaims, before.forgedPeerClaims + 1);
      assert.equal(statsOf(B).replayedPeerProofs, before.replayedPeerProofs, 'refused for its Host, not as a replay');
      assert.equal(h.origin.count(path!), 0);
    } finally {
      tap.rewrite = (head) => head;
    }
  });

  it('a changed signed field is refused; a field added on the way is dropped, never reaching the origin', async () => {
    const [changed, added] = ownedByB('/fields', 2);
    tap.rewrite = (head) => head.replace(/\r\naccept-language: en/i, '\r\naccept-language: fr');
    try {
      const r = await get(changed!, { 'accept-language': 'en' });
      assert.equal(r.status, 403);
      assert.equal(h.origin.count(changed!), 0);
    } finally {
      tap.rewrite = (head) => head;
    }
    tap.rewrite = (head) => head.replace(/\r\n\r\n$/, '\r\nx-smuggled: 1\r\ncookie: session=stolen\r\n\r\n');
    try {
      const r = await get(added!);
      assert.equal(r.status, 200);
      assert.match(r.headers['cache-status']!, /^node-b; fwd=uri-miss;[^,]* stored;[^,]*, node-a; fwd=uri-miss/);
      const seen = h.origin.requests.filter((q) => q.url === added);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.headers['x-smuggled'], undefined);
      assert.equal(seen[0]!.headers['cookie'], undefined);
    } finally {
      tap.rewrite = (head) => head;
    }
  });
});
