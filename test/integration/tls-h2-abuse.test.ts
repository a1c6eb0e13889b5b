// What a hostile HTTP/2 client can do to the TLS listener, with raw frames
// (test/fixtures/h2-frames.ts) where node:http2's client would not send them:
//  - rapid reset (CVE-2023-44487): streams opened and reset at once are capped;
//    the connection is sent GOAWAY ENHANCE_YOUR_CALM and closed at once (it
//    lingered until tls.http2IdleTimeoutMs after nghttp2's own GOAWAY), counted
//    and logged, and no cancelled stream reaches the origin;
//  - more streams than tls.http2MaxConcurrentStreams at once: refused
//    (REFUSED_STREAM), then the connection closed, the accepted ones served;
//  - CONTINUATION without end (CVE-2024-27316), PING and SETTINGS floods whose
//    answers are never read: the connection is closed.
// Each time the process keeps serving other clients.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { startHarness, type Harness } from '../fixtures/harness.js';
import { FLAG, FRAME, frame, headerBlock, rawH2, requestFields, type RawH2 } from '../fixtures/h2-frames.js';
import { h2Answer, makeCa, makeLeaf, type TestCa } from '../fixtures/tls.js';

const T = { timeout: 30_000 };
const MAX_STREAMS = 20;

let ca: TestCa;
let h: Harness;

before(async () => {
  ca = await makeCa();
  const site = await makeLeaf(ca, 'abuse', ['localhost']);
  h = await startHarness(
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60', 'content-length': '2' });
      res.end('ok');
    },
    { tls: { certificates: [site], http2MaxConcurrentStreams: MAX_STREAMS }, logLevel: 'info' },
  );
});

after(async () => {
  await h.close();
});

/** Another client is answered while (or after) one misbehaves. */
async function othersServed(path: string): Promise<void> {
  const s = http2.connect(`https://localhost:${h.node.proxyAddress().port}`, { ca: ca.pem, servername: 'localhost' });
  s.on('error', () => {});
  try {
    assert.deepEqual(await h2Answer(s.request({ ':path': path }).end()), { status: 200, text: 'ok' });
  } finally {
    s.close();
  }
}

/** The connection's close (GOAWAY code, if any), within `ms`. */
function closedWithin(c: RawH2, ms: number, what: string): Promise<number | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: connection still open after ${ms} ms`)), ms)));
  return Promise.race([c.closed, late]).finally(() => clearTimeout(timer));
}

const rst = (code: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(code);
  return b;
};

test('rapid reset: thousands of streams opened and reset at once close the connection at once (GOAWAY ENHANCE_YOUR_CALM), counted and logged, no origin fetch', T, async () => {
  const errorsBefore = h.node.stats.counters.protocolErrors;
  const c = await rawH2(h.node.proxyAddress().port, ca.pem);
  const frames: Buffer[] = [];
  for (let i = 0; i < 5_000; i++) {
    const id = 1 + 2 * i;
    frames.push(frame(FRAME.HEADERS, FLAG.END_STREAM | FLAG.END_HEADERS, id, headerBlock(requestFields(`/rapid-${i}`))), frame(FRAME.RST_STREAM, 0, id, rst(http2.constants.NGHTTP2_CANCEL)));
  }
  c.write(Buffer.concat(frames));
  // Well before tls.http2IdleTimeoutMs (75 s): the node closes the connection itself.
  const goaway = await closedWithin(c, 10_000, 'rapid reset');
  // The GOAWAY is lost when the close meets frames the node has not read (the kernel resets the connection).
  assert.ok(goaway === undefined || goaway === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, `GOAWAY ${goaway}`);
  assert.equal(h.node.stats.counters.protocolErrors, errorsBefore + 1);
  await h.logged((l) => l['code'] === 'HTTP2_RAPID_RESET');
  assert.equal(h.origin.requests.filter((r) => r.url.startsWith('/rapid-')).length, 0, 'a reset stream reached the origin');
  await othersServed('/after-rapid');
});

test('a client that resets some streams (a browser navigating away) keeps its connection', T, async () => {
  const c = await rawH2(h.node.proxyAddress().port, ca.pem);
  const frames: Buffer[] = [];
  for (let i = 0; i < MAX_STREAMS; i++) {
    const id = 1 + 2 * i;
    frames.push(frame(FRAME.HEADERS, FLAG.END_STREAM | FLAG.END_HEADERS, id, headerBlock(requestFields(`/nav-${i}`))), frame(FRAME.RST_STREAM, 0, id, rst(http2.constants.NGHTTP2_CANCEL)));
  }
  c.write(Buffer.concat(frames));
  // A PING answered after the resets: the connection is still served.
  c.write(frame(FRAME.PING, 0, 0, Buffer.alloc(8, 7)));
  await h.until(() => c.received.some((f) => f.type === FRAME.PING), 'PING answered');
  assert.equal(c.received.filter((f) => f.type === FRAME.GOAWAY).length, 0);
  c.socket.destroy();
});

test('more streams at once than tls.http2MaxConcurrentStreams: the excess is refused, the connection closed; the accepted ones are answered', T, async () => {
  const requestsBefore = h.node.stats.counters.requests;
  const c = await rawH2(h.node.proxyAddress().port, ca.pem);
  const frames: Buffer[] = [];
  for (let i = 0; i < 2_000; i++) frames.push(frame(FRAME.HEADERS, FLAG.END_STREAM | FLAG.END_HEADERS, 1 + 2 * i, headerBlock(requestFields('/many'))));
  c.write(Buffer.concat(frames));
  await closedWithin(c, 10_000, 'stream flood');
  const refused = c.received.filter((f) => f.type === FRAME.RST_STREAM && f.code === http2.constants.NGHTTP2_REFUSED_STREAM).length;
  assert.ok(refused > 0, 'no stream refused');
  assert.ok(h.node.stats.counters.requests - requestsBefore <= 2_000 - refused, 'a refused stream was handled');
  await othersServed('/after-many');
});

test('CONTINUATION without end (CVE-2024-27316): the connection is closed before the header block grows', T, async () => {
  const errorsBefore = h.node.stats.counters.protocolErrors;
  const c = await rawH2(h.node.proxyAddress().port, ca.pem);
  c.write(frame(FRAME.HEADERS, FLAG.END_STREAM, 1, headerBlock(requestFields('/cont'))));
  for (let i = 0; i < 10_000 && !c.socket.destroyed; i++) c.write(frame(FRAME.CONTINUATION, 0, 1, headerBlock([['x-pad', 'p'.repeat(100)]])));
  await closedWithin(c, 10_000, 'CONTINUATION flood');
  assert.equal(h.node.stats.counters.protocolErrors, errorsBefore + 1);
  assert.equal(h.origin.count('/cont'), 0);
  await othersServed('/after-cont');
});

for (const [name, flood] of [['PING', frame(FRAME.PING, 0, 0, Buffer.alloc(8))], ['SETTINGS', frame(FRAME.SETTINGS, 0, 0)]] as const) {
  test(`a ${name} flood whose answers are never read closes the connection`, T, async () => {
    const errorsBefore = h.node.stats.counters.protocolErrors;
    const c = await rawH2(h.node.proxyAddress().port, ca.pem);
    c.socket.pause();
    for (let i = 0; i < 20_000; i++) c.write(flood);
    await h.until(() => h.node.stats.counters.protocolErrors === errorsBefore + 1, `${name} flood detected`);
    await h.logged((l) => typeof l['err'] === 'string' && /Flooding was detected/.test(l['err']));
    c.socket.destroy();
    await othersServed(`/after-${name}`);
  });
}
