// edge.publicAfterAuth across the cluster: the credentials an edge's guard checked
// travel to the owner as the origin's alone (PEER_VOUCHED), so the owner coalesces
// and stores the answer as the edge does: one origin request per object for the
// whole cluster, whichever node each authorised client reaches.

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { primaryKey } from '../../src/cache/key.js';
import { rank } from '../../src/cluster/ownership.js';
import { fetchReply } from '../fixtures/harness.js';
import { startCluster, type ClusterHarness } from '../fixtures/cluster.js';
import { edgeRules, startAuthService, type AuthService } from '../fixtures/edge.js';

const HOST = 'site.test';

describe('cluster: publicAfterAuth', () => {
  let h: ClusterHarness;
  let auth: AuthService;
  const seen: (string | undefined)[] = [];
  before(async () => {
    auth = await startAuthService((req, res) => {
      const ok = (req.headers.authorization ?? '').startsWith('Bearer good-');
      res.writeHead(ok ? 200 : 401, { 'content-length': 0 });
      res.end();
    });
    h = await startCluster(
      (req, res) => {
        seen.push(req.headers.authorization);
        res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': 9 });
        res.end('catalogue');
      },
      { overrides: { edge: edgeRules({ forwardAuth: { url: auth.url }, publicAfterAuth: true }) } },
    );
    await Promise.all([0, 1, 2].map((i) => h.sees(i, h.nodes.filter((_, j) => j !== i).map((n) => n.id))));
  });
  after(async () => {
    await h.close();
    await auth.close();
  });

  it('authorised clients at the edge, the successor and the owner cost the origin one request; a forged vouching claim is dropped', async () => {
    const p = '/cat';
    const [owner, successor, edge] = rank(primaryKey('http', HOST, p), h.nodes.map((n) => ({ id: n.id }))).map((m) => h.nodes.findIndex((n) => n.id === m.id)) as [number, number, number];
    for (const [i, who] of [[edge, 'alice'], [successor, 'bob'], [owner, 'carol'], [edge, 'dave'], [successor, 'erin'], [owner, 'frank']] as const) {
      const r = await fetchReply(h.nodes[i]!.base + p, { host: HOST, authorization: `Bearer good-${who}` });
      assert.equal(r.status, 200, `${who}: ${r.headers['cache-status']}`);
      assert.equal(r.text, 'catalogue');
    }
    assert.equal(h.origin.count(p), 1, 'one origin request for the cluster');
    // The origin still got the client's credentials.
    assert.deepEqual(seen, ['Bearer good-alice']);
    // An unauthorised client is refused at its edge, whatever it claims.
    const refused = await fetchReply(h.nodes[edge]!.base + p, { host: HOST, authorization: 'Bearer bad', 'strata-peer-vouched': 'authorization' });
    assert.equal(refused.status, 401);
  });
});
