// TLS termination and HTTP/2 on the proxy listener, with real TLS clients: undici
// (HTTP/1.1, and HTTP/2 through ALPN) trusting a test CA made for this run, curl
// --http2 / --http1.1, node:tls and node:http2 handshakes. The same cache cases
// (miss, hit, 304, range, HEAD) must behave identically on both protocols.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import { promisify } from 'node:util';
import type { Agent } from 'undici';
import { fetchReply, startHarness, type Harness, type Reply } from '../fixtures/harness.js';
import { makeCa, makeLeaf, tlsAgents, type TestCa } from '../fixtures/tls.js';

const run = promisify(execFile);
const T = { timeout: 30_000 };

let ca: TestCa;
let h: Harness;
let h1: Agent;
let h2: Agent;
const body = 'hello over tls\n'.repeat(10);

function call(agent: Agent, path: string, headers: Record<string, string> = {}, method = 'GET', reqBody?: string): Promise<Reply> {
  return fetchReply(`https://127.0.0.1:${h.node.proxyAddress().port}${path}`, headers, method, reqBody, agent);
}

before(async () => {
  ca = await makeCa();
  const site = await makeLeaf(ca, 'site', ['localhost', 'site.test']);
  h = await startHarness(
    (req, res, reqBody) => {
      if (req.method === 'POST') {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-proto-seen': String(req.headers['x-forwarded-proto']), 'x-for-seen': String(req.headers['x-forwarded-for']), 'x-pseudo': Object.keys(req.headers).filter((n) => n.startsWith(':')).join(',') || 'none' });
        res.end(`got ${reqBody.length} bytes`);
        return;
      }
      // Connection-specific fields from the origin must never reach an HTTP/2 client.
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60', etag: '"v1"', 'keep-alive': 'timeout=5', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    },
    { tls: { certificates: [site] }, logLevel: 'info' },
  );
  ({ h1, h2 } = tlsAgents(ca));
});

after(async () => {
  await h1.close();
  await h2.close();
  await h.close();
});

describe('the same cache behaviour over HTTPS/1.1 and HTTP/2', () => {
  test('miss, hit, 304, range and HEAD answer alike on both protocols, one origin fetch each', T, async () => {
    const seen: Record<string, unknown[]> = {};
    for (const [proto, agent] of [['h1', h1], ['h2', h2]] as const) {
      const path = `/parity-${proto}`;
      const replies = [
        await call(agent, path),
        await call(agent, path),
        await call(agent, path, { 'if-none-match': '"v1"' }),
        await call(agent, path, { range: 'bytes=0-4' }),
        await call(agent, path, {}, 'HEAD'),
      ];
      seen[proto] = replies.map((r) => [r.status, r.text, r.headers['cache-status']?.replace(/ttl=\d+/, 'ttl'), r.headers['content-length'], r.headers['content-range']]);
      assert.deepEqual(replies.map((r) => r.status), [200, 200, 304, 206, 200], proto);
      assert.match(replies[0]!.headers['cache-status']!, /fwd=uri-miss/, proto);
      assert.match(replies[1]!.headers['cache-status']!, /; hit/, proto);
      assert.equal(replies[3]!.text, 'hello', proto);
      assert.equal(replies[4]!.text, '', proto);
      assert.equal(replies[4]!.headers['content-length'], String(Buffer.byteLength(body)), proto);
      assert.equal(h.origin.count(path), 1, proto);
      if (proto === 'h2') {
        for (const r of replies) for (const f of ['connection', 'keep-alive', 'transfer-encoding']) assert.equal(r.headers[f], undefined, `${f} sent on h2`);
      }
    }
    assert.deepEqual(seen['h2'], seen['h1']);
    // The access lines prove which protocol each client spoke.
    await h.logged((l) => l['msg'] === 'access' && l['url'] === '/parity-h2' && l['http'] === '2', 5);
    const h1Lines = await h.logged((l) => l['msg'] === 'access' && l['url'] === '/parity-h1', 5);
    assert.ok(h1Lines.every((l) => l['http'] === undefined));
  });

  test('over TLS, Host x:443 and x name one cache entry (the https default port)', T, async () => {
    const a = await call(h1, '/port443', { host: 'site.test:443' });
    const b = await call(h2, '/port443', { host: 'site.test' });
    assert.match(a.headers['cache-status']!, /fwd=uri-miss/);
    assert.match(b.headers['cache-status']!, /; hit/);
    assert.equal(h.origin.count('/port443'), 1);
  });

  test('a request body without Content-Length (HTTP/2 framing) is passed to the origin; pseudo-header fields are not', T, async () => {
    const r = await call(h2, '/echo', { 'content-type': 'text/plain' }, 'POST', 'x'.repeat(1000));
    assert.equal(r.status, 200);
    assert.equal(r.text, 'got 1000 bytes');
    assert.equal(r.headers['x-proto-seen'], 'https');
    assert.equal(r.headers['x-for-seen'], '127.0.0.1');
    assert.equal(r.headers['x-pseudo'], 'none');
  });

  test('curl --http2 and --http1.1 get the same stored answer', T, async () => {
    const port = h.node.proxyAddress().port;
    const curl = (flag: string) =>
      run('curl', ['-sS', flag, '--cacert', ca.certFile, '--resolve', `localhost:${port}:127.0.0.1`, '-D', '-', '-o', '/dev/null', '-w', 'version=%{http_version}', `https://localhost:${port}/curl`]);
    // Host (h1) and :authority (h2) name the same site: one cache key.
    const miss = (await curl('--http1.1')).stdout;
    const [a, b] = [(await curl('--http2')).stdout, (await curl('--http1.1')).stdout];
    assert.match(miss, /cache-status: test-node; fwd=uri-miss/i);
    assert.match(a, /version=2$/);
    assert.match(b, /version=1\.1$/);
    for (const out of [a, b]) assert.match(out, /cache-status: test-node; hit/i);
    assert.doesNotMatch(a, /^(connection|keep-alive|transfer-encoding):/im);
    assert.equal(h.origin.count('/curl'), 1);
  });

  test('an HTTP/2 request whose Host and :authority disagree is refused with 400', T, async () => {
    const port = h.node.proxyAddress().port;
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.pem, servername: 'localhost' });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ':path': '/x', ':authority': 'localhost', host: 'evil.example' });
        req.on('response', (hd) => resolve(Number(hd[':status'])));
        req.on('error', reject);
        req.resume();
        req.end();
      });
      assert.equal(status, 400);
    } finally {
      session.close();
    }
  });
});

test('an HTTP/2 client that cancels its stream mid-body releases the origin transfer (the stream counts as destroyed)', T, async () => {
  let originClosed!: () => void;
  const closed = new Promise<void>((resolve) => (originClosed = resolve));
  const chunk = Buffer.alloc(64 * 1024, 'z');
  const g = await startHarness(
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' });
      // Endless body, written as fast as the proxy takes it: only a release ends it.
      const pump = () => {
        while (res.write(chunk)) if (res.destroyed) return;
      };
      res.on('drain', pump);
      res.on('close', () => originClosed());
      pump();
    },
    { tls: { certificates: [await makeLeaf(ca, 'cancel', ['localhost'])] }, logLevel: 'info' },
  );
  try {
    const session = http2.connect(`https://127.0.0.1:${g.node.proxyAddress().port}`, { ca: ca.pem, servername: 'localhost' });
    session.on('error', () => {});
    const req = session.request({ ':path': '/endless' });
    await new Promise<void>((resolve) => req.once('data', () => resolve()));
    req.close(http2.constants.NGHTTP2_CANCEL);
    await closed;
    const [line] = await g.logged((l) => l['msg'] === 'access' && l['url'] === '/endless');
    assert.equal(line!['aborted'], true);
    assert.equal(line!['http'], '2');
    session.close();
  } finally {
    await g.close();
  }
});
