// Age across the hop, to the millisecond: the Age field is whole seconds, rounded
// down by the node that writes it, so a copy kept from a peer's answer counted as
// up to a second younger than the peer's own, once per hop, wherever the Date did
// not make up for it (an origin whose clock is ahead of the nodes': its Date gives
// no apparent age). Short lifetimes are where that shows: max-age=10, asked through
// the owner 7.9 s after the origin answered, was fresh on the edge 0.9 s after it
// was stale on the owner.

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { startCluster, type ClusterHarness, ownership } from '../fixtures/cluster.js';
import { fetchReply } from '../fixtures/harness.js';

const HOST = 'site.test';
const ids = ['node-a', 'node-b'];
const { ownerOf, pathOwnedBy } = ownership(HOST, ids);

describe('cluster: a copy from a peer is never fresher than the peer says', () => {
  let h: ClusterHarness;
  before(async () => {
    h = await startCluster(
      (req, res) => {
        const b = `body of ${req.url}`;
        // The origin's clock a minute ahead of the nodes'.
        const date = new Date(h.clock.now() + 60_000).toUTCString();
        res.writeHead(200, { date, 'cache-control': 'max-age=10', 'content-length': Buffer.byteLength(b) });
        res.end(b);
      },
      { n: 2, cluster: { successorCopy: false } },
    );
    await h.sees(0, ['node-b']);
    await h.sees(1, ['node-a']);
  });
  after(() => h.close());

  it('the edge copy goes stale when the owner\'s does, not up to a second later', async () => {
    const p = pathOwnedBy('node-b', '/age');
    const get = (i: number) => fetchReply(h.nodes[i]!.base + p, { host: HOST });
    await get(1);
    h.clock.advance(7_900);
    const viaOwner = await get(0);
    assert.match(String(viaOwner.headers['cache-status']), /^node-b; hit; .*node-a; fwd=uri-miss; fwd-status=200; stored/);
    assert.equal(viaOwner.headers['age'], '7');
    // 10.4 s since the origin answered: stale on the owner, and so on the edge.
    h.clock.advance(2_500);
    const later = await get(0);
    assert.doesNotMatch(String(later.headers['cache-status']), /node-a; hit; ttl=\d/, `the edge copy is stale: ${later.headers['cache-status']}`);
  });
});
