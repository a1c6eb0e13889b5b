// HTTP/2 clients that read nothing, over TLS with raw frames
// (test/fixtures/h2-frames.ts): a client that keeps its flow-control window
// closed (SETTINGS_INITIAL_WINDOW_SIZE 0, never a WINDOW_UPDATE) and PINGs to look
// busy. Each of its streams is held to limits.sendTimeoutMs as an HTTP/1.1 client
// that stops reading is:
//  - an answer too small to meet the stream's backpressure (under 16 KiB), a hit
//    or a miss shared with other clients, is reset (RST_STREAM CANCEL) once the
//    send timeout passes; it held its stream for as long as the client PINGed;
//  - the clients sharing that miss get their whole answer at once, not at the
//    pace of the one that reads nothing;
//  - tls.http2MaxConcurrentStreams streams of large answers are all accepted:
//    node:http2's session memory (10 MB by default) refused those past ~150
//    with RST_STREAM ENHANCE_YOUR_CALM, unlogged; each holds one 64 KiB slice
//    there until the send timeout resets it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { ServerResponse } from 'node:http';
import { startHarness, type Harness } from '../fixtures/harness.js';
import { FLAG, FRAME, frame, headerBlock, rawH2, requestFields, SETTING, settingsFrame, type RawH2 } from '../fixtures/h2-frames.js';
import { h2Answer, makeCa, makeLeaf, type TestCa } from '../fixtures/tls.js';

const T = { timeout: 30_000 };
const SEND_TIMEOUT_MS = 1_000;
const SMALL_BYTES = 8_000;

let ca: TestCa;
let h: Harness;
/** Answers of /held-* waiting for the test to release them. */
const held = new Map<string, ServerResponse>();

before(async () => {
  ca = await makeCa();
  const site = await makeLeaf(ca, 'slow', ['localhost']);
  h = await startHarness(
    (req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=600', 'content-length': String(SMALL_BYTES) });
      if (req.url!.startsWith('/held')) held.set(req.url!, res);
      else res.end(Buffer.alloc(SMALL_BYTES, 's'));
    },
    { tls: { certificates: [site] }, limits: { sendTimeoutMs: SEND_TIMEOUT_MS }, logLevel: 'info' },
  );
});

after(async () => {
  await h.close();
});

function connect(): http2.ClientHttp2Session {
  const s = http2.connect(`https://localhost:${h.node.proxyAddress().port}`, { ca: ca.pem, servername: 'localhost' });
  s.on('error', () => {});
  return s;
}

/** A raw client whose streams get no flow-control window: the node can send them headers, never a byte of body. */
async function closedWindowClient(): Promise<RawH2> {
  const c = await rawH2(h.node.proxyAddress().port, ca.pem);
  c.write(settingsFrame([[SETTING.INITIAL_WINDOW_SIZE, 0]]));
  return c;
}

/** The RST_STREAM code `c` received for `streamId` (fails if none comes within until()'s deadline). */
async function resetOf(c: RawH2, streamId: number): Promise<number | undefined> {
  await h.until(() => c.received.some((f) => f.type === FRAME.RST_STREAM && f.streamId === streamId), `stream ${streamId} reset`);
  return c.received.find((f) => f.type === FRAME.RST_STREAM && f.streamId === streamId)?.code;
}

test('a client that keeps its window closed on a small cached answer has the stream reset after the send timeout, though it PINGs', T, async () => {
  const warm = connect();
  assert.equal((await h2Answer(warm.request({ ':path': '/small-hit' }).end())).status, 200);
  await h.stored(1);
  warm.close();

  const cutsBefore = h.node.stats.counters.sendTimeouts;
  const c = await closedWindowClient();
  const pings = setInterval(() => c.write(frame(FRAME.PING, 0, 0, Buffer.alloc(8))), 100);
  try {
    const startedAt = Date.now();
    c.write(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, headerBlock(requestFields('/small-hit'))));
    await h.until(() => c.received.some((f) => f.type === FRAME.HEADERS && f.streamId === 1), 'answer headers sent');
    assert.equal(await resetOf(c, 1), http2.constants.NGHTTP2_CANCEL);
    const tookMs = Date.now() - startedAt;
    assert.ok(tookMs >= SEND_TIMEOUT_MS * 0.9, `reset after ${tookMs} ms, before the send timeout`);
    assert.equal(c.received.filter((f) => f.type === FRAME.DATA).length, 0, 'a byte of body went through a closed window');
    assert.equal(h.node.stats.counters.sendTimeouts, cutsBefore + 1);
    // The bytes that wait, once each.
    await h.logged((l) => l['cut'] === 'stream' && l['waitingBytes'] === SMALL_BYTES);
    // The connection itself is not cut: its window is open, it is only the stream's that is closed.
    assert.equal(c.socket.destroyed, false);
  } finally {
    clearInterval(pings);
    c.socket.destroy();
  }
});

test('a closed-window client sharing a small miss with another client: the other gets its answer at once; the stalled stream is reset after the send timeout', T, async () => {
  const cutsBefore = h.node.stats.counters.sendTimeouts;
  const joinedBefore = h.node.stats.counters.joined;
  const c = await closedWindowClient();
  const pings = setInterval(() => c.write(frame(FRAME.PING, 0, 0, Buffer.alloc(8))), 100);
  const other = connect();
  try {
    c.write(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, headerBlock(requestFields('/held-miss'))));
    await h.until(() => held.has('/held-miss'), 'the origin asked');
    const answer = h2Answer(other.request({ ':path': '/held-miss', ':authority': 'localhost' }).end());
    await h.until(() => h.node.stats.counters.joined === joinedBefore + 1, 'the other client joined the fetch');
    held.get('/held-miss')!.end(Buffer.alloc(SMALL_BYTES, 'm'));
    const got = await answer;
    assert.equal(got.status, 200);
    assert.equal(got.text.length, SMALL_BYTES);
    assert.equal(h.origin.count('/held-miss'), 1);
    assert.equal(await resetOf(c, 1), http2.constants.NGHTTP2_CANCEL);
    assert.equal(h.node.stats.counters.sendTimeouts, cutsBefore + 1);
  } finally {
    clearInterval(pings);
    c.socket.destroy();
    other.close();
  }
});

test('tls.http2MaxConcurrentStreams large answers to a client reading nothing are all accepted (none refused ENHANCE_YOUR_CALM for session memory) and all reset after the send timeout', T, async () => {
  const STREAMS = 200;
  const big = Buffer.alloc(1024 * 1024, 'b');
  const g = await startHarness(
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=600', 'content-length': String(big.length) });
      res.end(big);
    },
    { tls: { certificates: [await makeLeaf(ca, 'streams', ['localhost'])], http2MaxConcurrentStreams: STREAMS }, limits: { sendTimeoutMs: SEND_TIMEOUT_MS }, logLevel: 'info' },
  );
  const port = g.node.proxyAddress().port;
  const warm = http2.connect(`https://localhost:${port}`, { ca: ca.pem, servername: 'localhost' });
  warm.on('error', () => {});
  let c: RawH2 | undefined;
  try {
    assert.equal((await h2Answer(warm.request({ ':path': '/big', ':authority': 'localhost' }).end())).text.length, big.length);
    await g.stored(1);
    const cutsBefore = g.node.stats.counters.sendTimeouts;
    c = await rawH2(port, ca.pem);
    c.write(settingsFrame([[SETTING.INITIAL_WINDOW_SIZE, 0]]));
    const frames: Buffer[] = [];
    for (let i = 0; i < STREAMS; i++) frames.push(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1 + 2 * i, headerBlock(requestFields('/big'))));
    c.write(Buffer.concat(frames));
    const raw = c;
    // Every stream answered (headers sent; no byte of body fits a closed window) before any is reset.
    await g.until(() => raw.received.filter((f) => f.type === FRAME.HEADERS || f.type === FRAME.RST_STREAM).length >= STREAMS, 'every stream answered or reset');
    const refused = raw.received.filter((f) => f.type === FRAME.RST_STREAM && f.code === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM).length;
    assert.equal(refused, 0, `${refused} of ${STREAMS} streams refused ENHANCE_YOUR_CALM`);
    assert.equal(raw.received.filter((f) => f.type === FRAME.HEADERS).length, STREAMS);
    await g.until(() => g.node.stats.counters.sendTimeouts === cutsBefore + STREAMS, 'every stream cut by the send timeout');
    await g.until(() => raw.received.filter((f) => f.type === FRAME.RST_STREAM && f.code === http2.constants.NGHTTP2_CANCEL).length === STREAMS, 'every stream reset CANCEL');
  } finally {
    c?.socket.destroy();
    warm.close();
    await g.close();
  }
});
