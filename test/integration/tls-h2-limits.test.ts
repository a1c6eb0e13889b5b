// HTTP/2 clients held to the same limits as HTTP/1.1 ones, with real node:http2
// (and curl) clients over TLS:
//  - a header list over limits.maxHeaderBytes is answered 431 HEADERS_TOO_LARGE
//    (not a bare stream reset), and the connection goes on serving;
//  - nginx's send_timeout: a client that stops reading a stream (its flow-control
//    window runs out) has the stream reset after limits.sendTimeoutMs, which
//    releases the origin transfer behind it; one that stops reading the whole
//    connection has the connection closed; a slow client that keeps reading a
//    large answer is never cut, however long the answer takes.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http2, { type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import net from 'node:net';
import { promisify } from 'node:util';
import { startHarness, type Harness } from '../fixtures/harness.js';
import { makeCa, makeLeaf, type TestCa } from '../fixtures/tls.js';

const run = promisify(execFile);
const T = { timeout: 30_000 };
const SEND_TIMEOUT_MS = 1_000;
const HIT_BYTES = 256 * 1024;
const hitBody = Buffer.alloc(HIT_BYTES, 'h');

let ca: TestCa;
let h: Harness;
let endlessClosed = 0;

before(async () => {
  ca = await makeCa();
  const site = await makeLeaf(ca, 'limits', ['localhost']);
  h = await startHarness(
    (req, res) => {
      if (req.url!.startsWith('/endless')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' });
        const chunk = Buffer.alloc(64 * 1024, 'z');
        // Written as fast as the node takes it: only a release ends it.
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
        };
        res.on('drain', pump);
        res.on('close', () => endlessClosed++);
        pump();
        return;
      }
      if (req.url!.startsWith('/hit')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=600', 'content-length': String(HIT_BYTES) });
        res.end(hitBody);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60', 'content-length': '2' });
      res.end('ok');
    },
    { tls: { certificates: [site] }, limits: { maxHeaderBytes: 4096, sendTimeoutMs: SEND_TIMEOUT_MS }, logLevel: 'info' },
  );
});

after(async () => {
  await h.close();
});

function connect(port = h.node.proxyAddress().port): ClientHttp2Session {
  const s = http2.connect(`https://localhost:${port}`, { ca: ca.pem, servername: 'localhost' });
  s.on('error', () => {});
  return s;
}

/** Status and body of one request, or the stream's error code when it is reset. */
function ask(s: ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Promise<{ status: number; text: string } | { reset: number }> {
  return new Promise((resolve) => {
    const req = s.request(headers);
    let status = 0;
    const chunks: Buffer[] = [];
    req.on('response', (hd) => (status = Number(hd[':status'])));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status, text: Buffer.concat(chunks).toString() }));
    req.on('error', () => {});
    req.on('close', () => {
      if (req.rstCode !== http2.constants.NGHTTP2_NO_ERROR) resolve({ reset: req.rstCode });
    });
    req.end();
  });
}

/** Resolves when `stream` closes; its RST code. */
function closed(stream: ClientHttp2Stream): Promise<number> {
  return new Promise((resolve) => {
    if (stream.closed) resolve(stream.rstCode);
    else stream.once('close', () => resolve(stream.rstCode));
  });
}

test('an HTTP/2 header list over limits.maxHeaderBytes is answered 431, and the connection goes on', T, async () => {
  const s = connect();
  try {
    const before = h.node.stats.counters.badRequests;
    const under = await ask(s, { ':path': '/hdr-under', 'x-big': 'a'.repeat(3_000) });
    assert.deepEqual(under, { status: 200, text: 'ok' });
    const over = await ask(s, { ':path': '/hdr-over', 'x-big': 'a'.repeat(5_000) });
    assert.ok('status' in over, `reset instead of 431: ${JSON.stringify(over)}`);
    assert.equal(over.status, 431);
    assert.match(over.text, /^431 HEADERS_TOO_LARGE: request header section exceeds 4096 bytes/);
    assert.equal(h.origin.count('/hdr-over'), 0);
    assert.equal(h.node.stats.counters.badRequests, before + 1);
    await h.logged((l) => l['code'] === 'HEADERS_TOO_LARGE' && l['http'] === '2');
    // One request with one recorded outcome, as the request path's refusals are: its access line says what was refused.
    const [line] = await h.logged((l) => l['msg'] === 'access' && l['url'] === '/hdr-over');
    assert.deepEqual([line!['status'], line!['cache'], line!['code'], line!['method'], line!['http']], [431, 'error', 'headers_too_large', 'GET', '2']);
    // Beyond twice the limit, node:http2 resets the stream before any handler sees it (documented).
    const far = await ask(s, { ':path': '/hdr-far', 'x-big': 'a'.repeat(9_000) });
    assert.deepEqual(far, { reset: http2.constants.NGHTTP2_ENHANCE_YOUR_CALM });
    // The same connection still serves.
    assert.deepEqual(await ask(s, { ':path': '/hdr-under' }), { status: 200, text: 'ok' });
  } finally {
    s.close();
  }
});

test('curl --http2 with an oversized header gets 431', T, async () => {
  const port = h.node.proxyAddress().port;
  const { stdout } = await run('curl', ['-sS', '--http2', '--cacert', ca.certFile, '--resolve', `localhost:${port}:127.0.0.1`, '-H', `x-big: ${'b'.repeat(5_000)}`, '-w', '\n%{http_code} %{http_version}', `https://localhost:${port}/hdr-curl`]);
  assert.match(stdout, /^431 HEADERS_TOO_LARGE/);
  assert.match(stdout, /\n431 2$/);
});

test('a stream whose client stops reading is reset after the send timeout; the origin transfer is released, the connection serves on', T, async () => {
  const s = connect();
  try {
    const cutsBefore = h.node.stats.counters.sendTimeouts;
    const releasedBefore = endlessClosed;
    const req = s.request({ ':path': '/endless-stream' });
    req.on('error', () => {});
    // Read the first bytes, then stop: the stream's window runs out and the node's queue backs up.
    await new Promise<void>((resolve) => req.once('data', () => resolve()));
    req.pause();
    const startedAt = Date.now();
    assert.equal(await closed(req), http2.constants.NGHTTP2_CANCEL);
    const tookMs = Date.now() - startedAt;
    assert.ok(tookMs >= SEND_TIMEOUT_MS * 0.9, `reset after ${tookMs} ms, before the send timeout`);
    await h.until(() => endlessClosed === releasedBefore + 1, 'origin transfer released');
    assert.equal(h.node.stats.counters.sendTimeouts, cutsBefore + 1);
    await h.logged((l) => l['cut'] === 'stream' && typeof l['waitingBytes'] === 'number');
    assert.deepEqual(await ask(s, { ':path': '/after-reset' }), { status: 200, text: 'ok' });
  } finally {
    s.close();
  }
});

test('a slow client that keeps reading a large memory hit is not cut, though the answer takes longer than the send timeout', T, async () => {
  const s = connect();
  try {
    const storedBefore = h.node.stats.counters.stored;
    const miss = await ask(s, { ':path': '/hit-slow' });
    assert.ok('status' in miss && miss.status === 200 && miss.text.length === HIT_BYTES);
    await h.until(() => h.node.stats.counters.stored === storedBefore + 1, 'the answer stored');
    const cutsBefore = h.node.stats.counters.sendTimeouts;
    const req = s.request({ ':path': '/hit-slow' });
    req.end();
    let got = 0;
    const startedAt = Date.now();
    // ~16 KiB per 100 ms: the 256 KiB answer (written whole, at once) takes ≥ 1.6 s.
    req.on('data', (c: Buffer) => {
      got += c.length;
      req.pause();
      setTimeout(() => req.resume(), 100);
    });
    assert.equal(await closed(req), http2.constants.NGHTTP2_NO_ERROR, 'the slow reader was cut');
    assert.equal(got, HIT_BYTES);
    assert.ok(Date.now() - startedAt > SEND_TIMEOUT_MS * 1.5, 'the answer was read faster than meant; the test proves nothing');
    assert.equal(h.node.stats.counters.sendTimeouts, cutsBefore);
    // A client that stops reading the same hit is cut.
    const stalled = s.request({ ':path': '/hit-slow' });
    stalled.end();
    await new Promise<void>((resolve) => stalled.once('data', () => resolve()));
    stalled.pause();
    assert.equal(await closed(stalled), http2.constants.NGHTTP2_CANCEL);
    assert.equal(h.node.stats.counters.sendTimeouts, cutsBefore + 1);
  } finally {
    s.close();
  }
});

test('a client that stops reading its connection has the connection closed after the send timeout', T, async () => {
  // A relay between client and node that stops passing the node's bytes on: the
  // client reads nothing, so it grants no more window and the connection stalls.
  let stopped = false;
  let toNode!: net.Socket;
  const relay = net.createServer((client) => {
    toNode = net.connect(h.node.proxyAddress().port, '127.0.0.1');
    client.pipe(toNode);
    toNode.on('data', (d: Buffer) => {
      if (!stopped) client.write(d);
    });
    for (const sock of [client, toNode]) sock.on('error', () => {});
    toNode.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const s = connect((relay.address() as net.AddressInfo).port);
  try {
    const cutsBefore = h.node.stats.counters.sendTimeouts;
    const releasedBefore = endlessClosed;
    const req = s.request({ ':path': '/endless-conn' });
    req.on('error', () => {});
    await new Promise<void>((resolve) => req.once('data', () => resolve()));
    stopped = true;
    await h.until(() => endlessClosed === releasedBefore + 1, 'origin transfer released');
    assert.equal(h.node.stats.counters.sendTimeouts, cutsBefore + 1);
    await h.logged((l) => l['cut'] === 'connection');
    // The node closed the connection itself.
    await new Promise<void>((resolve) => (toNode.destroyed ? resolve() : toNode.once('close', () => resolve())));
  } finally {
    s.destroy();
    relay.close();
  }
});

test('an HTTP/2 connection is closed after tls.http2IdleTimeoutMs without a new stream, PINGs or not; requests keep it open', T, async () => {
  const IDLE_MS = 400;
  const g = await startHarness(
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60', 'content-length': '2' });
      res.end('ok');
    },
    { tls: { certificates: [await makeLeaf(ca, 'idle', ['localhost'])], http2IdleTimeoutMs: IDLE_MS }, logLevel: 'info' },
  );
  const s = connect(g.node.proxyAddress().port);
  try {
    let gone = false;
    const closedAt = new Promise<number>((resolve) =>
      s.once('close', () => {
        gone = true;
        resolve(Date.now());
      }),
    );
    // Busy for three idle periods: a request every 100 ms.
    const busyUntil = Date.now() + 3 * IDLE_MS;
    // Quiet is counted from the last answer received, not from the end of the pause after it.
    let quietFrom = Date.now();
    while (Date.now() < busyUntil) {
      assert.deepEqual(await ask(s, { ':path': '/idle' }), { status: 200, text: 'ok' });
      quietFrom = Date.now();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(s.closed || s.destroyed, false, 'closed while busy');
    }
    // Then only PINGs, every 100 ms (nginx's idle timeout: they are not activity).
    let pings = 0;
    while (!gone && Date.now() - quietFrom < 20 * IDLE_MS) {
      await new Promise<void>((resolve) => {
        if (!s.ping(() => resolve())) resolve();
      }).catch(() => undefined);
      pings++;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(gone, 'PINGs kept a stream-less connection open');
    const quietMs = (await closedAt) - quietFrom;
    assert.ok(quietMs >= IDLE_MS * 0.9, `closed after ${quietMs} ms of quiet`);
    assert.ok(pings >= 3, `only ${pings} PINGs sent: the test proves nothing`);
  } finally {
    s.destroy();
    await g.close();
  }
});

test('HTTP/2 takes as many header fields as HTTP/1.1 (130 cookie fields pass); past 2000 a 431, counted and logged, not a silent reset', T, async () => {
  const g = await startHarness(
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store', 'content-length': '2' });
      res.end('ok');
    },
    { tls: { certificates: [await makeLeaf(ca, 'fields', ['localhost'])] }, limits: { maxHeaderBytes: 256 * 1024 }, logLevel: 'info' },
  );
  const s = connect(g.node.proxyAddress().port);
  try {
    const crumbs = (n: number) => Array.from({ length: n }, (_, i) => `c${i}=v`);
    // node:http2 sends each element of an array as a field of its own (RFC 9113 §8.2.3 cookie crumbs).
    assert.deepEqual(await ask(s, { ':path': '/cookies', cookie: crumbs(130) }), { status: 200, text: 'ok' });
    const seen = g.origin.requests.find((r) => r.url === '/cookies');
    assert.equal(String(seen?.headers.cookie).split('; ').length, 130);

    const before = g.node.stats.counters.badRequests;
    const over = await ask(s, { ':path': '/too-many-fields', cookie: crumbs(2001) });
    assert.ok('status' in over, `reset instead of 431: ${JSON.stringify(over)}`);
    assert.equal(over.status, 431);
    assert.match(over.text, /2001 header fields; at most 2000 are accepted/);
    assert.equal(g.origin.count('/too-many-fields'), 0);
    assert.equal(g.node.stats.counters.badRequests, before + 1);
    await g.logged((l) => l['code'] === 'HEADERS_TOO_LARGE' && l['http'] === '2');
  } finally {
    s.close();
    await g.close();
  }
});
