// A peer that restarts faster than its health checks notice never leaves
// "healthy": its /healthz names each process start (boot), and a new one counts as
// its return (membership.ts onAvailable: the purges owed to it go at once, not when
// a retry timer fires). Its /healthz also says how many purges it owes the asking
// node (owesUs: what a restarted worker waits for before it serves).

import { strict as assert } from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { Membership } from '../../src/cluster/membership.js';
import { systemClock } from '../../src/util/clock.js';
import { testConfig, until } from '../fixtures/harness.js';

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
  const m = new Membership(cluster, {
    nodeId: 'me',
    logger: pino({ level: 'silent' }),
    clock: systemClock,
    authNow: Date.now,
    passive: config.origin.passiveHealth,
    thresholds: { healthyThreshold: 1, unhealthyThreshold: 2 },
    bodyTimeoutMs: 1000,
    onAvailable: (id) => available.push(id),
  });
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
