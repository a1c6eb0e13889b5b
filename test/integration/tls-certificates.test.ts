// TLS certificates of the proxy listener: chosen by SNI, replaced on disk without a
// restart (by the file check and by reloadCertificates()), a bad replacement
// refused with the old one kept, a bad pair refusing start-up; the plain-HTTP
// redirect listener; connection limits and timeouts over TLS and HTTP/2.
// Real handshakes (node:tls, node:http2, openssl s_client); certificates made for
// this run by a test CA.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { StrataError } from '../../src/errors.js';
import { fixed, startHarness, until, type Harness } from '../fixtures/harness.js';
import { fingerprintOf, handshake, makeCa, makeIntermediate, makeLeaf, type LeafFiles, type TestCa } from '../fixtures/tls.js';

const run = promisify(execFile);
const T = { timeout: 30_000 };
const ORIGIN = fixed('ok', { 'cache-control': 'max-age=60' });

let ca: TestCa;
let siteA: LeafFiles;
let siteB: LeafFiles;

before(async () => {
  ca = await makeCa();
  siteA = await makeLeaf(ca, 'a', ['a.test', 'localhost']);
  siteB = await makeLeaf(ca, 'b', ['b.test', '*.b.test']);
});

async function withNode(overrides: Parameters<typeof startHarness>[1], body: (h: Harness, port: number) => Promise<void>): Promise<void> {
  const h = await startHarness(ORIGIN, { logLevel: 'info', ...overrides });
  try {
    await body(h, h.node.proxyAddress().port);
  } finally {
    await h.close();
  }
}

test('SNI picks the certificate whose names match (exact, then wildcard); no or unknown SNI gets the first', T, async () => {
  await withNode({ tls: { certificates: [siteA, siteB] } }, async (_h, port) => {
    const [a, b] = [await fingerprintOf(siteA.cert), await fingerprintOf(siteB.cert)];
    assert.equal((await handshake(port, ca.pem, 'a.test')).fingerprint, a);
    assert.equal((await handshake(port, ca.pem, 'b.test')).fingerprint, b);
    assert.equal((await handshake(port, ca.pem, 'www.b.test')).fingerprint, b);
    assert.equal((await handshake(port, ca.pem, 'other.test')).fingerprint, a);
    assert.equal((await handshake(port, ca.pem, undefined)).fingerprint, a);
    // ALPN is offered whichever certificate SNI chose.
    assert.equal((await handshake(port, ca.pem, 'www.b.test')).alpn, 'h2');
    assert.equal((await handshake(port, ca.pem, 'b.test', ['http/1.1'])).alpn, 'http/1.1');
    // openssl s_client, a client other than Node's.
    const sClient = run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'www.b.test', '-CAfile', ca.certFile, '-alpn', 'h2', '-verify_return_error'], { timeout: 10_000 });
    // End of input: s_client closes once the handshake is done.
    sClient.child.stdin?.end();
    const out = await sClient.then(
      (r) => r.stdout,
      (err: { stdout?: string }) => err.stdout ?? '',
    );
    assert.match(out, /Verify return code: 0 \(ok\)/);
    assert.match(out, /ALPN protocol: h2/);
    assert.match(out, /subject=CN ?= ?b\.test/);
  });
});

test('tls.http2 off: ALPN offers http/1.1 only', T, async () => {
  await withNode({ tls: { certificates: [siteA], http2: false } }, async (_h, port) => {
    assert.equal((await handshake(port, ca.pem, 'a.test')).alpn, 'http/1.1');
  });
});

test('a certificate replaced on disk is served to new connections, found by the periodic file check', T, async () => {
  const files = await makeLeaf(ca, 'watched', ['w.test']);
  await withNode({ tls: { certificates: [files], certCheckIntervalMs: 50 } }, async (h, port) => {
    const before = await fingerprintOf(files.cert);
    assert.equal((await handshake(port, ca.pem, 'w.test')).fingerprint, before);
    await makeLeaf(ca, 'watched', ['w.test']);
    const after = await fingerprintOf(files.cert);
    assert.notEqual(after, before);
    await h.logged((l) => l['msg'] === 'TLS certificate reloaded: new connections get it' && l['cert'] === files.cert);
    assert.equal((await handshake(port, ca.pem, 'w.test')).fingerprint, after);
  });
});

test('reloadCertificates(): a valid new pair is taken; a key that does not match is refused, logged, and the old pair keeps serving', T, async () => {
  const files = await makeLeaf(ca, 'reloaded', ['r.test']);
  await withNode({ tls: { certificates: [files] } }, async (h, port) => {
    const first = await fingerprintOf(files.cert);
    await makeLeaf(ca, 'reloaded', ['r.test']);
    const second = await fingerprintOf(files.cert);
    assert.deepEqual(await h.node.reloadCertificates(), { reloaded: [files.cert], refused: [] });
    assert.equal((await handshake(port, ca.pem, 'r.test')).fingerprint, second);
    assert.notEqual(first, second);

    // A key from another pair: the certificate and key no longer match.
    await copyFile(siteB.key, files.key);
    const report = await h.node.reloadCertificates();
    assert.deepEqual(report.reloaded, []);
    assert.equal(report.refused.length, 1);
    assert.match(report.refused[0]!.reason, /does not go with/);
    await h.logged((l) => l['msg'] === 'TLS certificate change refused: the previous certificate keeps serving' && l['level'] === 40);
    assert.equal((await handshake(port, ca.pem, 'r.test')).fingerprint, second);
    // Requests still work on the kept certificate.
    const res = await new Promise<number>((resolve, reject) => {
      const s = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.pem, servername: 'r.test' });
      s.on('error', reject);
      const r = s.request({ ':path': '/kept' });
      r.on('response', (hd) => {
        resolve(Number(hd[':status']));
        s.close();
      });
      r.resume();
      r.end();
    });
    assert.equal(res, 200);
  });
});

test("the node's reload (SIGHUP, POST /reload) re-reads the certificate files", T, async () => {
  const files = await makeLeaf(ca, 'node-reload', ['n.test']);
  await withNode({ tls: { certificates: [files] } }, async (h, port) => {
    await makeLeaf(ca, 'node-reload', ['n.test']);
    const renewed = await fingerprintOf(files.cert);
    assert.notEqual((await handshake(port, ca.pem, 'n.test')).fingerprint, renewed);
    const changes = await h.node.reload(h.config);
    assert.deepEqual(changes.restartRequired, []);
    assert.equal((await handshake(port, ca.pem, 'n.test')).fingerprint, renewed);
  });
});

test('a reload takes a certificate file whose leaf and key stay but whose chain changes (leaf only → leaf + intermediate)', T, async () => {
  const intermediate = await makeIntermediate(ca, 'chain-int');
  const files = await makeLeaf(intermediate, 'chained', ['c.test']);
  const leafOnly = await readFile(files.cert, 'utf8');
  await withNode({ tls: { certificates: [files] } }, async (h, port) => {
    // Without the intermediate, a client trusting only the root cannot build the chain.
    assert.deepEqual(await verified(port, 'c.test'), { authorized: false, error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    // The deploy tool completes the file: same leaf, same key, the intermediate appended.
    const tmp = `${files.cert}.tmp`;
    await writeFile(tmp, leafOnly + intermediate.pem);
    await rename(tmp, files.cert);
    assert.deepEqual(await h.node.reloadCertificates(), { reloaded: [files.cert], refused: [] });
    assert.deepEqual(await verified(port, 'c.test'), { authorized: true, error: null });
  });
});

/** Whether a client trusting only the test root accepts the chain the node presents for `servername`. */
function verified(port: number, servername: string): Promise<{ authorized: boolean; error: string | null }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: ca.pem, servername, rejectUnauthorized: false }, () => {
      const out = { authorized: socket.authorized, error: socket.authorizationError ? String(socket.authorizationError) : null };
      socket.end();
      resolve(out);
    });
    socket.once('error', reject);
  });
}

test('start-up is refused when a certificate file is not a certificate', T, async () => {
  const bogus = { cert: siteA.key, key: siteA.key };
  await assert.rejects(startHarness(ORIGIN, { tls: { certificates: [bogus] } }), (err: unknown) => {
    assert.ok(err instanceof StrataError);
    assert.equal(err.code, 'TLS_CERTIFICATE_INVALID');
    assert.match(err.message, /is not a PEM certificate/);
    return true;
  });
});

function plainGet(port: number, path: string, host: string | undefined): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: host === undefined ? {} : { host } }, (res) => {
      res.resume();
      resolve({ status: res.statusCode!, location: res.headers.location });
    });
    req.on('error', reject);
    req.end('body');
  });
}

test('the redirect listener answers 308 to the same path and query over HTTPS on the TLS port', T, async () => {
  await withNode({ tls: { certificates: [siteA], redirectListen: { host: '127.0.0.1', port: 0 } } }, async (h, port) => {
    const rport = h.node.redirectAddress()!.port;
    assert.deepEqual(await plainGet(rport, '/a/b?c=1', 'Example.test:8080'), { status: 308, location: `https://example.test:${port}/a/b?c=1` });
    assert.deepEqual(await plainGet(rport, '/x/../y', '[::1]:80'), { status: 308, location: `https://[::1]:${port}/y` });
    assert.equal((await plainGet(rport, '/x', 'bad host!')).status, 400);
    // A malformed Host never makes a broken Location (it once gave "https://:PORT/x").
    for (const host of ['[::1', 'a.test:80:90', '[::1]junk', ':80']) assert.deepEqual(await plainGet(rport, '/x', host), { status: 400, location: undefined }, host);
    assert.equal(h.origin.count(), 0);
    // A reload's limits reach the redirect listener too.
    const long = `/${'p'.repeat(300)}`;
    assert.equal((await plainGet(rport, long, 'site.test')).status, 308);
    await h.node.reload({ ...h.config, limits: { ...h.config.limits, maxUrlBytes: 100 } });
    assert.equal((await plainGet(rport, long, 'site.test')).status, 414);
  });
  await withNode({ tls: { certificates: [siteA], redirectListen: { host: '127.0.0.1', port: 0 }, redirectPort: 443 } }, async (h) => {
    assert.deepEqual(await plainGet(h.node.redirectAddress()!.port, '/p', 'site.test'), { status: 308, location: 'https://site.test/p' });
  });
});

test('over TLS, the per-address connection cap counts HTTP/1.1 and HTTP/2 connections alike', T, async () => {
  await withNode({ tls: { certificates: [siteA] }, limits: { maxConnectionsPerClient: 1 } }, async (h, port) => {
    const first = tls.connect({ host: '127.0.0.1', port, ca: ca.pem, servername: 'a.test', ALPNProtocols: ['h2'] });
    await new Promise<void>((resolve, reject) => first.once('secureConnect', resolve).once('error', reject));
    await assert.rejects(handshake(port, ca.pem, 'a.test', ['http/1.1']));
    await h.logged((l) => l['code'] === 'TOO_MANY_CONNECTIONS');
    first.destroy();
    await until(() => h.node.stats.counters.badRequests >= 1, 'the refusal counted');
  });
});

test('a TCP connection that never starts its handshake, an HTTP/2 connection that opens no stream: closed after the header timeout; HTTPS/1.1 slow headers get 408', T, async () => {
  await withNode({ tls: { certificates: [siteA] }, limits: { requestHeadersTimeoutMs: 300 } }, async (_h, port) => {
    const silent = net.connect({ host: '127.0.0.1', port });
    silent.on('error', () => {});
    const silentStart = Date.now();
    await new Promise<void>((resolve) => silent.once('close', () => resolve()));
    assert.ok(Date.now() - silentStart >= 250, 'closed before the timeout');

    const started = Date.now();
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.pem, servername: 'a.test' });
    session.on('error', () => {});
    await new Promise<void>((resolve) => session.once('close', () => resolve()));
    const waited = Date.now() - started;
    assert.ok(waited >= 250 && waited < 5_000, `closed after ${waited} ms`);

    const s = tls.connect({ host: '127.0.0.1', port, ca: ca.pem, servername: 'a.test', ALPNProtocols: ['http/1.1'] });
    await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject));
    s.write('GET / HTTP/1.1\r\nHost: a.test\r\n');
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString()));
    await new Promise<void>((resolve) => s.once('close', () => resolve()));
    assert.match(text, /^HTTP\/1\.1 408 /);

    // A later request on a kept-alive connection: node:http's own header timeout, whose checks the TLS front starts.
    const k = tls.connect({ host: '127.0.0.1', port, ca: ca.pem, servername: 'a.test', ALPNProtocols: ['http/1.1'] });
    await new Promise<void>((resolve, reject) => k.once('secureConnect', resolve).once('error', reject));
    let replies = '';
    k.on('data', (c: Buffer) => (replies += c.toString()));
    k.write('GET /first HTTP/1.1\r\nHost: a.test\r\n\r\n');
    await until(() => replies.includes('\r\n\r\nok'), 'the first answer');
    k.write('GET /second HTTP/1.1\r\nHost: a.test\r\n');
    await new Promise<void>((resolve) => k.once('close', () => resolve()));
    assert.match(replies, /HTTP\/1\.1 408 /);
  });
});


test('stop(): an HTTP/2 request in flight finishes, idle HTTPS/1.1 and HTTP/2 connections are let go, and stop does not wait for the grace', T, async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const h = await startHarness(
    (req, res) => {
      if (req.url === '/slow') void held.then(() => res.end('late'));
      else res.end('ok');
    },
    { tls: { certificates: [siteA] }, limits: { shutdownGraceMs: 10_000 } },
  );
  const port = h.node.proxyAddress().port;
  const busy = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.pem, servername: 'a.test' });
  const idle = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.pem, servername: 'a.test' });
  for (const s of [busy, idle]) s.on('error', () => {});
  const idleH1 = tls.connect({ host: '127.0.0.1', port, ca: ca.pem, servername: 'a.test', ALPNProtocols: ['http/1.1'] });
  idleH1.on('error', () => {});
  const idleH1Closed = new Promise<void>((resolve) => idleH1.once('close', () => resolve()));
  await new Promise<void>((resolve) => idleH1.once('secureConnect', () => resolve()));
  idleH1.write('GET /ok HTTP/1.1\r\nHost: a.test\r\n\r\n');
  await new Promise<void>((resolve) => idleH1.once('data', () => resolve()));
  await new Promise<void>((resolve) => {
    const r = idle.request({ ':path': '/ok' });
    r.resume();
    r.on('close', () => resolve());
    r.end();
  });
  const slow = busy.request({ ':path': '/slow' });
  let text = '';
  slow.setEncoding('utf8').on('data', (d: string) => (text += d));
  const slowDone = new Promise<void>((resolve) => slow.on('close', () => resolve()));
  slow.end();
  await until(() => h.origin.count('/slow') === 1, 'the slow request at the origin');
  const started = Date.now();
  const stopped = h.close();
  await idleH1Closed;
  release();
  await slowDone;
  await stopped;
  assert.equal(text, 'late');
  assert.ok(Date.now() - started < 5_000, `stop took ${Date.now() - started} ms`);
  busy.close();
  idle.close();
});
