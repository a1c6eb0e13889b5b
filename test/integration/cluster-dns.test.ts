// Membership from DNS (cluster.dns: HOST:PORT): three real nodes on three
// loopback addresses sharing one proxy port and one admin port, found through a
// name whose A records the test controls. Each address's node id comes from its
// admin /healthz; the address answering our own id is us.

import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
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

const TOKEN = 'dns-admin-token';
/** Nodes started one by one on loopback addresses sharing the proxy and admin ports, found through strata.test. */
async function setUp() {
  const addresses = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
  const proxyPort = await portFreeOn(addresses);
  const adminPort = await portFreeOn(addresses);
  const dns = { listed: [] as string[] };
  const resolve = async (host: string) => (host === 'strata.test' ? dns.listed : []);
  const clock = new FakeClock(Date.now());
  const origin = await startOrigin(fixed('dns object', { 'cache-control': 'max-age=60' }), clock);
  const dirs: string[] = [];
  const nodes: StrataNode[] = [];
  const logs = new Map<StrataNode, Record<string, unknown>[]>();
  const start = async (id: string, addr: string) => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-dns-'));
    dirs.push(dir);
    const config = testConfig(origin.url, dir);
    config.nodeId = id;
    config.listen = { host: addr, port: proxyPort };
    config.admin = { ...config.admin, listen: { host: addr, port: adminPort }, token: TOKEN };
    config.cluster = { ...config.cluster, dns: `strata.test:${proxyPort}`, dnsIntervalMs: 100, peerAdminPort: adminPort, secret: CLUSTER_SECRET, healthCheckIntervalMs: 100, peerConnectTimeoutMs: 500, purgeAckTimeoutMs: 500 };
    config.logLevel = 'info';
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    }) as Writable & { write(s: string): boolean };
    const node = createNode(config, { clock, resolvePeers: resolve, logDestination: sink });
    logs.set(node, lines);
    await node.start();
    nodes.push(node);
    return node;
  };
  const purge = (addr: string, body: unknown) => fetchReply(`http://${addr}:${adminPort}/purge`, { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, 'POST', JSON.stringify(body));
  const owed = (n: StrataNode) => n.cluster()!.stats()['purgesOwed'] as Record<string, number>;
  const close = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await origin.close();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  };
  /** Node `n` applied a purge `from` sent it. */
  const appliedFrom = (n: StrataNode, from: string) => logs.get(n)!.some((l) => l['msg'] === 'purge from a peer' && (l['purge'] as { by?: string }).by === `peer ${from}`);
  return { addresses, proxyPort, adminPort, dns, start, purge, owed, close, appliedFrom, logs };
}

describe('cluster: DNS peers that move or are not known yet keep the purges owed to them', () => {
  it('a peer back at a new address with the same node id replaces its old unlisted address and gets what it was owed', async () => {
    const t = await setUp();
    try {
      t.dns.listed = ['127.0.0.1', '127.0.0.2'];
      const a = await t.start('dns-0', '127.0.0.1');
      const b = await t.start('dns-1', '127.0.0.2');
      const usable = () => a.cluster()!.membership.peers().filter((p) => a.cluster()!.membership.usable(p)).map((p) => p.id).join(',');
      await until(() => usable() === 'dns-1', 'dns-0 to find dns-1');
      await b.stop();
      await until(() => usable() === '', 'dns-1 to be seen down');
      const r = await t.purge('127.0.0.1', { urls: ['/moved'] });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(t.owed(a), { 'dns-1': 1 });
      // dns-1 comes back at another address; DNS lists that one instead.
      const moved = await t.start('dns-1', '127.0.0.3');
      t.dns.listed = ['127.0.0.1', '127.0.0.3'];
      await until(() => usable() === 'dns-1' && a.cluster()!.membership.peer('dns-1')!.url === `http://127.0.0.3:${t.proxyPort}`, 'dns-1 to be known at its new address');
      await until(() => Object.keys(t.owed(a)).length === 0, 'the purge owed to dns-1 to be delivered at its new address');
      await until(() => t.appliedFrom(moved, 'dns-0'), 'dns-1 to apply it');
    } finally {
      await t.close();
    }
  });

  it('an address listed but not answering when a purge comes is owed it until it says its node id', async () => {
    const t = await setUp();
    try {
      t.dns.listed = ['127.0.0.1', '127.0.0.2'];
      const a = await t.start('dns-0', '127.0.0.1');
      // Our own address found to be us: only 127.0.0.2 is left unidentified.
      await until(() => a.cluster()!.membership.unidentified().length === 1, 'dns-0 to recognise its own address');
      const r = await t.purge('127.0.0.1', { urls: ['/early'] });
      assert.equal(r.status, 200, r.text);
      const key = `address http://127.0.0.2:${t.proxyPort}`;
      assert.match((JSON.parse(r.text) as { peers: Record<string, string> }).peers[key] ?? '', /^pending: this address has not said its node id/);
      assert.deepEqual(t.owed(a), { [key]: 1 });
      const b = await t.start('dns-1', '127.0.0.2');
      await until(() => Object.keys(t.owed(a)).length === 0, 'the purge to be handed to dns-1 and delivered');
      await until(() => t.appliedFrom(b, 'dns-0'), 'dns-1 to apply it');
      assert.equal(a.cluster()!.membership.peer('dns-1')?.url, `http://127.0.0.2:${t.proxyPort}`);
    } finally {
      await t.close();
    }
  });
});

describe('cluster: two nodes that share a node id (DNS)', () => {
  it('an address answering this node\'s own id from another process is not taken for this node: each says so in its log and /stats, and a third node shows the address it does not ask', async () => {
    const t = await setUp();
    try {
      t.dns.listed = [...t.addresses];
      const [a, b, twin] = [await t.start('dns-0', '127.0.0.1'), await t.start('dns-1', '127.0.0.2'), await t.start('dns-0', '127.0.0.3')];
      type Shown = { id: string | null; url: string; available: boolean; out?: string };
      const members = async (addr: string) => (JSON.parse((await fetchReply(`http://${addr}:${t.adminPort}/stats`, { authorization: `Bearer ${TOKEN}` })).text) as { peers: { members: Shown[] } }).peers.members;
      const at = (addr: string) => `http://${addr}:${t.proxyPort}`;
      const sharing = (n: StrataNode) => t.logs.get(n)!.some((l) => l['level'] === 40 && /share/.test(String(l['msg'])));
      await until(() => sharing(a) && sharing(twin), 'both nodes named dns-0 to warn that another answers with their id');
      for (const [addr, other] of [['127.0.0.1', '127.0.0.3'], ['127.0.0.3', '127.0.0.1']] as const) {
        const shown = (await members(addr)).find((m) => m.url === at(other));
        assert.ok(shown, `${addr}'s /stats shows the other dns-0 (${other})`);
        assert.equal(shown.available, false);
        assert.match(shown.out ?? '', /dns-0.*another process/);
      }
      // The third node asks one of the two and shows the other, and why it does not ask it.
      const seen = b.cluster()!.membership;
      await until(() => seen.stats().some((m) => m.id === 'dns-0' && m.available) && seen.stats().some((m) => /already known/.test(m.out ?? '')), 'dns-1 to ask one dns-0 and refuse the other');
      const third = await members('127.0.0.2');
      const other = third.find((m) => (m.url === at('127.0.0.1') || m.url === at('127.0.0.3')) && !m.available);
      assert.ok(other, JSON.stringify(third));
      assert.match(other.out ?? '', /already known at another address/);
    } finally {
      await t.close();
    }
  });
});
