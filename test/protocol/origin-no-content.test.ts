// Origin answers without content (RFC 9110 §6.4.1) that carry a Content-Length:
// a 304 may (§8.6; Jetty and ASP.NET send the representation's length), and some
// origins put one on a 204. undici 7 checks Content-Length against the bytes read
// for every method but HEAD, so such an answer failed its body after complete
// headers: a passed-through one reached the client as a closed connection with zero
// bytes, and every one (a 304 to Strata's own revalidation too) counted as a broken
// body against the upstream's health. The origin here writes its answers raw.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { fetchReply, startPoolHarness, type OriginHandler, type PoolHarness } from '../fixtures/harness.js';
import { makeCa, makeLeaf } from '../fixtures/tls.js';
import { originStats } from '../integration/upstream-pool-node.js';
import { rawExchange } from './raw.js';

const T = { timeout: 30_000 };

/** Raw answers: a 304 and a 204 each announcing 5 bytes they do not (and must not) send; a stored 200 to validate. */
const origin: OriginHandler = (req, res) => {
  const s = res.socket!;
  const conditional = req.headers['if-none-match'] !== undefined;
  if (req.url!.startsWith('/no-content-204')) s.write('HTTP/1.1 204 No Content\r\nContent-Length: 5\r\nConnection: close\r\n\r\n');
  else if (conditional) s.write('HTTP/1.1 304 Not Modified\r\nETag: "a"\r\nCache-Control: max-age=1\r\nContent-Length: 5\r\nConnection: close\r\n\r\n');
  else s.write('HTTP/1.1 200 OK\r\nETag: "a"\r\nCache-Control: max-age=1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
  s.end();
};

let h: PoolHarness;

before(async () => {
  h = await startPoolHarness([{ handler: origin }], { logLevel: 'info' });
});

after(() => h.close());

const port = () => h.node.proxyAddress().port;

/** The upstream's figures once nothing is in flight to it (a broken body is counted before inFlight comes down). */
async function settledUpstream() {
  const deadline = Date.now() + 5000;
  for (;;) {
    const up = (await originStats(h)).upstreams[0]!;
    if (up.inFlight === 0) return up;
    if (Date.now() > deadline) throw new Error(`upstream still has ${up.inFlight} requests in flight`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a passed-through 304 or 204 with Content-Length reaches the client whole, without the field, on a connection that serves on', T, async () => {
  const before = (await settledUpstream()).failures;
  const r = await rawExchange(
    port(),
    'DELETE /no-content-304 HTTP/1.1\r\nHost: x\r\nIf-None-Match: "a"\r\n\r\nDELETE /no-content-204 HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    { responses: 3 },
  );
  assert.deepEqual(r.responses.map((x) => x.status), [304, 204, 200], r.raw.toString('latin1'));
  assert.equal(r.responses[0]!.headers['etag'], '"a"');
  for (const x of r.responses.slice(0, 2)) assert.equal(x.headers['content-length'], undefined, `${x.status} passed on with the origin's Content-Length`);
  assert.match(r.responses[0]!.headers['cache-status']!, /fwd=bypass; fwd-status=304/);
  assert.equal(r.responses[2]!.text, 'hello');
  // A client that checks Content-Length against the bytes (undici, Node's fetch) reads them too.
  for (let i = 0; i < 6; i++) {
    assert.equal((await fetchReply(`http://127.0.0.1:${port()}/no-content-304`, { 'if-none-match': '"a"' }, 'DELETE')).status, 304);
    assert.equal((await fetchReply(`http://127.0.0.1:${port()}/no-content-204`, {}, 'DELETE')).status, 204);
  }
  const lines = await h.logged((l) => l['msg'] === 'access' && typeof l['url'] === 'string' && l['url'].startsWith('/no-content-'), 14);
  assert.ok(lines.every((l) => l['aborted'] === undefined), JSON.stringify(lines.filter((l) => l['aborted'])));
  // Twelve more than maxFails (5): none of them is the upstream failing.
  const up = await settledUpstream();
  assert.equal(up.failures - before, 0, 'answers without content counted as upstream failures');
  assert.equal(up.state, 'healthy');
});

test('a 304 with Content-Length to Strata\'s own revalidation refreshes the entry and is no upstream failure', T, async () => {
  const first = await fetchReply(`http://127.0.0.1:${port()}/revalidated`);
  assert.equal(first.text, 'hello');
  await h.stored(1);
  const before = (await settledUpstream()).failures;
  h.clock.advance(2_000);
  const again = await fetchReply(`http://127.0.0.1:${port()}/revalidated`);
  assert.equal(again.status, 200);
  assert.equal(again.text, 'hello');
  assert.match(again.headers['cache-status']!, /fwd=stale; fwd-status=304/);
  assert.equal((await settledUpstream()).failures - before, 0, 'the revalidation 304 counted as an upstream failure');
  // The client's own conditional is answered by Strata's 304, without Content-Length either.
  const cond = await fetchReply(`http://127.0.0.1:${port()}/revalidated`, { 'if-none-match': '"a"' });
  assert.equal(cond.status, 304);
  assert.equal(cond.headers['content-length'], undefined);
});

test('an HTTP/2 client gets the passed-through 304 and 204, streams ended cleanly', T, async () => {
  const ca = await makeCa();
  const g = await startPoolHarness([{ handler: origin }], { tls: { certificates: [await makeLeaf(ca, 'no-content', ['localhost'])] }, logLevel: 'info' });
  const session = http2.connect(`https://127.0.0.1:${g.node.proxyAddress().port}`, { ca: ca.pem, servername: 'localhost' });
  try {
    for (const [path, headers, status] of [
      ['/no-content-304', { 'if-none-match': '"a"' }, 304],
      ['/no-content-204', {}, 204],
    ] as const) {
      const got = await new Promise<{ status: number; length: unknown; rst: number }>((resolve, reject) => {
        const req = session.request({ ':method': 'DELETE', ':path': path, ...headers });
        let head: http2.IncomingHttpHeaders = {};
        req.on('response', (hd) => (head = hd));
        req.on('error', reject);
        req.resume();
        req.on('close', () => resolve({ status: Number(head[':status']), length: head['content-length'], rst: req.rstCode }));
        req.end();
      });
      assert.deepEqual(got, { status, length: undefined, rst: http2.constants.NGHTTP2_NO_ERROR }, path);
    }
    const lines = await g.logged((l) => l['msg'] === 'access' && l['http'] === '2', 2);
    assert.ok(lines.every((l) => l['aborted'] === undefined), JSON.stringify(lines));
  } finally {
    session.close();
    await g.close();
  }
});
