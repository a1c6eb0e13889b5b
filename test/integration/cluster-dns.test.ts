// Membership from DNS (cluster.dns: HOST:PORT): three real nodes on three
// loopback addresses sharing one proxy port and one admin port, found through a
// name whose A records the test controls. Each address's node id comes from its
// admin /healthz; the address answering our own id is us.

import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createNode, type StrataNode } from '../../src/node.js';
import { FakeClock } from '../../src/util/clock.js';
import { CLUSTER_SECRET } from '../fixtures/cluster.js';
import { fetchReply, fixed, startOrigin, testConfig, until } from '../fixtures/harness.js';

async function portFreeOn(hosts: string[]): Promise<number> {
  for (;;) {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, hosts[0], r));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const ok = await Promise.all(
      hosts.slice(1).map(
        (h) =>
          new Promise<boolean>((r) => {
            const t = net.createServer();
            t.once('error', () => r(false));
            t.listen(port, h, () => t.close(() => r(true)));
          }),
      ),
    );
    if (ok.every(Boolean)) return port;
  }
}

describe('cluster: membership from DNS', () => {
  it('finds the peers by their A records and learns their ids; an address no longer listed is not asked', async () => {
    const addresses = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
    const proxyPort = await portFreeOn(addresses);
    const adminPort = await portFreeOn(addresses);
    let listed = [...addresses];
    const resolve = async (host: string) => (host === 'strata.test' ? listed : []);
    const clock = new FakeClock(Date.now());
    const origin = await startOrigin(fixed('dns object', { 'cache-control': 'max-age=60' }), clock);
    const dirs = await Promise.all(addresses.map(() => mkdtemp(join(tmpdir(), 'strata-dns-'))));
    const nodes: StrataNode[] = addresses.map((addr, i) => {
      const config = testConfig(origin.url, dirs[i]!);
      config.nodeId = `dns-${i}`;
      config.listen = { host: addr, port: proxyPort };
      config.admin = { ...config.admin, listen: { host: addr, port: adminPort } };
      config.cluster = { ...config.cluster, dns: `strata.test:${proxyPort}`, dnsIntervalMs: 100, peerAdminPort: adminPort, secret: CLUSTER_SECRET, healthCheckIntervalMs: 100 };
      return createNode(config, { clock, resolvePeers: resolve });
    });
    try {
      await Promise.all(nodes.map((n) => n.start()));
      const seen = (n: StrataNode) => {
        const m = n.cluster()!.membership;
        return m.peers().filter((p) => m.usable(p)).map((p) => p.id).sort().join(',');
      };
      await until(() => nodes.every((n, i) => seen(n) === ['dns-0', 'dns-1', 'dns-2'].filter((_, j) => j !== i).join(',')), 'every node to find the other two');
      const replies = await Promise.all(addresses.map((a) => fetchReply(`http://${a}:${proxyPort}/dns-object`, { host: 'site.test' })));
      assert.ok(replies.every((r) => r.status === 200));
      assert.equal(origin.count('/dns-object'), 1);
      // dns-2 leaves the DNS answer: the others stop asking it.
      listed = addresses.slice(0, 2);
      await until(() => seen(nodes[0]!) === 'dns-1' && seen(nodes[1]!) === 'dns-0', 'dns-2 to be left out');
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
      await origin.close();
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    }
  });
});
