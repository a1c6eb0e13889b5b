// Hostile HTTP/1.1 input that is well-formed: requests for other hosts (absolute
// form, CONNECT), methods Strata refuses, pipelining and smuggling attempts, and
// clients that misbehave on the connection. The same checks as bad-input.test.ts
// (bad-input-node.ts): refused, logged, counted, nothing stored touched, still serving.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CACHED_BODY, T, assertStillServing, expectRefused, withPrimedNode } from './bad-input-node.js';
import { rawExchange, sendAndAbort, serverReleasesHalfOpen } from './raw.js';
import { startHarness } from '../fixtures/harness.js';

test('absolute-form for another host, Host agreeing (a forward-proxy request) → 403, origin never contacted', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, 'GET http://evil.example/ HTTP/1.1\r\nHost: evil.example\r\n\r\n', {
      status: 403,
      reason: /Forbidden$/,
      body: /^403 NOT_A_FORWARD_PROXY: absolute-form request for evil\.example refused/,
      code: 'NOT_A_FORWARD_PROXY',
    });
  }));

test('absolute-form for another host with a Host naming this node → 403, origin never contacted', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `GET http://evil.example/cached HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`, {
      status: 403,
      reason: /Forbidden$/,
      body: /^403 NOT_A_FORWARD_PROXY: absolute-form request for evil\.example refused/,
      code: 'NOT_A_FORWARD_PROXY',
    });
  }));

test('absolute-form for another host with no Host at all → refused, origin never contacted', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, 'GET http://evil.example/ HTTP/1.1\r\n\r\n', { status: 403, reason: /Forbidden$/, body: /^403 NOT_A_FORWARD_PROXY/, code: 'NOT_A_FORWARD_PROXY' });
  }));

test('absolute-form https target for another host → 403', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, 'GET https://evil.example/ HTTP/1.1\r\nHost: evil.example\r\n\r\n', { status: 403, reason: /Forbidden$/, body: /^403 NOT_A_FORWARD_PROXY/, code: 'NOT_A_FORWARD_PROXY' });
  }));

test('absolute-form naming this node, with the same Host, is accepted and answered from cache', T, () =>
  withPrimedNode(async (n) => {
    const r = await rawExchange(n.port, `GET http://${n.host}/cached HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`);
    const res = r.responses[0]!;
    assert.equal(res.status, 200);
    assert.equal(res.text, CACHED_BODY);
    assert.match(res.headers['cache-status']!, /^test-node; hit/);
    assert.equal(n.h.node.stats.counters.badRequests, 0);
    assert.equal(n.h.origin.count(), 1);
  }));

test('absolute-form naming this node (authority case-insensitive) fills the cache like origin-form', T, () =>
  withPrimedNode(async (n) => {
    const r = await rawExchange(n.port, `GET HTTP://${n.host}/fresh?q=1 HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`);
    assert.equal(r.responses[0]!.status, 200);
    assert.equal(n.h.origin.count('/fresh?q=1'), 1, 'the origin gets the origin-form target');
    assert.equal(n.h.node.stats.counters.badRequests, 0);
  }));

test('absolute-form naming this node keys the target as written: the same entry as its origin-form request ("), not a re-encoded one', T, () =>
  withPrimedNode(async (n) => {
    const target = '/search?q="x"';
    const first = await rawExchange(n.port, `GET ${target} HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`);
    assert.equal(first.responses[0]!.status, 200);
    const r = await rawExchange(n.port, `GET http://${n.host}${target} HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`);
    assert.equal(r.responses[0]!.status, 200);
    assert.match(r.responses[0]!.headers['cache-status']!, /^test-node; hit/, 'stored by the origin-form request, found by the absolute-form one');
    assert.equal(n.h.origin.count(target), 1);
  }));

test('absolute-form naming this node as localhost is accepted', T, () =>
  withPrimedNode(async (n) => {
    const r = await rawExchange(n.port, `GET http://localhost:${n.port}/cached HTTP/1.1\r\nHost: localhost:${n.port}\r\n\r\n`);
    assert.equal(r.responses[0]!.status, 200);
    assert.equal(n.h.node.stats.counters.badRequests, 0);
  }));

// The message said "absolute-form request for <this node> refused: … not an open proxy",
// naming the node's own address as the foreign one; it now names the disagreement.
test('absolute-form naming this node with a Host that differs → 403 naming both', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `GET http://${n.host}/cached HTTP/1.1\r\nHost: evil.example\r\n\r\n`, {
      status: 403,
      reason: /Forbidden$/,
      body: /^403 NOT_A_FORWARD_PROXY: absolute-form target names this node \(127\.0\.0\.1:\d+\) but Host says "evil\.example"/,
      code: 'NOT_A_FORWARD_PROXY',
    });
  }));

test('absolute-form for the node address on another port → 403', T, () =>
  withPrimedNode(async (n) => {
    const other = n.port === 65535 ? 1 : n.port + 1;
    await expectRefused(n, `GET http://127.0.0.1:${other}/ HTTP/1.1\r\nHost: 127.0.0.1:${other}\r\n\r\n`, { status: 403, reason: /Forbidden$/, body: /^403 NOT_A_FORWARD_PROXY/, code: 'NOT_A_FORWARD_PROXY' });
  }));

test('CONNECT evil.example:443 → 403, closed, origin never contacted', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n', {
      status: 403,
      reason: /Forbidden$/,
      body: /^403 NOT_A_FORWARD_PROXY: CONNECT is refused/,
      closed: true,
      code: 'NOT_A_FORWARD_PROXY',
    });
  }));

test('CONNECT followed by tunnel bytes: nothing is tunnelled or parsed as a request', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`, {
      status: 403,
      reason: /Forbidden$/,
      body: /CONNECT is refused/,
      closed: true,
    });
    assert.equal(n.h.origin.count('/smuggled'), 0);
  }));

test('TRACE → 501 naming the method, origin never contacted', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `TRACE /cached HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`, {
      status: 501,
      reason: /Not Implemented$/,
      body: /^501 METHOD_NOT_IMPLEMENTED: TRACE is not supported/,
      code: 'METHOD_NOT_IMPLEMENTED',
    });
  }));

// RFC 9110 §9.3.7: "OPTIONS *" asks about the server itself, not a resource. It was
// refused as a malformed target (400, "must be origin-form").
test('OPTIONS * is answered by Strata itself (200, Allow), the origin not asked; the connection serves on', T, () =>
  withPrimedNode(async (n) => {
    const r = await rawExchange(n.port, `OPTIONS * HTTP/1.1\r\nHost: ${n.host}\r\n\r\nGET /cached HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`, { responses: 2 });
    assert.equal(r.responses.length, 2, JSON.stringify(r.raw.toString('latin1')));
    const [options, next] = r.responses as [(typeof r.responses)[0], (typeof r.responses)[0]];
    assert.equal(options.status, 200);
    assert.match(options.headers['allow'] ?? '', /\bGET\b.*\bOPTIONS\b/);
    assert.doesNotMatch(options.headers['allow'] ?? '', /TRACE|CONNECT/);
    assert.match(options.headers['cache-status'] ?? '', /fwd=bypass/);
    assert.equal(next.status, 200);
    assert.equal(next.text, CACHED_BODY);
    assert.equal(n.h.node.stats.counters.badRequests, 0);
    assert.equal(n.h.origin.count(), 1);
  }));

test('the asterisk target with any method but OPTIONS → 400 naming it', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `GET * HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`, { status: 400, reason: /Bad Request$/, body: /^400 BAD_REQUEST: request target "\*" is for OPTIONS only/, code: 'BAD_REQUEST' });
  }));

// --- bodies on keep-alive connections ----------------------------------------

test('a GET with a body answered from cache, then a pipelined request on the same connection: both answered, no smuggling', T, () =>
  withPrimedNode(async (n) => {
    // The body is itself shaped like a request: if the node answered from cache
    // without consuming it, the parser would see "GET /smuggled" next.
    const inner = `GET /smuggled HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`;
    const payload =
      `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\nContent-Length: ${Buffer.byteLength(inner)}\r\n\r\n${inner}` +
      `GET /cached?second HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`;
    const r = await rawExchange(n.port, payload, { responses: 2, waitClose: true, closeWaitMs: 300 });
    assert.equal(r.responses.length, 2, `two answers, no third: ${JSON.stringify(r.raw.toString('latin1'))}`);
    const [a, b] = r.responses as [(typeof r.responses)[0], (typeof r.responses)[0]];
    assert.equal(a.status, 200);
    assert.equal(a.text, CACHED_BODY);
    assert.match(a.headers['cache-status']!, /^test-node; hit/);
    assert.equal(b.status, 200);
    assert.equal(b.text, CACHED_BODY);
    assert.match(b.headers['cache-status']!, /fwd=uri-miss/, 'the second request is the pipelined one (a new key)');
    assert.equal(r.closed, false, 'the keep-alive connection stays open');
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(n.h.origin.count('/smuggled'), 0);
    assert.equal(n.h.origin.count('/cached?second'), 1);
    assert.equal(n.h.node.stats.counters.badRequests, 0);
    await assertStillServing(n);
  }));

test('a chunked GET body answered from cache, then a pipelined request: both answered, no smuggling', T, () =>
  withPrimedNode(async (n) => {
    const inner = `GET /smuggled HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`;
    const chunk = `${Buffer.byteLength(inner).toString(16)}\r\n${inner}\r\n0\r\n\r\n`;
    const payload = `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}` + `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`;
    const r = await rawExchange(n.port, payload, { responses: 2, waitClose: true, closeWaitMs: 300 });
    assert.equal(r.responses.length, 2, `two answers: ${JSON.stringify(r.raw.toString('latin1'))}`);
    for (const res of r.responses) {
      assert.equal(res.status, 200);
      assert.equal(res.text, CACHED_BODY);
      assert.match(res.headers['cache-status']!, /^test-node; hit/);
    }
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(n.h.origin.count('/smuggled'), 0);
    assert.equal(n.h.origin.count(), 1);
  }));

test('a GET with a body whose bytes arrive after the cached answer: the next request on the connection is still parsed correctly', T, () =>
  withPrimedNode(async (n) => {
    const inner = `GET /smuggled HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`;
    const r = await rawExchange(n.port, `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\nContent-Length: ${Buffer.byteLength(inner)}\r\n\r\n`, {
      responses: 2,
      pieces: [inner, `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`],
      pieceGapMs: 100,
    });
    assert.equal(r.responses.length, 2);
    for (const res of r.responses) {
      assert.equal(res.status, 200);
      assert.equal(res.text, CACHED_BODY);
    }
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(n.h.origin.count('/smuggled'), 0);
    assert.equal(n.h.origin.count(), 1);
  }));

// node:http reads nothing more on a connection after a request it parsed as an
// Upgrade (Upgrade + Connection: upgrade) with no 'upgrade' listener: the answer
// said keep-alive, so the client's next request on the connection was dropped
// unanswered until the keep-alive timeout cut it (5 s). An HTTP/1.0 message with
// Transfer-Encoding has faulty framing (RFC 9112 §6.1: close after processing it:
// an HTTP/1.0 hop before Strata may not have read the chunks as its body), yet the
// connection served on.
const PARSER_STOPS: [string, (host: string) => string][] = [
  ['Upgrade: websocket', (host) => `GET /cached HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`],
  ['Upgrade: h2c', (host) => `GET /cached HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`],
  ['an HTTP/1.0 keep-alive request with Transfer-Encoding', (host) => `POST /posted HTTP/1.0\r\nHost: ${host}\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`],
];
for (const [what, request] of PARSER_STOPS) {
  test(`${what}: answered as a plain request with Connection: close, and the connection closed at once (nothing after it would be read)`, T, () =>
    withPrimedNode(async (n) => {
      const next = `GET /cached?next HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`;
      const r = await rawExchange(n.port, request(n.host) + next, { responses: 1, waitClose: true, closeWaitMs: 1500 });
      assert.equal(r.responses.length, 1, JSON.stringify(r.raw.toString('latin1')));
      const res = r.responses[0]!;
      assert.equal(res.status, 200);
      assert.equal(res.text, CACHED_BODY);
      assert.equal(res.headers['connection'], 'close', 'the answer tells the client the connection ends here');
      assert.ok(r.closed, 'closed after the answer, not left open until the keep-alive timeout');
      await assertStillServing(n);
    }));
}

test('a bad request after a good one on the same connection: the good one is answered, the bad one refused and the connection closed', T, () =>
  withPrimedNode(async (n) => {
    const r = await rawExchange(n.port, `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\n\r\nG@T / HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`, { responses: 2, waitClose: true });
    assert.equal(r.responses.length, 2);
    assert.equal(r.responses[0]!.status, 200);
    assert.equal(r.responses[0]!.text, CACHED_BODY);
    assert.equal(r.responses[1]!.status, 400);
    assert.ok(r.closed);
    assert.equal(n.h.node.stats.counters.badRequests, 1);
    await assertStillServing(n);
  }));

test('CONNECT pipelined behind a request still being answered: the first answer is delivered whole, then the 403, then the close', T, () =>
  withPrimedNode(async (n) => {
    const r = await rawExchange(n.port, `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\n\r\nCONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n`, { responses: 2, waitClose: true });
    assert.equal(r.responses.length, 2, JSON.stringify(r.raw.toString('latin1')));
    assert.equal(r.responses[0]!.status, 200);
    assert.equal(r.responses[0]!.text, CACHED_BODY);
    assert.equal(r.responses[1]!.status, 403);
    assert.match(r.responses[1]!.text, /CONNECT is refused/);
    assert.ok(r.closed);
    await assertStillServing(n);
  }));

test('a malformed message pipelined behind a miss (slow origin): the miss is answered first, then the 400', T, async () => {
  const h = await startHarness((req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-length': '4', 'cache-control': 'max-age=60' });
      res.end('slow');
    }, req.url === '/slow' ? 150 : 0);
  }, { logLevel: 'info' });
  try {
    const port = h.node.proxyAddress().port;
    const r = await rawExchange(port, `GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1 extra\r\nHost: x\r\n\r\n`, { responses: 2, waitClose: true });
    assert.equal(r.responses.length, 2, JSON.stringify(r.raw.toString('latin1')));
    assert.equal(r.responses[0]!.status, 200);
    assert.equal(r.responses[0]!.text, 'slow');
    assert.equal(r.responses[1]!.status, 400);
    assert.ok(r.closed);
    assert.equal(h.node.stats.counters.badRequests, 1);
    assert.equal(h.origin.count(), 1);
    await h.stored(1);
  } finally {
    await h.close();
  }
});

// --- abandoned connections -----------------------------------------------------

test('a client that sends half a request line and disconnects: the node still serves, nothing is counted as served', T, () =>
  withPrimedNode(async (n) => {
    const before = { ...n.h.node.stats.counters };
    await sendAndAbort(n.port, 'GET /cac');
    await sendAndAbort(n.port, `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\nX-Half: `);
    await new Promise((res) => setTimeout(res, 50));
    await assertStillServing(n);
    assert.equal(n.h.node.stats.counters.requests, before.requests + 1, 'only the follow-up GET reached the request path');
    assert.equal(n.h.node.stats.counters.errors, before.errors);
    assert.equal(n.h.origin.count(), 1);
  }));

test('a refused client that keeps its side open does not hold the connection: released after a short linger', T, () =>
  withPrimedNode(async (n) => {
    assert.equal(await serverReleasesHalfOpen(n.port, 'G@T / HTTP/1.1\r\n\r\n', 2500), true, 'after a parse error');
    assert.equal(await serverReleasesHalfOpen(n.port, 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n', 2500), true, 'after CONNECT');
    await assertStillServing(n);
  }));

test('many malformed requests in a row do not wear the node down', T, () =>
  withPrimedNode(async (n) => {
    const bad = ['G@T / HTTP/1.1\r\n\r\n', `GET / HTTP/1.1\r\nHost: ${n.host}\r\nNoColon\r\n\r\n`, 'CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n', `TRACE / HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`];
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => rawExchange(n.port, bad[i % bad.length]!, { waitClose: false })));
    for (const r of results) assert.ok(r.responses[0]!.status >= 400);
    assert.equal(n.h.node.stats.counters.badRequests, 40);
    await assertStillServing(n);
  }));
