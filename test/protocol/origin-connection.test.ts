// Issue 14 #7 and #14, against raw TCP origins: bytes an origin sends after a
// complete response on a kept-alive connection never become a stored answer, and
// interim responses (103 Early Hints, 102 Processing) reach the client before the
// final response, which alone is stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode, type StrataNode } from '../../src/node.js';
import { FakeClock } from '../../src/util/clock.js';
import { fetchReply, testConfig, until } from '../fixtures/harness.js';

const T = { timeout: 20_000 };

interface RawOrigin {
  /** Requests seen, as "METHOD path". */
  seen: string[];
  /** Connections closed by the other side so far. */
  closedConnections: number;
}

/** A node (one origin connection) in front of a raw TCP origin; `onRequest` writes on the socket itself. */
async function rawOriginNode(onRequest: (sock: net.Socket, path: string, n: number, method: string) => void) {
  const state: RawOrigin = { seen: [], closedConnections: 0 };
  const origin = net.createServer((sock) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const [method = '', path = ''] = head.split(' ');
        state.seen.push(`${method} ${path}`);
        onRequest(sock, path, state.seen.length, method);
      }
    });
    sock.on('close', () => state.closedConnections++);
    sock.on('error', () => {});
  });
  origin.listen(0, '127.0.0.1');
  await once(origin, 'listening');
  const port = (origin.address() as net.AddressInfo).port;
  const cacheDir = await mkdtemp(join(tmpdir(), 'strata-test-'));
  const config = testConfig(`http://127.0.0.1:${port}`, cacheDir, { origin: { maxConnections: 1 } } as never);
  config.origin.upstreams[0]!.maxConnections = 1;
  const node: StrataNode = createNode(config, { clock: new FakeClock(Date.now()) });
  await node.start();
  const proxyPort = node.proxyAddress().port;
  return {
    state,
    node,
    proxyPort,
    base: `http://127.0.0.1:${proxyPort}`,
    async close() {
      await node.stop();
      origin.close();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}

const ok = (body: string, extra = 'cache-control: max-age=60\r\n') => `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;

test('a late second response, taken for the next request on the kept-alive connection, is not kept in the cache (issue 14 #7)', T, async () => {
  // The origin answers /a, and when the request for /bbb arrives on the same connection it first
  // sends bytes nobody asked for (a late response to /a), then the real answer to /bbb.
  const n = await rawOriginNode((sock, path, i) => {
    if (i === 2) {
      sock.write(ok('EVIL!'));
      setTimeout(() => sock.write(ok(path)), 30);
    } else {
      sock.write(ok(path));
    }
  });
  try {
    assert.equal((await fetchReply(n.base + '/a')).text, '/a');
    // HTTP/1.1 cannot tell the late bytes from the answer: this client gets them (undici
    // and any other client would), and that is all they may reach.
    const first = await fetchReply(n.base + '/bbb');
    assert.equal(first.text, 'EVIL!');
    // The real answer to /bbb then arrives with no request waiting: undici drops the
    // connection, and the response stored from it is removed.
    await until(() => n.node.stats.counters.distrusted >= 1, 'the stored response distrusted');
    await until(() => n.state.closedConnections >= 1, 'the origin connection closed');
    const again = await fetchReply(n.base + '/bbb');
    assert.equal(again.text, '/bbb');
    assert.doesNotMatch(again.headers['cache-status']!, /; hit/);
    assert.equal(n.state.seen.filter((s) => s === 'GET /bbb').length, 2);
  } finally {
    await n.close();
  }
});

test('bytes an origin sends on an idle kept-alive connection close it; the next request gets its own answer (issue 14 #7)', T, async () => {
  // Wait for the connection that carried the stray bytes, not for any connection: on a slow
  // machine another one may close first, and a late timer then lands the bytes on /c's request.
  let strayWritten = false;
  let strayConnection: net.Socket | undefined;
  const n = await rawOriginNode((sock, path, i) => {
    sock.write(ok(path));
    if (i === 1) {
      strayConnection = sock;
      setTimeout(() => sock.write(ok('EVIL!'), () => { strayWritten = true; }), 40);
    }
  });
  try {
    assert.equal((await fetchReply(n.base + '/a')).text, '/a');
    await until(() => strayWritten, 'the stray bytes written');
    await until(() => strayConnection!.destroyed, 'the connection that carried them closed');
    const c = await fetchReply(n.base + '/c');
    assert.equal(c.text, '/c');
    assert.equal((await fetchReply(n.base + '/c')).text, '/c');
  } finally {
    await n.close();
  }
});

/** Send `request` on a raw connection and collect bytes until `done(text)` holds. */
async function rawRead(port: number, request: string, done: (text: string) => boolean): Promise<string> {
  const sock = net.connect({ host: '127.0.0.1', port });
  sock.write(request);
  let text = '';
  const deadline = setTimeout(() => sock.destroy(new Error(`no complete answer in time; got ${JSON.stringify(text)}`)), 5_000);
  try {
    for await (const chunk of sock as AsyncIterable<Buffer>) {
      text += chunk.toString('latin1');
      if (done(text)) break;
    }
  } finally {
    clearTimeout(deadline);
    sock.destroy();
  }
  return text;
}

const HINTS = 'HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\nconnection: x-hop\r\nx-hop: 1\r\n\r\n';

test('103 Early Hints from the origin reach the client before the final response; only the final one is stored (issue 14 #14)', T, async () => {
  const n = await rawOriginNode((sock, path) => {
    sock.write('HTTP/1.1 102 Processing\r\n\r\n' + HINTS);
    // The final answer comes later: the hints must not wait for it.
    setTimeout(() => sock.write(ok(`final ${path}`)), 50);
  });
  try {
    const text = await rawRead(n.proxyPort, 'GET /page HTTP/1.1\r\nHost: site.example\r\n\r\n', (t) => t.endsWith('final /page'));
    const hints = text.indexOf('HTTP/1.1 103 Early Hints\r\n');
    const final = text.indexOf('HTTP/1.1 200 OK\r\n');
    assert.ok(hints !== -1, `no 103 in ${JSON.stringify(text)}`);
    assert.ok(hints < final, '103 before the final response');
    assert.match(text.slice(hints, final), /link: <\/a\.css>; rel=preload\r\n/i);
    assert.doesNotMatch(text.slice(hints, final), /x-hop/i, 'hop-by-hop fields of the 103 are not passed on');
    // The stored answer is the final one, without the interim fields.
    await until(() => n.node.stats.counters.stored >= 1, "the final response stored");
    const again = await fetchReply(n.base + '/page', { host: 'site.example' });
    assert.equal(again.text, 'final /page');
    assert.match(again.headers['cache-status']!, /; hit/);
    assert.equal(again.headers['link'], undefined);
    // Passed-through requests get them too.
    const post = await rawRead(n.proxyPort, 'POST /form HTTP/1.1\r\nHost: site.example\r\ncontent-length: 2\r\n\r\nhi', (t) => t.endsWith('final /form'));
    assert.ok(post.indexOf('HTTP/1.1 103 Early Hints\r\n') !== -1 && post.indexOf('HTTP/1.1 103') < post.indexOf('HTTP/1.1 200'));
    // Never to an HTTP/1.0 client (RFC 9110 §15.2).
    const old = await rawRead(n.proxyPort, 'GET /old HTTP/1.0\r\nHost: site.example\r\n\r\n', (t) => t.endsWith('final /old'));
    assert.match(old, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(old, / 10[23] /);
  } finally {
    await n.close();
  }
});

test('a 103 field the origin sends that would break the client head (repeated Set-Cookie: joined with LF) is dropped; Link passes', T, async () => {
  const n = await rawOriginNode((sock, path) => {
    sock.write('HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\nset-cookie: a=1\r\nset-cookie: b=2\r\nx-fine: yes\r\n\r\n');
    setTimeout(() => sock.write(ok(`final ${path}`)), 20);
  });
  try {
    const text = await rawRead(n.proxyPort, 'GET /bad-hints HTTP/1.1\r\nHost: site.example\r\n\r\n', (t) => t.endsWith('final /bad-hints'));
    const hints = text.indexOf('HTTP/1.1 103 Early Hints\r\n');
    const final = text.indexOf('HTTP/1.1 200 OK\r\n');
    assert.ok(hints !== -1 && hints < final, `no 103 before the final response in ${JSON.stringify(text)}`);
    const head = text.slice(hints, final);
    assert.match(head, /link: <\/a\.css>; rel=preload\r\n/i);
    assert.match(head, /x-fine: yes\r\n/);
    assert.doesNotMatch(head, /set-cookie|b=2/i, 'the joined Set-Cookie value is not written');
    assert.doesNotMatch(head.replaceAll('\r\n', ''), /[\r\n]/, 'no bare CR or LF inside the 103 head');
  } finally {
    await n.close();
  }
});
