// Expect: 100-continue (RFC 9110 §10.1.1): Strata asks for a body (100 Continue)
// only when it is about to read it, never when the answer is decided from the
// header fields alone — a Content-Length over limits.maxRequestBodyBytes, a
// cache hit — over raw HTTP/1.1 sockets and a node:http2 client over TLS.
// Node wrote 100 Continue before the handler ran, so the client sent a body
// Strata then refused. And an HTTP/1.1 refusal that closes the connection while
// the client is still sending lingers (half-closed, the rest read and dropped)
// so the client reads its answer: closed at once, the unread input made the
// kernel reset the connection, which could wipe the answer.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { startHarness, type Harness } from '../fixtures/harness.js';
import { makeCa, makeLeaf, type TestCa } from '../fixtures/tls.js';

const T = { timeout: 30_000 };
const MAX_BODY = 4096;

let ca: TestCa;
let plain: Harness;
let secure: Harness;

before(async () => {
  ca = await makeCa();
  const site = await makeLeaf(ca, 'expect', ['localhost']);
  const origin = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, body: Buffer) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60', 'content-length': '3' });
      res.end('hit');
      return;
    }
    const text = `got ${body.length}`;
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store', 'content-length': String(text.length) });
    res.end(text);
  };
  const limits = { maxRequestBodyBytes: MAX_BODY };
  plain = await startHarness(origin, { limits });
  secure = await startHarness(origin, { tls: { certificates: [site] }, limits });
});

after(async () => {
  await plain.close();
  await secure.close();
});

/** A raw HTTP/1.1 connection to the plain listener: what it received, and when each part came. */
async function rawClient(): Promise<{ socket: net.Socket; received: () => string; until: (re: RegExp, what: string) => Promise<string>; closed: Promise<void> }> {
  const socket = net.connect(plain.node.proxyAddress().port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  let text = '';
  let waiters: (() => void)[] = [];
  socket.on('data', (c: Buffer) => {
    text += c.toString('latin1');
    for (const w of waiters) w();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const until = (re: RegExp, what: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (re.test(text)) {
          clearTimeout(timer);
          waiters = waiters.filter((w) => w !== check);
          resolve(text);
        }
      };
      const timer = setTimeout(() => reject(new Error(`no ${what} within 5 s; received ${JSON.stringify(text.slice(0, 300))}`)), 5_000);
      waiters.push(check);
      check();
      void closed.then(() => {
        if (!re.test(text)) {
          clearTimeout(timer);
          reject(new Error(`connection closed before ${what}; received ${JSON.stringify(text.slice(0, 300))}`));
        }
      });
    });
  return { socket, received: () => text, until, closed };
}

test('HTTP/1.1: a Content-Length over the limit with Expect: 100-continue gets 413 and no 100 Continue', T, async () => {
  const c = await rawClient();
  c.socket.write(`POST /expect-413 HTTP/1.1\r\nhost: localhost\r\ncontent-length: ${10 * MAX_BODY}\r\nexpect: 100-continue\r\n\r\n`);
  const text = await c.until(/\r\n\r\n413 PAYLOAD_TOO_LARGE[^\n]*\n/, 'complete 413');
  assert.match(text, /^HTTP\/1\.1 413 /, `the body was asked for: ${JSON.stringify(text.slice(0, 40))}`);
  assert.doesNotMatch(text, /100 Continue/);
  await c.closed;
  assert.equal(plain.origin.count('/expect-413'), 0);
});

test('HTTP/1.1: a cache hit for a GET with Expect: 100-continue is answered without asking for the body', T, async () => {
  const first = await rawClient();
  first.socket.write('GET /expect-hit HTTP/1.1\r\nhost: localhost\r\n\r\n');
  assert.match(await first.until(/\r\n\r\nhit$/, 'miss'), /fwd=uri-miss/);
  first.socket.destroy();
  await plain.stored(1);
  const c = await rawClient();
  c.socket.write('GET /expect-hit HTTP/1.1\r\nhost: localhost\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n');
  const text = await c.until(/\r\n\r\nhit$/, 'hit');
  assert.match(text, /^HTTP\/1\.1 200 /, `the body was asked for: ${JSON.stringify(text.slice(0, 40))}`);
  assert.match(text, /cache-status: test-node; hit/i);
  c.socket.destroy();
  assert.equal(plain.origin.count('/expect-hit'), 1);
});

test('HTTP/1.1: a request with Expect and no content keeps its keep-alive connection (100 at once: nothing to wait for)', T, async () => {
  const first = await rawClient();
  first.socket.write('GET /expect-bodiless HTTP/1.1\r\nhost: localhost\r\n\r\n');
  await first.until(/\r\n\r\nhit$/, 'miss');
  first.socket.destroy();
  await plain.stored(2);
  const c = await rawClient();
  // Two on one connection: a GET with Expect and no framing, then one with Content-Length: 0.
  c.socket.write('GET /expect-bodiless HTTP/1.1\r\nhost: localhost\r\nexpect: 100-continue\r\n\r\n');
  c.socket.write('GET /expect-bodiless HTTP/1.1\r\nhost: localhost\r\ncontent-length: 0\r\nexpect: 100-continue\r\n\r\n');
  const text = await c.until(/(\r\n\r\nhit[^]*){2}$/, 'both answers');
  assert.equal((text.match(/HTTP\/1\.1 200 /g) ?? []).length, 2);
  assert.doesNotMatch(text, /connection: close/i);
  c.socket.destroy();
});

test('HTTP/1.1: a body Strata reads is asked for with 100 Continue, then forwarded', T, async () => {
  const c = await rawClient();
  c.socket.write('POST /expect-pass HTTP/1.1\r\nhost: localhost\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n');
  await c.until(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '100 Continue');
  c.socket.write('hello');
  const text = await c.until(/got 5$/, 'answer');
  assert.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  c.socket.destroy();
  assert.equal(plain.origin.count('/expect-pass'), 1);
});

for (const framing of ['content-length', 'chunked'] as const) {
  test(`HTTP/1.1: a 413 refusal lingers while the client sends its body (${framing}), so the whole answer is read`, T, async () => {
    // Sends the whole body before reading anything (as a client that does not wait
    // for 100 Continue): every byte must be taken, and the answer still be there.
    // By Content-Length the refusal comes before a byte is read; chunked, mid-body.
    const path = `/linger-${framing}`;
    const socket = net.connect(plain.node.proxyAddress().port, '127.0.0.1');
    const errors: string[] = [];
    socket.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.pause();
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const total = 4 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const framed = framing === 'chunked' ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk;
    socket.write(`POST ${path} HTTP/1.1\r\nhost: localhost\r\n${framing === 'chunked' ? 'transfer-encoding: chunked' : `content-length: ${total}`}\r\n\r\n`);
    for (let sent = 0; sent < total && !socket.destroyed; sent += chunk.length) {
      if (!socket.write(framed)) await new Promise<void>((resolve) => (socket.once('drain', resolve), socket.once('close', resolve)));
    }
    if (framing === 'chunked') socket.write('0\r\n\r\n');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.resume();
    await closed;
    const text = Buffer.concat(chunks).toString('latin1');
    assert.match(text, /^HTTP\/1\.1 413 [^]*\r\n\r\n413 PAYLOAD_TOO_LARGE[^\n]*\n$/, `answer lost (errors: ${errors.join(', ')}): ${JSON.stringify(text.slice(0, 60))}`);
    assert.deepEqual(errors, []);
    assert.equal(plain.origin.count(path), 0);
  });
}

test('HTTP/2: a Content-Length over the limit with Expect: 100-continue gets 413 and no 100 Continue; a body read is asked for', T, async () => {
  const s = http2.connect(`https://localhost:${secure.node.proxyAddress().port}`, { ca: ca.pem, servername: 'localhost' });
  s.on('error', () => {});
  try {
    const ask = (path: string, length: number, body: string | undefined) =>
      new Promise<{ status: number; text: string; continued: boolean }>((resolve, reject) => {
        const req = s.request({ ':method': 'POST', ':path': path, 'content-length': String(length), expect: '100-continue' });
        let continued = false;
        let status = 0;
        const chunks: Buffer[] = [];
        req.on('continue', () => {
          continued = true;
          if (body !== undefined) req.end(body);
        });
        req.on('response', (hd) => (status = Number(hd[':status'])));
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => resolve({ status, text: Buffer.concat(chunks).toString(), continued }));
        req.on('error', reject);
      });
    const refused = await ask('/h2-expect-413', 10 * MAX_BODY, undefined);
    assert.equal(refused.status, 413);
    assert.equal(refused.continued, false, 'HTTP/2: 100 Continue sent before a refusal decided from the header fields');
    const passed = await ask('/h2-expect-pass', 5, 'hello');
    assert.deepEqual(passed, { status: 200, text: 'got 5', continued: true });
    assert.equal(secure.origin.count('/h2-expect-413'), 0);
  } finally {
    s.close();
  }
});

test('HTTP/2: a cache hit for a GET with Expect: 100-continue whose body never ends is answered and its stream closed', T, async () => {
  const path = '/h2-expect-hit';
  const s = http2.connect(`https://localhost:${secure.node.proxyAddress().port}`, { ca: ca.pem, servername: 'localhost' });
  s.on('error', () => {});
  try {
    const warm = s.request({ ':path': path });
    warm.resume();
    await new Promise<void>((resolve, reject) => warm.on('end', resolve).on('error', reject));
    await secure.stored(1);
    const req = s.request({ ':method': 'GET', ':path': path, 'content-length': '1000', expect: '100-continue' }, { endStream: false });
    req.on('error', () => {});
    let continued = false;
    req.on('continue', () => {
      continued = true;
      req.write('x'); // and never the rest
    });
    let status = 0;
    let cacheStatus = '';
    const chunks: Buffer[] = [];
    req.on('response', (hd) => {
      status = Number(hd[':status']);
      cacheStatus = String(hd['cache-status'] ?? '');
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    await new Promise<void>((resolve) => req.once('close', () => resolve()));
    assert.equal(status, 200);
    assert.equal(Buffer.concat(chunks).toString(), 'hit');
    assert.match(cacheStatus, /test-node; hit/);
    assert.equal(continued, false, 'the body of a GET answered from cache was asked for');
    assert.equal(secure.origin.count(path), 1);
  } finally {
    s.close();
  }
});
