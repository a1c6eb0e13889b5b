// Protocol errors on the TLS listener are counted (protocolErrors in /stats) and
// logged: a client that speaks plain HTTP to the TLS port (its handshake fails),
// and one that opens a TCP connection and never starts a handshake (timed out).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { fixed, startHarness, type Harness } from '../fixtures/harness.js';
import { makeCa, makeLeaf } from '../fixtures/tls.js';

const T = { timeout: 30_000 };
let h: Harness;

before(async () => {
  const ca = await makeCa();
  h = await startHarness(fixed('ok', { 'cache-control': 'max-age=60' }), {
    tls: { certificates: [await makeLeaf(ca, 'proto', ['localhost'])] },
    limits: { requestHeadersTimeoutMs: 300 },
    logLevel: 'info',
  });
});

after(async () => {
  await h.close();
});

/** Resolves when the node closes `socket`. */
function closedByNode(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    socket.on('error', () => {});
    socket.once('close', () => resolve());
  });
}

test('a failed TLS handshake (plain HTTP on the TLS port) is counted and logged', T, async () => {
  const before = h.node.stats.counters.protocolErrors;
  const socket = net.connect(h.node.proxyAddress().port, '127.0.0.1');
  const closed = closedByNode(socket);
  socket.write('GET / HTTP/1.1\r\nhost: localhost\r\n\r\n');
  await closed;
  await h.until(() => h.node.stats.counters.protocolErrors === before + 1, 'the failed handshake counted');
  await h.logged((l) => l['msg'] === 'TLS handshake failed' && l['level'] === 30);
});

test('a TCP connection that never starts its handshake is timed out and counted', T, async () => {
  const before = h.node.stats.counters.protocolErrors;
  const socket = net.connect(h.node.proxyAddress().port, '127.0.0.1');
  await closedByNode(socket);
  await h.until(() => h.node.stats.counters.protocolErrors === before + 1, 'the handshake timeout counted');
});
