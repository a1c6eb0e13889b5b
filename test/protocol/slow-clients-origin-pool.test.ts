// Issue 14 #1: a client's pace never holds an origin connection unboundedly
// (DESIGN invariant 5). Request bodies are read whole before the origin request
// (nginx's proxy_request_buffering): in memory, then in an unlinked temp file,
// refused past limits.maxRequestBodyBytes. A passed-through response is buffered
// only limits.passBufferBytes ahead of its client, and a client that stops reading
// is cut after limits.sendTimeoutMs, which releases the origin connection.
// test-runner: own process (it reads this process's buffer figures).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { startHarness, type Harness, type OriginHandler } from '../fixtures/harness.js';
import { rawExchange } from './raw.js';

const T = { timeout: 30_000 };

/** Echo: answers with the length and SHA-256 of the body it received (the harness origin reads bodies whole first). */
const echo: OriginHandler = (req, res, body) => {
  if (req.method === 'GET') return void res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '2' }).end('ok');
  const text = `${body.length} ${createHash('sha256').update(body).digest('hex')} ${req.headers['content-length'] ?? '-'}`;
  res.writeHead(200, { 'content-length': String(text.length) }).end(text);
};

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves once `cond()` holds; rejects after `ms`. */
async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves with `p`, or rejects after `ms` (a wait that must not last). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

test('four clients trickling request bodies against 4 origin connections do not make a miss wait', T, async () => {
  const h = await startHarness(echo, { origin: { maxConnections: 4 } });
  const port = h.node.proxyAddress().port;
  const tricklers: net.Socket[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      const s = await connect(port);
      s.on('error', () => {});
      s.write(`POST /upload/${i} HTTP/1.1\r\nHost: site.example\r\nContent-Length: 1000\r\n\r\n` + 'x'.repeat(10));
      tricklers.push(s);
    }
    // Every trickler's request is being read by the node; none has reached the origin.
    const miss = await within(h.get('/other'), 2_000, 'a miss behind four trickling uploads');
    assert.equal(miss.status, 200);
    assert.equal(h.origin.requests.filter((r) => r.method === 'POST').length, 0, 'no body-less origin request was opened for a trickling upload');
    // A trickler that finishes gets its answer, with its whole body forwarded.
    const answer = new Promise<string>((resolve) => {
      let text = '';
      tricklers[0]!.on('data', (d: Buffer) => {
        text += d.toString();
        if (/\r\n\r\n\d+ [0-9a-f]{64} \S+$/.test(text)) resolve(text);
      });
    });
    tricklers[0]!.write('y'.repeat(990));
    const text = await within(answer, 3_000, 'the finished upload answered');
    const want = createHash('sha256').update('x'.repeat(10) + 'y'.repeat(990)).digest('hex');
    assert.match(text, new RegExp(`^HTTP/1.1 200 [\\s\\S]*\\r\\n\\r\\n1000 ${want} 1000$`));
  } finally {
    for (const s of tricklers) s.destroy();
    await h.close();
  }
});

test('a request body over limits.maxRequestBodyBytes is 413 (at once when Content-Length says so); the origin is not asked', T, async () => {
  const h = await startHarness(echo, { limits: { maxRequestBodyBytes: 1000 } });
  const port = h.node.proxyAddress().port;
  try {
    const declared = await rawExchange(port, 'POST /big HTTP/1.1\r\nHost: site.example\r\nContent-Length: 1001\r\n\r\n', { waitClose: true });
    assert.equal(declared.responses[0]?.status, 413);
    assert.match(declared.responses[0]!.text, /PAYLOAD_TOO_LARGE: request body is 1001 bytes; the limit is 1000 \(limits\.maxRequestBodyBytes\)/);
    assert.equal(declared.closed, true);
    const chunk = 'x'.repeat(600);
    const chunked = await rawExchange(port, `PUT /big HTTP/1.1\r\nHost: site.example\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n${chunk}\r\n258\r\n${chunk}\r\n0\r\n\r\n`, { waitClose: true });
    assert.equal(chunked.responses[0]?.status, 413);
    assert.equal(h.origin.requests.filter((r) => r.method !== 'GET').length, 0);
    // Within the limit, a chunked body reaches the origin whole, with its length.
    const fits = await h.get('/fits', {}, 'POST', 'z'.repeat(1000));
    assert.equal(fits.text.split(' ')[0], '1000');
  } finally {
    await h.close();
  }
});

test('a body above limits.requestBodyMemoryBytes is spooled to an unlinked file and forwarded whole', T, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-spool-'));
  const h = await startHarness(echo, { limits: { requestBodyMemoryBytes: 16 * 1024, requestBodyDir: dir } });
  try {
    const body = Buffer.alloc(300 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
    const r = await h.get('/spooled', {}, 'PUT', body.toString('latin1'));
    const sent = Buffer.from(body.toString('latin1'), 'utf8');
    assert.equal(r.text, `${sent.length} ${createHash('sha256').update(sent).digest('hex')} ${sent.length}`);
    assert.deepEqual(await readdir(dir), [], 'nothing left in the spool directory');
  } finally {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a request body that pauses longer than limits.requestBodyTimeoutMs is 408 and closed', T, async () => {
  const h = await startHarness(echo, { limits: { requestBodyTimeoutMs: 300 } });
  try {
    const r = await rawExchange(h.node.proxyAddress().port, 'POST /slow HTTP/1.1\r\nHost: site.example\r\nContent-Length: 100\r\n\r\nabc', { waitClose: true, timeoutMs: 4_000 });
    assert.equal(r.responses[0]?.status, 408);
    assert.match(r.responses[0]!.text, /REQUEST_TIMEOUT: request body paused for more than 300 ms/);
    assert.equal(r.closed, true);
    assert.equal(h.origin.requests.filter((r) => r.method === 'POST').length, 0);
  } finally {
    await h.close();
  }
});

// Scaled from the 128 clients × 64 MiB: 12 clients × 64 MiB, 12 origin
// connections (a body must outsize the loopback's kernel buffers, several MiB, or
// the node finishes writing it and holds nothing).
const CLIENTS = 12;
const BIG = 64 * 1024 * 1024;

test('clients that stop reading a large uncacheable response are cut after the send timeout, releasing origin connections and buffers', T, async () => {
  let written = 0;
  const big: OriginHandler = (req, res) => {
    if (!req.url!.startsWith('/big')) return void res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '2' }).end('ok');
    res.writeHead(200, { 'cache-control': 'no-store', 'content-length': String(BIG) });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    const pump = (r: ServerResponse) => {
      while (sent < BIG) {
        sent += chunk.length;
        written += chunk.length;
        if (!r.write(chunk)) return void r.once('drain', () => pump(r));
      }
      r.end();
    };
    pump(res);
  };
  const h: Harness = await startHarness(big, { origin: { maxConnections: CLIENTS }, limits: { sendTimeoutMs: 1_500 } });
  const port = h.node.proxyAddress().port;
  const clients: net.Socket[] = [];
  const closedByNode: boolean[] = [];
  try {
    const before = process.memoryUsage().arrayBuffers;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const s = await connect(port);
        s.on('error', () => {});
        s.on('close', () => (closedByNode[i] = true));
        clients.push(s);
        s.write(`GET /big/${i} HTTP/1.1\r\nHost: site.example\r\n\r\n`);
        // Read the status line, then stop reading.
        await new Promise<void>((resolve) => s.once('data', () => resolve()));
        s.pause();
      }),
    );
    // The origin writes until every response is paused by backpressure: wait for that.
    let last = -1;
    let still = 0;
    const deadline = Date.now() + 5_000;
    while (still < 5 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 40));
      still = written === last ? still + 1 : 0;
      last = written;
    }
    const held = process.memoryUsage().arrayBuffers - before;
    // The window alone was 8 MiB per body (96 MiB here): now 256 KiB plus stream buffers.
    assert.ok(held < 48 * 1024 * 1024, `buffers held for ${CLIENTS} stalled clients: ${(held / 2 ** 20).toFixed(1)} MiB`);
    // Each stalled client is cut after the send timeout, and its origin transfer
    // stopped: the pool (its 12 connections all held by stalled transfers) is free again.
    // The socket timer fires after 1.5 s without progress (Node may first see a write still moving and wait once more).
    await waitFor(() => h.node.stats.counters.sendTimeouts === CLIENTS, 10_000, 'every stalled client cut');
    const next = await within(h.get('/other'), 2_000, 'a miss after the stalled clients');
    assert.equal(next.text, 'ok');
    // A client that reads again finds its connection closed before the end of its body.
    for (const s of clients) s.resume();
    await waitFor(() => closedByNode.filter(Boolean).length === CLIENTS, 10_000, 'stalled clients closed');
    for (const s of clients) assert.ok(s.bytesRead < BIG, `a cut client read ${s.bytesRead} bytes`);
  } finally {
    for (const s of clients) s.destroy();
    await h.close();
  }
});
