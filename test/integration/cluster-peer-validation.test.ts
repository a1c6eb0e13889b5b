// What a node does with a peer's answer to its revalidation: a 304 from a peer that
// has not applied a purge yet validates nothing this node purged (cluster/peer-fetch.ts,
// purge-times.ts). Three real nodes; the owner's purge held back by the test (a slow or
// failed delivery).

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { startCluster, type ClusterHarness, ownership, whileOwnerLags as lagging } from '../fixtures/cluster.js';
import { fetchReply } from '../fixtures/harness.js';

const HOST = 'site.test';
const ids = ['node-a', 'node-b', 'node-c'];
const { ownerOf, pathOwnedBy } = ownership(HOST, ids);

describe("cluster: a peer's 304 to a node that applied a purge the peer has not", () => {
  let h: ClusterHarness;
  /** The origin's current version of each path; a test changes it before purging. */
  const version = new Map<string, number>();

  before(async () => {
    h = await startCluster((req, res) => {
      const v = version.get(req.url!) ?? 1;
      const etag = `"v${v}"`;
      const fields = { etag, 'cache-control': 'max-age=600', 'surrogate-key': `grp-${req.url!.split('/')[1]}` };
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, fields);
        return void res.end();
      }
      const b = `v${v} of ${req.url}`;
      res.writeHead(200, { ...fields, 'content-length': Buffer.byteLength(b) });
      res.end(b);
    });
    await Promise.all([0, 1, 2].map((i) => h.sees(i, ids.filter((_, j) => j !== i))));
  });
  after(() => h.close());

  /** Run `during` while node-b has applied purge `body` and the owner node-c has not. */
  async function whileOwnerLags(body: unknown, during: () => Promise<void>): Promise<void> {
    assert.equal((await lagging(h, body, during)).status, 200);
  }

  for (const [name, prefix, selector] of [
    ['a tag', 'soft-tag', (p: string) => ({ tags: [`grp-${p.split('/')[1]}`] })],
    ['a URL', 'soft-url', (p: string) => ({ urls: [p] })],
  ] as const) {
    it(`soft purge of ${name}: node-b's stale copy is not refreshed by the owner's unpurged copy`, async () => {
      const p = pathOwnedBy('node-c', `/${prefix}`);
      const get = (i: number) => fetchReply(h.nodes[i]!.base + p, { host: HOST });
      assert.equal((await get(1)).text, `v1 of ${p}`, 'node-b holds an edge copy of v1');
      h.clock.advance(1_000);
      version.set(p, 2);
      await whileOwnerLags({ ...selector(p), soft: true }, async () => {
        // node-b revalidates its soft-purged copy through the owner, whose v1 is still fresh there.
        const during = await get(1);
        assert.equal(during.text, `v2 of ${p}`, `during: ${during.headers['cache-status']}`);
      });
      assert.equal((await get(1)).text, `v2 of ${p}`);
    });
  }
});
