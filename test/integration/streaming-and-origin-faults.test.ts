// Invariant 1 (truncated bodies are never stored nor served as complete) and
// invariant 5 (nothing hangs): an origin that dies mid-body, a slow origin, an
// origin that is down, a client that goes away.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { request } from 'undici';
import { startHarness, fixed, until } from '../fixtures/harness.js';

test('an origin that dies mid-body: the client connection is cut, nothing is stored', async () => {
  let attempts = 0;
  const h = await startHarness((_req, res) => {
    attempts++;
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '100000' });
    res.write(Buffer.alloc(30000, 1));
    // Die without finishing the announced body.
    setImmediate(() => res.socket?.destroy());
  });
  try {
    await assert.rejects(async () => {
      const r = await request(h.base + '/trunc');
      await r.body.arrayBuffer();
    }, 'the client sees an error, not a clean short response');
    h.origin.setHandler(fixed('whole', { 'cache-control': 'max-age=600' }));
    const next = await h.get('/trunc');
    assert.equal(next.text, 'whole');
    assert.match(next.headers['cache-status']!, /fwd=uri-miss/, 'the truncated body was not stored');
    assert.equal(attempts, 1);
    await h.stored(1);
    assert.equal(h.node.stats.counters.stored, 1);
  } finally {
    await h.close();
  }
});

test('a chunked origin body cut mid-way is not stored either', async () => {
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600' });
    res.write('partial');
    setImmediate(() => res.socket?.destroy());
  });
  try {
    await assert.rejects(async () => {
      const r = await request(h.base + '/chunked');
      await r.body.arrayBuffer();
    });
    assert.equal(h.node.store().variants(`GET http://127.0.0.1:${h.node.proxyAddress().port}/chunked`).length, 0);
  } finally {
    await h.close();
  }
});

test('origin down → 502 naming the kind of failure, not the origin; the node keeps serving', async () => {
  const h = await startHarness(fixed('x', { 'cache-control': 'max-age=60' }), { logLevel: 'info' });
  try {
    await h.origin.close();
    const r = await h.get('/down');
    assert.equal(r.status, 502);
    assert.equal(r.text, '502 ORIGIN_UNREACHABLE: bad gateway: the origin could not be reached\n');
    assert.ok(!r.text.includes(`127.0.0.1:${h.origin.port}`) && !r.text.includes('ECONNREFUSED'), 'no internal address or cause reaches the client');
    assert.match(r.headers['cache-status']!, /fwd=uri-miss; detail=origin_unreachable/);
    // The operator still learns which upstream failed and why: the log line and the access line.
    await h.logged((l) => l['code'] === 'ORIGIN_UNREACHABLE' && l['upstream'] === h.origin.url && /ECONNREFUSED/.test(String(l['msg'])));
    await h.logged((l) => l['msg'] === 'access' && l['url'] === '/down' && l['status'] === 502 && l['upstream'] === h.origin.url);
  } finally {
    await h.node.stop();
  }
});

test('origin too slow to answer headers → 504', async () => {
  const h = await startHarness(() => {
    /* never answers */
  }, { origin: { headersTimeoutMs: 200 } });
  try {
    const r = await h.get('/slow');
    assert.equal(r.status, 504);
    assert.equal(r.text, '504 ORIGIN_TIMEOUT: gateway timeout: the origin did not answer in time\n');
    assert.ok(!r.text.includes(`127.0.0.1:${h.origin.port}`), 'no internal address reaches the client');
  } finally {
    await h.close();
  }
});

test('origin stalls mid-body past the body timeout → client cut, nothing stored', async () => {
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '10' });
    res.write('12345');
  }, { origin: { bodyTimeoutMs: 200 } });
  try {
    await assert.rejects(async () => {
      const r = await request(h.base + '/stall');
      await r.body.arrayBuffer();
    });
    assert.equal(h.node.stats.counters.stored, 0);
  } finally {
    await h.close();
  }
});

test('bodies stream: the client gets the first bytes before the origin finishes', async () => {
  let finish!: () => void;
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '10' });
    res.write('first');
    finish = () => res.end('-last');
  });
  try {
    const r = await request(h.base + '/stream');
    const it = r.body[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(Buffer.from(first.value as Buffer).toString(), 'first');
    finish();
    let rest = '';
    for (let n = await it.next(); !n.done; n = await it.next()) rest += Buffer.from(n.value as Buffer).toString();
    assert.equal(rest, '-last');
    await h.stored(1);
  } finally {
    await h.close();
  }
});

test('a client that disconnects during a cacheable miss: the fill completes and is stored', async () => {
  let finish!: () => void;
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '10' });
    res.write('01234');
    finish = () => res.end('56789');
  });
  try {
    const sock = net.connect(h.node.proxyAddress().port, '127.0.0.1');
    sock.write('GET /gone HTTP/1.1\r\nHost: h\r\n\r\n');
    await once(sock, 'data');
    sock.destroy();
    await until(() => finish !== undefined, 'the origin to start its answer');
    finish();
    await h.stored(1);
    const r = await h.get('/gone', { host: 'h' });
    assert.equal(r.text, '0123456789');
    assert.match(r.headers['cache-status']!, /; hit/);
    assert.equal(h.origin.count('/gone'), 1);
  } finally {
    await h.close();
  }
});

test('a client that disconnects from an uncacheable response stops the origin transfer', async () => {
  let originClosed!: () => void;
  const closed = new Promise<void>((r) => (originClosed = r));
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'cache-control': 'no-store' });
    const t = setInterval(() => res.write(Buffer.alloc(64 * 1024)), 5);
    res.on('close', () => {
      clearInterval(t);
      originClosed();
    });
  });
  try {
    const sock = net.connect(h.node.proxyAddress().port, '127.0.0.1');
    sock.write('GET /endless HTTP/1.1\r\nHost: h\r\n\r\n');
    await once(sock, 'data');
    sock.destroy();
    await closed; // resolves only if Strata aborted the origin request
  } finally {
    await h.close();
  }
});
