// What a hostile HTTP/2 client can do to the TLS listener, with raw frames
// (test/fixtures/h2-frames.ts) where node:http2's client would not send them:
//  - rapid reset (CVE-2023-44487): streams opened and reset at once are capped;
//    the connection is sent GOAWAY ENHANCE_YOUR_CALM and closed at once (it
//    lingered until tls.http2IdleTimeoutMs after nghttp2's own GOAWAY), counted
//    and logged, and no cancelled stream reaches the origin;
//  - more streams than tls.http2MaxConcurrentStreams at once: refused
//    (REFUSED_STREAM), then the connection closed, the accepted ones served;
//  - CONTINUATION without end (CVE-2024-27316), PING and SETTINGS floods whose
//    answers are never read: the connection is closed;
//  - HPACK: a bomb (a large indexed field referenced thousands of times) is
//    reset unread (over twice limits.maxHeaderBytes); a dynamic table size
//    update over the node's SETTINGS_HEADER_TABLE_SIZE is a GOAWAY
//    COMPRESSION_ERROR;
//  - empty DATA frames (CVE-2019-9518) close the connection (node:http2's
//    invalid-frame limit); a WINDOW_UPDATE flood (nothing to answer, nothing
//    buffered) does not keep a stream-less connection from its idle timeout.
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

/** An HPACK integer (RFC 7541 §5.1) with `prefixBits` of its first byte, whose high bits are `first`. */
function hpackInt(n: number, prefixBits: number, first: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (n < max) return Buffer.from([first | n]);
  const out = [first | max];
  for (n -= max; n >= 128; n = Math.floor(n / 128)) out.push((n % 128) + 128);
  out.push(n);
  return Buffer.from(out);
}

test('an HPACK bomb (one 4 KB field indexed, then referenced 16,000 times: 20 KB that decode to 64 MB) is reset unread; the connection serves on', T, async () => {
  const c = await rawH2(h.node.proxyAddress().port, ca.pem);
  const value = 'v'.repeat(4_000);
  // Literal with incremental indexing (§6.2.1): the field becomes dynamic table entry 62.
  const indexed = Buffer.concat([Buffer.from([0x40]), hpackInt(5, 7, 0), Buffer.from('x-big'), hpackInt(value.length, 7, 0), Buffer.from(value)]);
  const block = Buffer.concat([headerBlock(requestFields('/bomb')), indexed, Buffer.alloc(16_000, 0x80 | 62)]);
  const first = block.subarray(0, 16_384);
  c.write(frame(FRAME.HEADERS, FLAG.END_STREAM, 1, first));
  c.write(frame(FRAME.CONTINUATION, FLAG.END_HEADERS, 1, block.subarray(16_384)));
  c.write(frame(FRAME.HEADERS, FLAG.END_STREAM | FLAG.END_HEADERS, 3, headerBlock(requestFields('/after-bomb'))));
  await h.until(() => c.received.some((f) => f.type === FRAME.HEADERS && f.streamId === 3), 'the next stream answered');
  assert.deepEqual(c.received.find((f) => f.type === FRAME.RST_STREAM && f.streamId === 1), { type: FRAME.RST_STREAM, streamId: 1, code: http2.constants.NGHTTP2_ENHANCE_YOUR_CALM });
  assert.equal(h.origin.count('/bomb'), 0);
  assert.equal(c.received.filter((f) => f.type === FRAME.GOAWAY).length, 0);
  c.socket.destroy();
});

test('an HPACK dynamic table size update above SETTINGS_HEADER_TABLE_SIZE (RFC 7541 §4.2) ends the connection with GOAWAY COMPRESSION_ERROR; no request is made of it', T, async () => {
  const c = await rawH2(h.node.proxyAddress().port, ca.pem);
  // 001xxxxx: a table size update to 1 MiB, over the node's 4096.
  c.write(frame(FRAME.HEADERS, FLAG.END_STREAM | FLAG.END_HEADERS, 1, Buffer.concat([hpackInt(1 << 20, 5, 0x20), headerBlock(requestFields('/table-size'))])));
  await h.until(() => c.received.some((f) => f.type === FRAME.GOAWAY), 'GOAWAY');
  assert.equal(c.received.find((f) => f.type === FRAME.GOAWAY)?.code, http2.constants.NGHTTP2_COMPRESSION_ERROR);
  assert.equal(h.origin.count('/table-size'), 0);
  c.socket.destroy();
  await othersServed('/after-table-size');
});

test('a flood of empty DATA frames (CVE-2019-9518) closes the connection, counted and logged; the request is not forwarded', T, async () => {
  const errorsBefore = h.node.stats.counters.protocolErrors;
  const c = await rawH2(h.node.proxyAddress().port, ca.pem);
  const post = requestFields('/empty-data').map(([n, v]): [string, string] => (n === ':method' ? [n, 'POST'] : [n, v]));
  c.write(frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, headerBlock(post)));
  const empty = frame(FRAME.DATA, 0, 1);
  for (let i = 0; i < 5_000 && !c.socket.destroyed; i++) c.write(empty);
  await closedWithin(c, 10_000, 'empty DATA flood');
  await h.until(() => h.node.stats.counters.protocolErrors === errorsBefore + 1, 'the flood counted');
  await h.logged((l) => l['code'] === 'ERR_HTTP2_TOO_MANY_INVALID_FRAMES');
  assert.equal(h.origin.count('/empty-data'), 0);
  await othersServed('/after-empty-data');
});

test('a WINDOW_UPDATE flood keeps no stream-less connection open past tls.http2IdleTimeoutMs, and the node serves on', T, async () => {
  const IDLE_MS = 500;
  const g = await startHarness(
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store', 'content-length': '2' });
      res.end('ok');
    },
    { tls: { certificates: [await makeLeaf(ca, 'window-flood', ['localhost'])], http2IdleTimeoutMs: IDLE_MS }, logLevel: 'info' },
  );
  const c = await rawH2(g.node.proxyAddress().port, ca.pem);
  try {
    // One answered request: the connection is in use, then has no stream open.
    c.write(frame(FRAME.HEADERS, FLAG.END_STREAM | FLAG.END_HEADERS, 1, headerBlock(requestFields('/before-flood'))));
    await g.until(() => c.received.some((f) => f.type === FRAME.HEADERS), 'answered');
    const increment = Buffer.alloc(4);
    increment.writeUInt32BE(1);
    const burst = Buffer.concat(Array.from({ length: 2_000 }, () => frame(FRAME.WINDOW_UPDATE, 0, 0, increment)));
    let gone = false;
    void c.closed.then(() => (gone = true));
    const startedAt = Date.now();
    // 2,000 increments every 20 ms (the window stays far below 2^31 - 1) for up to 10 idle periods.
    while (!gone && Date.now() - startedAt < 10 * IDLE_MS) {
      c.write(burst);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(gone, 'the WINDOW_UPDATE flood kept the connection open');
    const s = http2.connect(`https://localhost:${g.node.proxyAddress().port}`, { ca: ca.pem, servername: 'localhost' });
    s.on('error', () => {});
    assert.deepEqual(await h2Answer(s.request({ ':path': '/after-window-flood' }).end()), { status: 200, text: 'ok' });
    s.close();
  } finally {
    c.socket.destroy();
    await g.close();
  }
});
