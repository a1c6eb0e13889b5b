// Slow and idle clients (DESIGN invariant 5: client timeouts from accept) and the
// per-client connection cap. Raw sockets; every wait is bounded by a deadline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startHarness, fixed, type Harness } from '../fixtures/harness.js';
import { rawExchange } from './raw.js';

const T = { timeout: 20_000 };
const HEADERS_TIMEOUT_MS = 500;
const KEEP_ALIVE_MS = 1_000;

async function withNode(limits: { requestHeadersTimeoutMs?: number; keepAliveTimeoutMs?: number; maxConnectionsPerClient?: number }, run: (h: Harness, port: number) => Promise<void>): Promise<void> {
  const h = await startHarness(fixed('ok', { 'cache-control': 'max-age=60' }), { limits });
  try {
    await run(h, h.node.proxyAddress().port);
  } finally {
    await h.close();
  }
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

test('a connection that never sends a byte is answered 408 and closed once the header timeout has passed since accept', T, async () => {
  await withNode({ requestHeadersTimeoutMs: HEADERS_TIMEOUT_MS }, async (h, port) => {
    const started = Date.now();
    const r = await rawExchange(port, '', { timeoutMs: 4_000, waitClose: true });
    assert.equal(r.closed, true);
    assert.equal(r.responses[0]?.status, 408);
    // Node's own check (every connectionsCheckingInterval) or the listener's timer from accept, whichever is first.
    assert.match(r.responses[0]!.text, /^408 REQUEST_TIMEOUT: /);
    assert.ok(Date.now() - started >= HEADERS_TIMEOUT_MS - 50, 'not before the timeout');
    assert.equal(h.node.stats.counters.badRequests, 1);
  });
});

test('headers dribbled on a kept-alive connection are answered 408 promptly, not on a 30 s tick', T, async () => {
  await withNode({ requestHeadersTimeoutMs: HEADERS_TIMEOUT_MS }, async (_h, port) => {
    const dribble = Array.from({ length: 60 }, (_, i) => `X-Slow-${i}: a\r\n`);
    const started = Date.now();
    const r = await rawExchange(port, 'GET /first HTTP/1.1\r\nHost: site.example\r\n\r\nGET /second HTTP/1.1\r\nHost: site.example\r\n', {
      responses: 2,
      pieces: dribble,
      pieceGapMs: 100,
      timeoutMs: 5_000,
      waitClose: true,
    });
    assert.equal(r.responses[0]?.status, 200);
    assert.equal(r.responses[1]?.status, 408);
    assert.equal(r.closed, true);
    // The dribble would last 6 s; the answer comes within the timeout plus one check interval.
    assert.ok(Date.now() - started < 2_500, `408 after ${Date.now() - started} ms`);
  });
});

test('a client address over limits.maxConnectionsPerClient is answered 429 and closed; a freed slot is usable again', T, async () => {
  await withNode({ maxConnectionsPerClient: 3 }, async (h, port) => {
    const held = await Promise.all([connect(port), connect(port), connect(port)]);
    try {
      const over = await rawExchange(port, 'GET /x HTTP/1.1\r\nHost: site.example\r\n\r\n', { waitClose: true });
      assert.equal(over.responses[0]?.status, 429);
      assert.match(over.responses[0]!.text, /TOO_MANY_CONNECTIONS: client \S+ already has 3 open connections; the limit is 3 \(limits\.maxConnectionsPerClient\)/);
      assert.equal(over.closed, true);
      assert.equal(h.origin.count('/x'), 0);
      held.pop()!.destroy();
      // The node learns of the close asynchronously: retry until the slot is free.
      const deadline = Date.now() + 5_000;
      for (;;) {
        const again = await rawExchange(port, 'GET /x HTTP/1.1\r\nHost: site.example\r\nConnection: close\r\n\r\n');
        if (again.responses[0]?.status === 200) break;
        assert.equal(again.responses[0]?.status, 429);
        if (Date.now() > deadline) assert.fail('the freed slot was never usable');
      }
    } finally {
      for (const s of held) s.destroy();
    }
  });
});

// Empty lines before a request line are allowed (RFC 9112 §2.2), so node:http's
// parser takes them without starting a message: the header timeout never began,
// and each byte renewed the keep-alive timer. Two bytes a second held a kept-alive
// connection open for ever.
test('a kept-alive connection fed only empty lines is answered 408 and closed once keep-alive plus header timeout have passed', T, async () => {
  await withNode({ requestHeadersTimeoutMs: HEADERS_TIMEOUT_MS, keepAliveTimeoutMs: KEEP_ALIVE_MS }, async (h, port) => {
    const started = Date.now();
    const r = await rawExchange(port, 'GET /first HTTP/1.1\r\nHost: site.example\r\n\r\n', {
      responses: 1,
      pieces: Array.from({ length: 60 }, () => '\r\n'),
      pieceGapMs: 200,
      timeoutMs: 15_000,
      waitClose: true,
      closeWaitMs: 14_000,
    });
    const ms = Date.now() - started;
    assert.equal(r.responses[0]?.status, 200);
    assert.equal(r.closed, true, 'the connection is closed');
    assert.equal(r.responses[1]?.status, 408, JSON.stringify(r.raw.toString('latin1')));
    assert.match(r.responses[1]!.text, /^408 REQUEST_TIMEOUT: no request within \d+ ms of the last answer/);
    // limits.keepAliveTimeoutMs + the header timeout, plus one sweep; the dribble would last 12 s.
    assert.ok(ms >= KEEP_ALIVE_MS + HEADERS_TIMEOUT_MS - 50 && ms < 4_000, `closed after ${ms} ms`);
    assert.equal(h.node.stats.counters.badRequests, 1);
  });
});

// A body nothing reads any more (its request answered from cache) was drained by
// node:http for as long as it came: a chunked body of one byte a second held the
// connection for ever (limits.requestBodyTimeoutMs counts pauses, and there were none).
test('a request answered from cache whose chunked body never ends: closed once keep-alive plus header timeout have passed', T, async () => {
  await withNode({ requestHeadersTimeoutMs: HEADERS_TIMEOUT_MS, keepAliveTimeoutMs: KEEP_ALIVE_MS }, async (h, port) => {
    assert.equal((await rawExchange(port, 'GET /hit HTTP/1.1\r\nHost: site.example\r\n\r\n')).responses[0]?.status, 200);
    await h.stored(1);
    const started = Date.now();
    const r = await rawExchange(port, 'GET /hit HTTP/1.1\r\nHost: site.example\r\nTransfer-Encoding: chunked\r\n\r\n', {
      responses: 1,
      pieces: Array.from({ length: 60 }, () => '1\r\nx\r\n'),
      pieceGapMs: 200,
      timeoutMs: 15_000,
      waitClose: true,
      closeWaitMs: 14_000,
    });
    const ms = Date.now() - started;
    assert.match(r.responses[0]?.headers['cache-status'] ?? '', /; hit/);
    assert.equal(r.closed, true, 'the connection is closed');
    assert.ok(ms < 4_000, `closed after ${ms} ms`);
    assert.equal(h.origin.count('/hit'), 1);
  });
});

test('limits.keepAliveTimeoutMs: an idle kept-alive connection is closed that long after its last answer, not on Node\'s default 5 s', T, async () => {
  await withNode({ keepAliveTimeoutMs: KEEP_ALIVE_MS }, async (_h, port) => {
    const started = Date.now();
    const r = await rawExchange(port, 'GET /idle HTTP/1.1\r\nHost: site.example\r\n\r\n', { responses: 1, timeoutMs: 8_000, waitClose: true, closeWaitMs: 7_000 });
    const ms = Date.now() - started;
    assert.equal(r.responses[0]?.status, 200);
    assert.match(r.responses[0]!.headers['keep-alive'] ?? '', /timeout=1\b/);
    assert.equal(r.closed, true);
    assert.ok(ms >= KEEP_ALIVE_MS - 50 && ms < 4_000, `closed after ${ms} ms`);
  });
});
