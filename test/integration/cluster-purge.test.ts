// Purge everywhere (embedded fan-out): a purge accepted by any node applies on
// every node before it is answered, and the answer lists each peer's
// acknowledgement; a peer that is down gets the purge from the durable outbox
// when it returns, even across the accepting node's own restart.

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { primaryKey } from '../../src/cache/key.js';
import { ADMIN_TOKEN, startCluster, type ClusterHarness, ownership } from '../fixtures/cluster.js';
import { fetchReply, until } from '../fixtures/harness.js';

const HOST = 'site.test';
const ids = ['node-a', 'node-b', 'node-c'];
const { ownerOf, pathOwnedBy } = ownership(HOST, ids);

describe('cluster: purge everywhere (fan-out)', () => {
  let h: ClusterHarness;
  let version = 1;
  const get = (i: number, p: string, headers: Record<string, string> = {}) => fetchReply(h.nodes[i]!.base + p, { host: HOST, ...headers });
  const held = (i: number, p: string) => h.nodes[i]!.node!.store().get(primaryKey('http', HOST, p));

  before(async () => {
    h = await startCluster((req, res) => {
      const b = `v${version} of ${req.url}`;
      res.writeHead(200, { 'content-length': Buffer.byteLength(b), 'cache-control': 'max-age=600', 'surrogate-key': 'purgeable' });
      res.end(b);
    });
    await Promise.all([0, 1, 2].map((i) => h.sees(i, ids.filter((_, j) => j !== i))));
  });
  after(() => h.close());

  it('a purge on one node is gone on all, and the answer lists the acknowledgements', async () => {
    const p = '/purge/one';
    for (const i of [0, 1, 2]) assert.equal((await get(i, p)).text, `v1 of ${p}`);
    for (const i of [0, 1, 2]) assert.ok(await held(i, p), `node ${i} holds it`);
    const r = await h.purge(1, { urls: [p] });
    assert.equal(r.status, 200);
    const answer = JSON.parse(r.text) as { purged: number; peers: Record<string, string>; via: string };
    assert.deepEqual(answer.peers, { 'node-a': 'acked', 'node-c': 'acked' });
    assert.equal(answer.via, 'fan-out');
    assert.ok(answer.purged >= 1);
    // Invariant 7, cluster-wide: no node answers the old content.
    for (const i of [0, 1, 2]) assert.equal(await held(i, p), undefined, `node ${i} purged`);
    version = 2;
    for (const i of [0, 1, 2]) assert.equal((await get(i, p)).text, `v2 of ${p}`);
    version = 1;
  });

  it('PURGE on the main listener and tag purges go everywhere too', async () => {
    const p = '/purge/method';
    for (const i of [0, 1, 2]) await get(i, p);
    const r = await get(2, p, { authorization: `Bearer ${ADMIN_TOKEN}` }).then(() => fetchReply(h.nodes[2]!.base + p, { host: HOST, authorization: `Bearer ${ADMIN_TOKEN}` }, 'PURGE'));
    assert.equal(r.status, 200);
    assert.deepEqual((JSON.parse(r.text) as { peers: unknown }).peers, { 'node-a': 'acked', 'node-b': 'acked' });
    for (const i of [0, 1, 2]) assert.equal(await held(i, p), undefined);
    const t = '/purge/tagged';
    for (const i of [0, 1, 2]) await get(i, t);
    const byTag = await h.purge(0, { tags: ['purgeable'] });
    assert.deepEqual((JSON.parse(byTag.text) as { peers: unknown }).peers, { 'node-b': 'acked', 'node-c': 'acked' });
    for (const i of [0, 1, 2]) assert.equal(await held(i, t), undefined, `edge copies carry the tags too (node ${i})`);
  });

  it('a node down during a purge gets it when it returns, even after the accepting node restarted', async () => {
    const p = pathOwnedBy('node-c', '/purge/down');
    const control = pathOwnedBy('node-c', '/purge/kept');
    for (const i of [0, 1, 2]) await get(i, p);
    await get(0, control);
    await h.nodes[2]!.node!.store().flush();
    assert.ok(h.nodes[2]!.node!.store().disk.has(primaryKey('http', HOST, p)), 'c holds it on disk');
    await h.stop(2);
    await h.sees(0, ['node-b']);
    const r = await h.purge(0, { urls: [p] });
    assert.equal(r.status, 200);
    const peers = (JSON.parse(r.text) as { peers: Record<string, string> }).peers;
    assert.equal(peers['node-b'], 'acked');
    assert.match(peers['node-c']!, /^pending: /);
    const metrics = (await fetchReply(`${h.nodes[0]!.admin}/metrics`)).text;
    assert.match(metrics, /^strata_peer_purges_owed\{peer="node-c"\} 1$/m);
    assert.match(metrics, /^strata_peer_available\{peer="node-c"\} 0$/m);
    assert.match(metrics, /^strata_peer_available\{peer="node-b"\} 1$/m);
    // The accepting node restarts: its outbox is on disk.
    await h.stop(0);
    await h.start(0);
    // c returns with its disk (which still holds the object) and receives the purge.
    await h.start(2);
    await h.sees(0, ['node-b', 'node-c']);
    await until(() => Object.keys((h.nodes[0]!.node!.cluster()!.stats()['purgesOwed'] as object) ?? {}).length === 0, 'the outbox to empty');
    await h.nodes[2]!.node!.ready();
    assert.ok(await held(2, control), 'c kept what was not purged (its disk survived the restart)');
    assert.equal(await held(2, p), undefined, 'c applied the purge it missed');
    const onlyCached = await get(2, p, { 'cache-control': 'only-if-cached' });
    assert.equal(onlyCached.status, 504);
  });
});
