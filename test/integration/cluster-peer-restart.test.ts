// A peer that restarts faster than its health checks notice never leaves
// "healthy": its /healthz names each process start (boot), and a new one counts as
// its return (membership.ts onAvailable: the purges owed to it go at once, not when
// a retry timer fires). Its /healthz also says how many purges it owes the asking
// node (owesUs: what a restarted node or worker waits for before it serves), and
// whether it takes peers' requests yet (`starting`: a node waiting for that).

import { strict as assert } from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { Membership, type MembershipDeps } from '../../src/cluster/membership.js';
import { holdsStart } from '../../src/cluster/start-wait.js';
import { systemClock } from '../../src/util/clock.js';
import { testConfig, until } from '../fixtures/harness.js';
import { freePort } from '../fixtures/ports.js';

/** A member list's dependencies for these tests: quick thresholds, a silent log. */
function testDeps(config: ReturnType<typeof testConfig>, more: Partial<MembershipDeps> = {}): MembershipDeps {
  return {
    nodeId: 'me',
    logger: pino({ level: 'silent' }),
    clock: systemClock,
    authNow: Date.now,
    passive: config.origin.passiveHealth,
    thresholds: { healthyThreshold: 1, unhealthyThreshold: 2 },
    bodyTimeoutMs: 1000,
    ...more,
  };
}

test('membership: a peer answering with another boot is available again at once; what it says it owes is kept', async () => {
  let answer = { status: 'ok', node: 'peer-x', boot: 'first', owed: 3 };
  let probes = 0;
  const server = http.createServer((req, res) => {
    probes++;
    const body = JSON.stringify(answer);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const dir = await mkdtemp(join(tmpdir(), 'strata-peer-restart-'));
  const config = testConfig('http://127.0.0.1:1', dir);
  const cluster = { ...config.cluster, secret: 's', healthCheckIntervalMs: 20, peers: [{ id: 'peer-x', url: `http://127.0.0.1:${port}`, adminPort: port }] };
  const available: string[] = [];
  const m = new Membership(cluster, testDeps(config, { onAvailable: (id) => available.push(id) }));
  try {
    m.start();
    await until(() => available.length === 1, 'the peer to answer');
    assert.equal(m.peer('peer-x')!.owesUs, 3);
    // Probes with the same boot: nothing new.
    const seen = probes;
    await until(() => probes >= seen + 3, 'three more probes');
    assert.deepEqual(available, ['peer-x']);
    // It restarted (never seen down): available again, at once.
    answer = { ...answer, boot: 'second', owed: 0 };
    await until(() => available.length === 2, 'the restart to be seen');
    assert.equal(m.peer('peer-x')!.owesUs, 0);
    assert.equal(m.usable(m.peer('peer-x')!), true);
  } finally {
    await m.close();
    await new Promise<void>((r) => server.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  }
});

test('membership: a peer answering `starting` is sent purges but not asked for objects; a failed probe is told from none yet', async () => {
  let answer: Record<string, unknown> = { status: 'ok', node: 'peer-x', boot: 'b', owed: 2, starting: true };
  const server = http.createServer((_req, res) => {
    const body = JSON.stringify(answer);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const closed = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'strata-peer-starting-'));
  const config = testConfig('http://127.0.0.1:1', dir);
  const peers = [
    { id: 'peer-x', url: `http://127.0.0.1:${port}`, adminPort: port },
    { id: 'peer-down', url: `http://127.0.0.1:${closed}`, adminPort: closed },
  ];
  const deps = testDeps(config);
  const m = new Membership({ ...config.cluster, secret: 's', healthCheckIntervalMs: 20, peers }, deps);
  try {
    const view = () => Object.fromEntries((m.startView() ?? []).map((p) => [p.name, p]));
    // Not probed yet: neither answered nor known down, so both hold a start.
    assert.deepEqual(view()['peer-down'], { name: 'peer-down', answered: false, owesUs: undefined, unreachable: false });
    assert.equal(holdsStart(view()['peer-down']!, true), true);
    m.start();
    await until(() => view()['peer-x']!.answered && view()['peer-down']!.unreachable, 'both probes to end');
    assert.equal(holdsStart(view()['peer-down']!, true), false, 'a peer that is down does not hold a node');
    assert.equal(holdsStart(view()['peer-down']!, false), true, 'it holds a worker (its primary is starting it)');
    assert.equal(holdsStart(view()['peer-x']!, true), true, 'it owes purges');
    const x = m.peer('peer-x')!;
    assert.equal(m.reachable(x), true, 'purges are delivered to it');
    assert.equal(m.usable(x), false, 'objects are not asked of it: its proxy port is not open yet');
    answer = { ...answer, owed: 0 };
    await until(() => !holdsStart(view()['peer-x']!, true), 'it to owe nothing');
    assert.equal(m.usable(x), false);
    answer = { status: 'ok', node: 'peer-x', boot: 'b', owed: 0 };
    await until(() => m.usable(x), 'it to serve');
  } finally {
    await m.close();
    await new Promise<void>((r) => server.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  }
});

test('membership: with cluster.dns, who the members are is not known until the first look-up ends', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-peer-dns-'));
  const config = testConfig('http://127.0.0.1:1', dir);
  let answer!: (addresses: string[]) => void;
  const looked = new Promise<string[]>((r) => (answer = r));
  const m = new Membership(
    { ...config.cluster, secret: 's', healthCheckIntervalMs: 20, dns: 'peers.test:1', peers: [] },
    testDeps(config, { resolve: () => looked }),
  );
  try {
    m.start();
    assert.equal(m.startView(), undefined);
    answer(['127.0.0.1']);
    await until(() => m.startView() !== undefined, 'the look-up to end');
    // The address listed has not said who it is: it is waited on under its address.
    assert.deepEqual(m.startView()!.map((p) => p.name), ['http://127.0.0.1:1']);
  } finally {
    await m.close();
    await rm(dir, { recursive: true, force: true });
  }
});
