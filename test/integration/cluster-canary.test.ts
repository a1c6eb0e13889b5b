// A weighted canary in a cluster of three real nodes: every client reaches
// node-a, so most keys are fetched from another node (their owner). The side
// node-a chose (its access line's route label) is the side whose pool answered,
// whatever the split: drawn at random, by client address (the owner sees
// node-a's address, not the client's), or by a cookie the client does not have
// yet (the owner would make up an id of its own). The sticky cookie is set once,
// by the node the client reached.

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { sitesKind } from '../../src/config/sites.js';
import type { Config } from '../../src/config/types.js';
import { bucketOf } from '../../src/routing/shifting.js';
import { startCluster, type ClusterHarness } from '../fixtures/cluster.js';
import { fetchReply, startOrigin, until, type Reply, type TestOrigin } from '../fixtures/harness.js';
import { named } from '../fixtures/sites.js';

const HOST = { host: 'shop.example' };
const EDGE = 0;

describe('cluster: a canary side chosen by the node the client reached is the side that answers (three real nodes)', () => {
  let h: ClusterHarness;
  const pools: TestOrigin[] = [];

  before(async () => {
    const stable = await startOrigin(named('stable', 'max-age=600'));
    const next = await startOrigin(named('next', 'max-age=600'));
    pools.push(stable, next);
    const route = (path: string, canary: Record<string, unknown>) => ({ path, upstream: stable.url, canary: { upstream: next.url, percent: 50, ...canary } });
    const sites = sitesKind().parse({
      shop: {
        hosts: ['shop.example'],
        routes: {
          random: route('/random/', { by: 'random' }),
          client: route('/client/', { by: 'client' }),
          cookie: route('/cookie/', { by: 'cookie', name: 'sc' }),
        },
      },
    }) as Config['sites'];
    h = await startCluster((_req, res) => res.end('the default origin is not used'), { overrides: { sites, logLevel: 'info' } });
    await Promise.all([0, 1, 2].map((i) => h.sees(i, h.nodes.filter((_, j) => j !== i).map((n) => n.id))));
  });
  after(async () => {
    await h.close();
    await Promise.all(pools.map((p) => p.close()));
  });

  /** The side node-a's access line names for `path`: its route label ends in #canary, or not. */
  async function edgeSide(path: string): Promise<'stable' | 'next'> {
    const line = () => h.nodes[EDGE]!.logs.find((l) => l['msg'] === 'access' && l['url'] === path);
    await until(() => line() !== undefined, `node-a's access line for ${path}`);
    return String(line()!['route']).endsWith('#canary') ? 'next' : 'stable';
  }

  /** Each answer's pool is the side node-a chose; some came through another node. */
  async function check(paths: string[], replies: Reply[]): Promise<void> {
    let throughPeer = 0;
    const sides = { stable: 0, next: 0 };
    for (let i = 0; i < paths.length; i++) {
      const r = replies[i]!;
      assert.equal(r.status, 200, r.text);
      const side = await edgeSide(paths[i]!);
      assert.equal(r.text, `${side} ${paths[i]}`, `${paths[i]}: node-a chose ${side}; Cache-Status ${r.headers['cache-status']}`);
      sides[side]++;
      if (r.headers['cache-status']!.split(',').length > 1) throughPeer++;
    }
    assert.ok(throughPeer >= paths.length / 3, `${throughPeer} of ${paths.length} came through the owner`);
    assert.ok(sides.stable > 0 && sides.next > 0, `both sides answered: ${JSON.stringify(sides)}`);
  }

  it('by random: the owner answers from the side drawn at the edge', async () => {
    const paths = Array.from({ length: 60 }, (_, i) => `/random/p${i}`);
    const replies = await Promise.all(paths.map((p) => fetchReply(h.nodes[EDGE]!.base + p, HOST)));
    await check(paths, replies);
  });

  it("by client address: the client's side, not the side of node-a's address", async () => {
    // Sixteen client addresses (loopback): node-a's peer requests all come from 127.0.0.1.
    const agents = Array.from({ length: 16 }, (_, i) => new Agent({ localAddress: `127.0.0.${i + 2}` }));
    try {
      const paths = Array.from({ length: 64 }, (_, i) => `/client/p${i}`);
      const replies = await Promise.all(paths.map((p, i) => fetchReply(h.nodes[EDGE]!.base + p, HOST, 'GET', undefined, agents[i % 16])));
      await check(paths, replies);
      for (let i = 0; i < paths.length; i++) {
        const want = bucketOf(`127.0.0.${(i % 16) + 2}`) < 5000 ? 'next' : 'stable';
        assert.equal(replies[i]!.text.split(' ')[0], want, `${paths[i]}: the side of its client's address`);
      }
    } finally {
      await Promise.all(agents.map((a) => a.close()));
    }
  });

  it('by cookie, first visits: the side of the id node-a gave, which it alone sets', async () => {
    const paths = Array.from({ length: 60 }, (_, i) => `/cookie/p${i}`);
    const replies = await Promise.all(paths.map((p) => fetchReply(h.nodes[EDGE]!.base + p, HOST)));
    await check(paths, replies);
    for (let i = 0; i < paths.length; i++) {
      const set = replies[i]!.headers['set-cookie'] ?? '';
      const ids = [...set.matchAll(/(?:^|, )sc=([0-9a-f]+);/g)].map((m) => m[1]!);
      assert.equal(ids.length, 1, `${paths[i]}: one sticky cookie (${set})`);
      const want = bucketOf(ids[0]!) < 5000 ? 'next' : 'stable';
      assert.equal(replies[i]!.text.split(' ')[0], want, `${paths[i]}: the side of the id given`);
    }
  });
});
