// Malformed and hostile HTTP/1.1 input, spoken as raw bytes on a TCP connection
// (RFC 9112 §2.2, §3, §5, §6.3; RFC 9110 §9.3.6, §9.3.8). Each case checks the
// status line, that the body names the problem, that the connection is closed
// where framing can no longer be trusted, that the refusal is logged (warn) and
// counted (badRequests), that nothing stored is touched (a primed entry is still
// a hit and the origin saw no new request) and that the node keeps serving.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, fixed, type Harness } from '../fixtures/harness.js';
import { rawExchange, sendAndAbort, serverReleasesHalfOpen, type RawResult } from './raw.js';

const CACHED_BODY = 'cached body';
const PINO_WARN = 40;
/** Whole-test bound on top of the per-exchange one in raw.ts: nothing here may hang. */
const T = { timeout: 20_000 };

interface Node {
  h: Harness;
  port: number;
  /** The Host the primed entry is stored under (what undici sent). */
  host: string;
}

/** A node with /cached primed (one origin fetch, stored, then a hit). */
async function withPrimedNode(run: (n: Node) => Promise<void>): Promise<void> {
  const h = await startHarness(fixed(CACHED_BODY, { 'cache-control': 'max-age=3600', 'content-type': 'text/plain' }), { logLevel: 'info' });
  try {
    const port = h.node.proxyAddress().port;
    const first = await h.get('/cached');
    assert.equal(first.status, 200);
    await h.stored(1);
    const n: Node = { h, port, host: `127.0.0.1:${port}` };
    await assertStillServing(n);
    assert.equal(h.origin.count(), 1);
    await run(n);
  } finally {
    await h.close();
  }
}

/** A normal GET of the primed entry, on a fresh raw connection, is a hit; the origin saw /cached once only. */
async function assertStillServing(n: Node): Promise<void> {
  const r = await rawExchange(n.port, `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`);
  assert.equal(r.responses.length, 1);
  const res = r.responses[0]!;
  assert.equal(res.status, 200, 'the node still serves after bad input');
  assert.equal(res.text, CACHED_BODY);
  assert.match(res.headers['cache-status'] ?? '', /^test-node; hit/, 'the stored entry is untouched: still a hit');
  assert.equal(n.h.origin.count('/cached'), 1);
}

interface Expect {
  status: number;
  reason: RegExp;
  /** What the body must say. */
  body: RegExp;
  /** The connection must be closed by the server. */
  closed?: boolean;
  /** Error code expected in the warn log line. */
  code?: string;
}

/** Send `payload`, check the refusal and every side condition listed at the top of the file. */
async function expectRefused(n: Node, payload: string | Buffer, e: Expect): Promise<RawResult> {
  const { h } = n;
  const badBefore = h.node.stats.counters.badRequests;
  const originBefore = h.origin.count();
  const logsBefore = h.logs.length;

  const r = await rawExchange(n.port, payload, { waitClose: e.closed === true });
  assert.equal(r.responses.length, 1, `exactly one answer; got ${JSON.stringify(r.raw.toString('latin1').slice(0, 400))}`);
  const res = r.responses[0]!;
  assert.match(res.statusLine, new RegExp(`^HTTP/1\\.1 ${e.status} `));
  assert.match(res.statusLine, e.reason);
  assert.match(res.text, e.body);
  assert.equal(res.headers['cache-control'], 'no-store', 'an error answer is never stored downstream');
  if (e.closed) {
    assert.equal(res.headers['connection'], 'close', 'the answer announces the close');
    assert.ok(r.closed, 'the server closed the connection');
  }

  assert.equal(h.node.stats.counters.badRequests, badBefore + 1, 'counted once as a bad request');
  const warns = h.logs.slice(logsBefore).filter((l) => l.level === PINO_WARN);
  assert.ok(warns.length >= 1, `a warn line is logged; got ${JSON.stringify(h.logs.slice(logsBefore))}`);
  if (e.code) assert.ok(warns.some((l) => l.code === e.code), `a warn line carries code ${e.code}: ${JSON.stringify(warns)}`);
  assert.equal(h.origin.count(), originBefore, 'the origin is not contacted');

  await assertStillServing(n);
  assert.equal(h.origin.count(), originBefore, 'the origin saw nothing new');
  return r;
}

const BAD_400 = { status: 400, reason: /Bad Request$/ };

// --- request line -----------------------------------------------------------

test('malformed request line: extra token after the version → 400, closed', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `GET /x HTTP/1.1 extra\r\nHost: ${n.host}\r\n\r\n`, { ...BAD_400, body: /^400 BAD_REQUEST: malformed request line/, closed: true, code: 'BAD_REQUEST' });
  }));

test('malformed request line: invalid character in the method → 400, closed', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `G@T / HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`, { ...BAD_400, body: /^400 BAD_REQUEST: malformed request line/, closed: true, code: 'BAD_REQUEST' });
  }));

test('malformed request line: unknown HTTP version → 400, closed', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `GET / HTTP/9.7\r\nHost: ${n.host}\r\n\r\n`, { ...BAD_400, body: /^400 BAD_REQUEST: malformed request line/, closed: true, code: 'BAD_REQUEST' });
  }));

// --- header lines -----------------------------------------------------------

test('malformed header line: no colon → 400, closed', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\nX-No-Colon here\r\n\r\n`, { ...BAD_400, body: /^400 BAD_REQUEST: malformed request line or header/, closed: true, code: 'BAD_REQUEST' });
  }));

test('malformed header line: whitespace between field name and colon (RFC 9112 §5.1) → 400, closed', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\nX-Spaced : v\r\n\r\n`, { ...BAD_400, body: /^400 BAD_REQUEST: malformed request line or header/, closed: true, code: 'BAD_REQUEST' });
  }));

test('malformed header line: control characters in a field value → 400, closed', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, Buffer.from(`GET /cached HTTP/1.1\r\nHost: ${n.host}\r\nX-Ctl: a\x01b\x7fc\r\n\r\n`, 'latin1'), { ...BAD_400, body: /^400 BAD_REQUEST: malformed request line or header/, closed: true, code: 'BAD_REQUEST' });
  }));

test('malformed header line: bare CR inside a field value → 400, closed', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\nX-Split: a\rb\r\n\r\n`, { ...BAD_400, body: /^400 BAD_REQUEST: malformed request line or header/, closed: true, code: 'BAD_REQUEST' });
  }));

test('obsolete line folding (RFC 9112 §5.2) → 400, closed', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\nX-Fold: a\r\n b\r\n\r\n`, { ...BAD_400, body: /^400 BAD_REQUEST: malformed request line or header/, closed: true, code: 'BAD_REQUEST' });
  }));

// --- sizes ------------------------------------------------------------------

test('a 9000-byte request target (limit 8 KiB) → 414 naming the limit', T, () =>
  withPrimedNode(async (n) => {
    const target = '/cached?' + 'a'.repeat(9000 - '/cached?'.length);
    assert.equal(target.length, 9000);
    await expectRefused(n, `GET ${target} HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`, {
      status: 414,
      reason: /URI Too Long$/,
      body: /^414 URI_TOO_LONG: request target is 9000 bytes; the limit is 8192/,
      code: 'URI_TOO_LONG',
    });
  }));

test('a URL just under the limit is served (the limit is not off by a lot)', T, () =>
  withPrimedNode(async (n) => {
    const target = '/cached?' + 'a'.repeat(8000);
    const r = await rawExchange(n.port, `GET ${target} HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`);
    assert.equal(r.responses[0]!.status, 200);
    assert.equal(n.h.node.stats.counters.badRequests, 0);
  }));

test('20 KiB of request headers (limit 16 KiB) → 431 naming the limit, closed', T, () =>
  withPrimedNode(async (n) => {
    let headers = '';
    for (let i = 0; headers.length < 20 * 1024; i++) headers += `X-Filler-${i}: ${'v'.repeat(100)}\r\n`;
    await expectRefused(n, `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\n${headers}\r\n`, {
      status: 431,
      reason: /Request Header Fields Too Large$/,
      body: /^431 HEADERS_TOO_LARGE: request header section exceeds 16384 bytes/,
      closed: true,
      code: 'HEADERS_TOO_LARGE',
    });
  }));

test('one 20 KiB header field → 431, closed', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\nX-Big: ${'b'.repeat(20 * 1024)}\r\n\r\n`, {
      status: 431,
      reason: /Request Header Fields Too Large$/,
      body: /^431 HEADERS_TOO_LARGE: request header section exceeds 16384 bytes/,
      closed: true,
      code: 'HEADERS_TOO_LARGE',
    });
  }));

// --- Host -------------------------------------------------------------------

test('HTTP/1.1 without Host (RFC 9112 §3.2) → 400 naming the missing Host', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `GET /cached HTTP/1.1\r\nAccept: */*\r\n\r\n`, { ...BAD_400, body: /^400 MISSING_HOST: HTTP\/1\.1 request without a Host header/, code: 'MISSING_HOST' });
  }));

test('two Host fields (RFC 9112 §3.2) → 400 naming the duplicate', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\nHost: evil.example\r\n\r\n`, { ...BAD_400, body: /^400 BAD_REQUEST: more than one Host header/, code: 'BAD_REQUEST' });
  }));

test('two identical Host fields are still two → 400', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\nHost: ${n.host}\r\n\r\n`, { ...BAD_400, body: /more than one Host header/, code: 'BAD_REQUEST' });
  }));

// --- message framing (smuggling) --------------------------------------------

test('Content-Length with Transfer-Encoding (RFC 9112 §6.3) → 400, closed; the smuggled request never reaches the origin', T, () =>
  withPrimedNode(async (n) => {
    const r = await expectRefused(
      n,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
      { ...BAD_400, body: /^400 AMBIGUOUS_LENGTH: .*(Content-Length|Transfer-Encoding)/, closed: true, code: 'AMBIGUOUS_LENGTH' },
    );
    assert.equal(r.responses.length, 1, 'no second answer for the smuggled request');
    // Give a (wrongly) forwarded request time to arrive before concluding it did not.
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(n.h.origin.count('/smuggled'), 0);
    assert.equal(n.h.origin.count('/'), 0);
  }));

test('Transfer-Encoding then Content-Length (order reversed), GET → 400, closed', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(
      n,
      `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\nTransfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n`,
      { ...BAD_400, body: /^400 AMBIGUOUS_LENGTH/, closed: true, code: 'AMBIGUOUS_LENGTH' },
    );
    assert.equal(n.h.origin.count('/smuggled'), 0);
  }));

test('a Transfer-Encoding other than chunked last → 400, closed', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `POST /p HTTP/1.1\r\nHost: ${n.host}\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`, { ...BAD_400, body: /^400 (AMBIGUOUS_LENGTH|BAD_REQUEST)/, closed: true });
    assert.equal(n.h.origin.count('/p'), 0);
  }));

for (const te of ['gzip', ' >^N.2%']) {
  test(`a GET of a cached URL with Transfer-Encoding ${JSON.stringify(te)} (not chunked last) → 400 before any answer, closed (found by the fuzz suite)`, T, () =>
    withPrimedNode(async (n) => {
      // Node's parser let "gzip" through, and failed inside the body for the other one,
      // after the hit had been written: the client then saw the connection cut with no answer.
      await expectRefused(n, `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\nTransfer-Encoding: ${te}\r\n\r\n0\r\n\r\n`, { ...BAD_400, body: /^400 AMBIGUOUS_LENGTH/, closed: true });
    }));
}

test('two different Content-Length values → 400, closed', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `POST /p HTTP/1.1\r\nHost: ${n.host}\r\nContent-Length: 4\r\nContent-Length: 9\r\n\r\nbodyGET /smuggled HTTP/1.1\r\n\r\n`, {
      ...BAD_400,
      body: /^400 AMBIGUOUS_LENGTH: conflicting or invalid Content-Length/,
      closed: true,
      code: 'AMBIGUOUS_LENGTH',
    });
    assert.equal(n.h.origin.count('/p'), 0);
    assert.equal(n.h.origin.count('/smuggled'), 0);
  }));

test('a Content-Length list with different values ("4, 9") → 400, closed', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `POST /p HTTP/1.1\r\nHost: ${n.host}\r\nContent-Length: 4, 9\r\n\r\nbody`, { ...BAD_400, body: /^400 AMBIGUOUS_LENGTH/, closed: true, code: 'AMBIGUOUS_LENGTH' });
    assert.equal(n.h.origin.count('/p'), 0);
  }));

test('a non-numeric Content-Length → 400, closed', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `POST /p HTTP/1.1\r\nHost: ${n.host}\r\nContent-Length: +4\r\n\r\nbody`, { ...BAD_400, body: /^400 AMBIGUOUS_LENGTH/, closed: true, code: 'AMBIGUOUS_LENGTH' });
    assert.equal(n.h.origin.count('/p'), 0);
  }));

test('an invalid chunk size in a request body → 400, closed; nothing reaches the origin', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `POST /p HTTP/1.1\r\nHost: ${n.host}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`, {
      ...BAD_400,
      body: /^400 BAD_REQUEST: .*HPE_INVALID_CHUNK_SIZE/,
      closed: true,
      code: 'BAD_REQUEST',
    });
    assert.equal(n.h.origin.count('/p'), 0);
  }));

test('a broken chunked body pipelined behind a good request: the good one is answered first, then the 400', T, () =>
  withPrimedNode(async (n) => {
    const r = await rawExchange(
      n.port,
      `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\n\r\nPOST /p HTTP/1.1\r\nHost: ${n.host}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
      { responses: 2, waitClose: true },
    );
    assert.equal(r.responses.length, 2, JSON.stringify(r.raw.toString('latin1')));
    assert.equal(r.responses[0]!.status, 200);
    assert.equal(r.responses[0]!.text, CACHED_BODY);
    assert.equal(r.responses[1]!.status, 400);
    assert.match(r.responses[1]!.text, /HPE_INVALID_CHUNK_SIZE/);
    assert.ok(r.closed);
    assert.equal(n.h.node.stats.counters.badRequests, 1);
    await assertStillServing(n);
    assert.equal(n.h.origin.count('/p'), 0, 'no complete POST reached the origin');
  }));

test('a GET from cache whose own chunked body is broken: its answer may already be out, but the connection is then closed and nothing else follows', T, () =>
  withPrimedNode(async (n) => {
    const r = await rawExchange(
      n.port,
      `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\n\r\nGET /cached HTTP/1.1\r\nHost: ${n.host}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /smuggled HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`,
      { responses: 2, waitClose: true },
    );
    assert.equal(r.responses[0]!.status, 200);
    assert.equal(r.responses[0]!.text, CACHED_BODY);
    // The second request needs no body to be answered from cache, so its answer
    // may be complete before the parser reaches the broken chunk; otherwise it is
    // the 400. Either way the connection ends there.
    assert.ok(r.responses.length === 2, JSON.stringify(r.raw.toString('latin1')));
    const second = r.responses[1]!;
    assert.ok(second.status === 400 || (second.status === 200 && second.text === CACHED_BODY), `second answer: ${second.statusLine}`);
    assert.ok(r.closed);
    assert.equal(n.h.origin.count('/smuggled'), 0);
    await assertStillServing(n);
  }));

// --- not a forward proxy ----------------------------------------------------

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

test('absolute-form naming this node as localhost is accepted', T, () =>
  withPrimedNode(async (n) => {
    const r = await rawExchange(n.port, `GET http://localhost:${n.port}/cached HTTP/1.1\r\nHost: localhost:${n.port}\r\n\r\n`);
    assert.equal(r.responses[0]!.status, 200);
    assert.equal(n.h.node.stats.counters.badRequests, 0);
  }));

test('absolute-form naming this node with a Host that differs → 403', T, () =>
  withPrimedNode(async (n) => {
    await expectRefused(n, `GET http://${n.host}/cached HTTP/1.1\r\nHost: evil.example\r\n\r\n`, { status: 403, reason: /Forbidden$/, body: /^403 NOT_A_FORWARD_PROXY/, code: 'NOT_A_FORWARD_PROXY' });
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
