// Issue 15, requests refused before the request path sees them: node:http's parser
// refuses the bytes (Content-Length with Transfer-Encoding, a bad header name, a
// header section too large, a malformed request line) or CONNECT, answered by the
// listener itself (server/refusal.ts). Each is one request with one recorded
// outcome, like the request path's own refusals: counted in requests, errors and
// badRequests, one access line, /metrics, its body bytes, and its answer labelled
// with Cache-Status and Via as those are. And a client that closes with pipelined
// requests waiting: requests never started are not requests (nothing logged, nothing
// counted, as nginx logs none it never read); those started are counted once each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { ServerResponse } from 'node:http';
import { startHarness, fixed, until, type Harness } from '../fixtures/harness.js';
import { assertAgree, metricOutcomes, observe, type Received } from '../fixtures/agreement.js';
import { rawExchange, type RawResponse } from '../protocol/raw.js';

const LOGGED = { logLevel: 'info' } as const;

function receivedRaw(r: RawResponse): Received {
  return { status: r.status, cacheStatus: r.headers['cache-status'] ?? '', bytes: r.body.length };
}

/** One raw exchange, observed: its answer, and what every observer recorded of it. */
async function refusedRaw(h: Harness, payload: string) {
  const port = h.node.proxyAddress().port;
  const o = await observe(h, 1, async () => (await rawExchange(port, payload, { waitClose: true })).responses);
  assert.equal(o.reply.length, 1, 'one answer');
  return { o, res: o.reply[0]! };
}

/** The origin the body tests need: it answers once it has read the whole body, so the request path has written nothing when the bytes break. */
function startBodyReader(): Promise<Harness> {
  return startHarness((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  }, LOGGED);
}

/** A raw connection whose request `head` is in the request path (counted) when this resolves. */
async function requestInFlight(h: Harness, head: string) {
  const socket = net.connect({ host: '127.0.0.1', port: h.node.proxyAddress().port });
  socket.on('error', () => {});
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const before = h.node.stats.counters.requests;
  socket.write(head);
  await until(() => h.node.stats.counters.requests === before + 1, 'the request in the request path');
  return { socket, closed, text: () => text };
}

test('a request node:http’s parser refuses is one recorded outcome: counted, logged with its code, labelled as Strata’s own refusals are', async () => {
  const h = await startHarness(fixed('ok', { 'cache-control': 'max-age=60' }), { ...LOGGED, limits: { maxHeaderBytes: 4096 } });
  try {
    const host = `127.0.0.1:${h.node.proxyAddress().port}`;
    // The request path's own refusal, for comparison: what every refusal's answer carries.
    const own = await refusedRaw(h, `POST /own HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: gzip\r\n\r\n`);
    assertAgree(own.o, 1, receivedRaw(own.res));
    assert.match(own.res.headers['cache-status']!, /^test-node; fwd=bypass; detail=\w+$/);
    assert.ok(own.res.headers['via'], 'the request path’s refusal carries Via');

    const cases = [
      { name: 'Content-Length with Transfer-Encoding', payload: `POST /cl-te HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, status: 400, code: 'ambiguous_length' },
      { name: 'a bad header name', payload: `GET /name HTTP/1.1\r\nHost: ${host}\r\nBad Name: v\r\n\r\n`, status: 400, code: 'bad_request' },
      { name: 'a header section too large', payload: `GET /big HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`, status: 431, code: 'headers_too_large' },
      { name: 'a malformed request line', payload: `GET /x HTTP/1.1 extra\r\nHost: ${host}\r\n\r\n`, status: 400, code: 'bad_request' },
    ];
    for (const c of cases) {
      const { o, res } = await refusedRaw(h, c.payload);
      assert.equal(res.status, c.status, c.name);
      assertAgree(o, 1, receivedRaw(res));
      const line = o.lines[0]! as unknown as Record<string, unknown>;
      assert.deepEqual([line['cache'], line['code'], line['method'], line['url']], ['error', c.code, '-', '-'], `${c.name}: the access line says what is known: its code; method and target unknown`);
      assert.deepEqual(metricOutcomes(o), ['pass 4xx'], c.name);
      assert.deepEqual([o.stats['errors'], o.stats['badRequests']], [1, 1], c.name);
      assert.equal(res.headers['cache-status'], `test-node; fwd=bypass; detail=${c.code}`, `${c.name}: Cache-Status as the request path’s refusals have it`);
      assert.equal(res.headers['via'], own.res.headers['via'], `${c.name}: Via as the request path’s refusals have it`);
    }

    // CONNECT: refused by the listener, its method and target known.
    const connect = await refusedRaw(h, `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n`);
    assertAgree(connect.o, 1, receivedRaw(connect.res));
    const line = connect.o.lines[0]! as unknown as Record<string, unknown>;
    assert.deepEqual([line['status'], line['method'], line['url'], line['code']], [403, 'CONNECT', 'example.com:443', 'not_a_forward_proxy']);
    assert.match(connect.res.headers['cache-status']!, /detail=not_a_forward_proxy$/);

    // Broken bytes in the body of a request being handled: the refusal is that request's answer
    // and its one outcome (it was recorded `gone`, 499, while the client read a 400).
    const broken = await refusedRaw(h, `POST /broken HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n`);
    assert.equal(broken.res.status, 400);
    assertAgree(broken.o, 1, receivedRaw(broken.res));
    const brokenLine = broken.o.lines[0]! as unknown as Record<string, unknown>;
    assert.deepEqual([brokenLine['url'], brokenLine['method'], brokenLine['cache'], brokenLine['code'], brokenLine['aborted']], ['/broken', 'POST', 'error', 'bad_request', undefined]);
    assert.equal(broken.res.headers['cache-status'], 'test-node; fwd=bypass; detail=bad_request');
    assert.deepEqual([broken.o.stats['errors'], broken.o.stats['badRequests']], [1, 1]);

    // A refusal after a good request on the same connection: two requests, two lines.
    const port = h.node.proxyAddress().port;
    const both = await observe(h, 2, async () => (await rawExchange(port, `GET /good HTTP/1.1\r\nHost: ${host}\r\n\r\nGET /bad HTTP/1.1\r\nHost: ${host}\r\nBad Name: v\r\n\r\n`, { responses: 2, waitClose: true })).responses);
    assert.deepEqual(both.reply.map((r) => r.status), [200, 400]);
    assertAgree(both, 2);
    // Each line is written as its answer is settled: the refusal's when the answer before it closes, so possibly first.
    assert.deepEqual(both.lines.map((l) => l.status).sort(), [200, 400]);
  } finally {
    await h.close();
  }
});

test('a client closing with pipelined requests waiting: those never started are not counted nor logged; those started are counted once each', async () => {
  const waiting: ServerResponse[] = [];
  const h = await startHarness((req, res) => (req.url === '/after' ? res.end('ok') : void waiting.push(res)), LOGGED);
  try {
    const port = h.node.proxyAddress().port;
    const host = `127.0.0.1:${port}`;
    // Ten distinct cold URLs pipelined: eight are handled at once (server/pipelining.ts), two wait.
    const o = await observe(h, 8, async () => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.on('error', () => {});
      socket.write(Array.from({ length: 10 }, (_, i) => `GET /p${i} HTTP/1.1\r\nHost: ${host}\r\n\r\n`).join(''));
      await until(() => waiting.length === 8, 'eight misses at the origin');
      socket.destroy();
      await h.logged((l) => l['dropped'] === 2);
    });
    assertAgree(o, 8);
    assert.ok(o.lines.every((l) => l.cache === 'gone' && l.status === 499), JSON.stringify(o.lines));
    assert.deepEqual(o.lines.map((l) => l.url).sort(), Array.from({ length: 8 }, (_, i) => `/p${i}`).sort());
    for (const res of waiting) res.destroy();
    // Nothing more is recorded for the two dropped.
    const after = await observe(h, 1, () => h.get('/after'));
    assert.equal(after.lines[0]!.url, '/after');
    assert.equal(h.node.stats.counters.requests, 9);
  } finally {
    await h.close();
  }
});

test('broken bytes in the body of a request that arrived before a reload: the 400 it read is its one outcome, not gone', async () => {
  const h = await startBodyReader();
  try {
    const host = `127.0.0.1:${h.node.proxyAddress().port}`;
    const o = await observe(h, 1, async () => {
      const c = await requestInFlight(h, `POST /reloaded HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`);
      // A new generation takes new requests; this one is still the old generation's.
      await h.node.reload(structuredClone(h.node.config()));
      c.socket.write('zz\r\n');
      await c.closed;
      return c.text();
    });
    assert.match(o.reply, /^HTTP\/1\.1 400 /, 'the client read the listener’s 400');
    const line = o.lines[0]! as unknown as Record<string, unknown>;
    assert.deepEqual([line['url'], line['status'], line['cache'], line['code']], ['/reloaded', 400, 'error', 'bad_request'], JSON.stringify(line));
    assert.deepEqual([o.stats['errors'], o.stats['badRequests']], [1, 1]);
  } finally {
    await h.close();
  }
});

test('a client that closes its connection halfway through a request body went away: gone (499), no 400 written, logged or counted as sent', async () => {
  const h = await startBodyReader();
  try {
    const host = `127.0.0.1:${h.node.proxyAddress().port}`;
    for (const framing of ['content-length: 100\r\n', 'transfer-encoding: chunked\r\n']) {
      const o = await observe(h, 1, async () => {
        const c = await requestInFlight(h, `POST /abandoned HTTP/1.1\r\nHost: ${host}\r\n${framing}\r\n${framing.startsWith('content') ? 'only ten b' : 'a\r\nonly ten b\r\n'}`);
        // The user cancels the upload: the client closes.
        c.socket.destroy();
        await c.closed;
      });
      const line = o.lines[0]! as unknown as Record<string, unknown>;
      assert.deepEqual([line['url'], line['status'], line['cache']], ['/abandoned', 499, 'gone'], `${framing}: ${JSON.stringify(line)}`);
      // Counted in badRequests as a client closing halfway through a request line is (CACHING.md); no error answered.
      assert.deepEqual([o.stats['errors'], o.stats['badRequests'], o.stats['bytesServed']], [undefined, 1, undefined], `${framing}: ${JSON.stringify(o.stats)}`);
    }
  } finally {
    await h.close();
  }
});
