// An HTTP/2 request body Strata refuses (413 over limits.maxRequestBodyBytes,
// 408 paused past limits.requestBodyTimeoutMs) ends its stream once the refusal
// is sent: RST_STREAM NO_ERROR after the complete answer (RFC 9113 §8.1), with a
// real node:http2 client over TLS that goes on sending (or pauses) and never
// ends its side. The stream was left half-closed: the node kept taking DATA
// frames for it, its slot in http2MaxConcurrentStreams stayed taken, and a new
// stream on that connection got no answer.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2, { type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { startHarness, type Harness } from '../fixtures/harness.js';
import { h2Answer, makeCa, makeLeaf, type TestCa } from '../fixtures/tls.js';

const T = { timeout: 30_000 };
const MAX_BODY = 4096;
const STREAMS = 2;

let ca: TestCa;
let h: Harness;

before(async () => {
  ca = await makeCa();
  const site = await makeLeaf(ca, 'body-refusal', ['localhost']);
  h = await startHarness(
    (_req, res, body) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end(`got ${body.length}`);
    },
    { tls: { certificates: [site], http2MaxConcurrentStreams: STREAMS }, limits: { maxRequestBodyBytes: MAX_BODY, requestBodyTimeoutMs: 300 }, logLevel: 'info' },
  );
});

after(async () => {
  await h.close();
});

function connect(): ClientHttp2Session {
  const s = http2.connect(`https://localhost:${h.node.proxyAddress().port}`, { ca: ca.pem, servername: 'localhost' });
  s.on('error', () => {});
  return s;
}

/** `p`, or a failure naming `what` after `ms`. */
async function within<V>(p: Promise<V>, ms: number, what: string): Promise<V> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

const answer = h2Answer;

/** The stream's RST code once it closes. */
function closed(req: ClientHttp2Stream): Promise<number> {
  return new Promise((resolve) => {
    if (req.closed) resolve(req.rstCode);
    else req.once('close', () => resolve(req.rstCode));
  });
}

/** A POST that sends `bytes` and keeps its side open (no END_STREAM). */
function unfinishedPost(s: ClientHttp2Session, path: string, bytes: number, headers: http2.OutgoingHttpHeaders = {}): ClientHttp2Stream {
  const req = s.request({ ':method': 'POST', ':path': path, ...headers });
  req.on('error', () => {});
  if (bytes > 0) req.write(Buffer.alloc(bytes, 'x'));
  return req;
}

test('HTTP/2: a body refused 413 mid-way ends its stream with RST_STREAM NO_ERROR after the answer', T, async () => {
  const s = connect();
  try {
    const req = unfinishedPost(s, '/h2-413', 2 * MAX_BODY);
    const a = await within(answer(req), 5_000, '413 answer');
    assert.equal(a.status, 413);
    assert.match(a.text, /^413 PAYLOAD_TOO_LARGE/);
    assert.equal(await within(closed(req), 5_000, 'stream close after the 413'), http2.constants.NGHTTP2_NO_ERROR);
    assert.equal(h.origin.count('/h2-413'), 0);
  } finally {
    s.close();
  }
});

test('HTTP/2: a body refused 413 by its content-length ends its stream after the answer', T, async () => {
  const s = connect();
  try {
    const req = unfinishedPost(s, '/h2-413-declared', 100, { 'content-length': String(10 * MAX_BODY) });
    assert.equal((await within(answer(req), 5_000, '413 answer')).status, 413);
    assert.equal(await within(closed(req), 5_000, 'stream close after the 413'), http2.constants.NGHTTP2_NO_ERROR);
  } finally {
    s.close();
  }
});

test('HTTP/2: a body refused 408 (paused) ends its stream after the answer', T, async () => {
  const s = connect();
  try {
    const req = unfinishedPost(s, '/h2-408', 100);
    const a = await within(answer(req), 5_000, '408 answer');
    assert.equal(a.status, 408);
    assert.equal(await within(closed(req), 5_000, 'stream close after the 408'), http2.constants.NGHTTP2_NO_ERROR);
  } finally {
    s.close();
  }
});

test('HTTP/2: refused streams give their slots back: a new stream on the connection is answered', T, async () => {
  const s = connect();
  try {
    // As many refused streams as the connection may have open at once, none ended by the client.
    const refused = Array.from({ length: STREAMS }, (_, i) => answer(unfinishedPost(s, `/h2-slots-${i}`, 2 * MAX_BODY)));
    for (const r of refused) assert.equal((await within(r, 5_000, '413 answer')).status, 413);
    const next = s.request({ ':method': 'POST', ':path': '/h2-slots-next' });
    next.end('small');
    const a = await within(answer(next), 5_000, 'answer to a stream opened after the refusals');
    assert.deepEqual(a, { status: 200, text: 'got 5' });
  } finally {
    s.close();
  }
});
