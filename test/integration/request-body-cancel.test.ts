// A request body the client abandons mid-way is never forwarded: the origin
// receives nothing for an HTTP/2 stream reset (RST_STREAM CANCEL) after part of
// its body — with or without a declared content-length — nor for an HTTP/1.1
// connection cut mid-body (plain and TLS). A complete body still goes through.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2, { type ClientHttp2Session } from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { startHarness, type Harness } from '../fixtures/harness.js';
import { makeCa, makeLeaf, type TestCa } from '../fixtures/tls.js';

const T = { timeout: 30_000 };

let ca: TestCa;
let h: Harness;
let plain: Harness;

before(async () => {
  ca = await makeCa();
  const site = await makeLeaf(ca, 'body-cancel', ['localhost']);
  const origin = (_req: unknown, res: import('node:http').ServerResponse, body: Buffer) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store', 'content-length': String(String(body.length).length) });
    res.end(String(body.length));
  };
  h = await startHarness(origin, { tls: { certificates: [site] }, logLevel: 'info' });
  plain = await startHarness(origin, { logLevel: 'info' });
});

after(async () => {
  await h.close();
  await plain.close();
});

function connect(): ClientHttp2Session {
  const s = http2.connect(`https://localhost:${h.node.proxyAddress().port}`, { ca: ca.pem, servername: 'localhost' });
  s.on('error', () => {});
  return s;
}

/** Waits until the node has logged the end of the request for `path` (its access line). */
function handled(g: Harness, path: string): Promise<unknown> {
  return g.logged((l) => l['url'] === path);
}

for (const declared of [true, false]) {
  test(`an HTTP/2 POST reset after 1000 bytes (${declared ? 'content-length 5000' : 'no content-length'}) never reaches the origin`, T, async () => {
    const path = `/h2-cancel-${declared ? 'cl' : 'nocl'}`;
    const s = connect();
    try {
      const req = s.request({ ':method': 'POST', ':path': path, ...(declared ? { 'content-length': '5000' } : {}) });
      req.on('error', () => {});
      await new Promise<void>((resolve) => req.write(Buffer.alloc(1000, 'x'), () => resolve()));
      // A PING's answer comes after the node's HTTP/2 session has taken the DATA frame sent before it.
      await new Promise<void>((resolve) => s.ping(() => resolve()));
      req.close(http2.constants.NGHTTP2_CANCEL);
      await handled(h, path);
      assert.equal(h.origin.count(path), 0, 'the cancelled POST was forwarded');
      // The connection still carries a whole POST.
      const ok = s.request({ ':method': 'POST', ':path': `${path}-whole` });
      const chunks: Buffer[] = [];
      ok.on('data', (c: Buffer) => chunks.push(c));
      ok.end(Buffer.alloc(1000, 'y'));
      await new Promise<void>((resolve) => ok.on('end', () => resolve()));
      assert.equal(Buffer.concat(chunks).toString(), '1000');
      assert.equal(h.origin.count(`${path}-whole`), 1);
    } finally {
      s.close();
    }
  });
}

/** A POST declaring 5000 bytes, 1000 sent, then the connection closed. */
async function cutMidBody(socket: net.Socket, path: string): Promise<void> {
  socket.on('error', () => {});
  socket.write(`POST ${path} HTTP/1.1\r\nhost: localhost\r\ncontent-length: 5000\r\n\r\n`);
  await new Promise<void>((resolve) => socket.write(Buffer.alloc(1000, 'x'), () => resolve()));
  socket.destroy();
}

test('an HTTP/1.1 POST cut mid-body never reaches the origin (plain)', T, async () => {
  const socket = net.connect(plain.node.proxyAddress().port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  await cutMidBody(socket, '/h1-cut');
  await handled(plain, '/h1-cut');
  assert.equal(plain.origin.count('/h1-cut'), 0);
});

test('an HTTP/1.1 POST cut mid-body never reaches the origin (TLS)', T, async () => {
  const socket = tls.connect({ host: '127.0.0.1', port: h.node.proxyAddress().port, ca: ca.pem, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
  await new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
  await cutMidBody(socket, '/h1-tls-cut');
  await handled(h, '/h1-tls-cut');
  assert.equal(h.origin.count('/h1-tls-cut'), 0);
});
