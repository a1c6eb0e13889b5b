// Proxying rules: what passes through, what is removed, what is added; RFC 9111
// §4.4 invalidation by unsafe methods.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startHarness, fixed } from '../fixtures/harness.js';

function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(request));
    let data = '';
    sock.on('data', (d) => (data += d.toString()));
    sock.on('end', () => resolve(data));
    sock.on('error', reject);
  });
}

function parseHead(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of raw.split('\r\n\r\n')[0]!.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    out[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return out;
}

test('end-to-end headers, method, path and query pass; hop-by-hop are removed; forwarding headers are added', async () => {
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'x-end': 'kept', connection: 'x-hop', 'x-hop': 'dropped', 'keep-alive': 'timeout=5', 'content-length': '2' });
    res.end('ok');
  });
  try {
    // Raw bytes: HTTP clients will not send an arbitrary Connection field.
    const raw = await rawExchange(
      h.node.proxyAddress().port,
      'GET /p/a?b=1&c=2 HTTP/1.1\r\nHost: www.site.example\r\nX-Client: yes\r\nConnection: x-secret, close\r\nX-Secret: no\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n',
    );
    const r = { headers: parseHead(raw) };
    const seen = h.origin.requests[0]!;
    assert.equal(seen.url, '/p/a?b=1&c=2');
    assert.equal(seen.headers['x-client'], 'yes');
    assert.equal(seen.headers['x-secret'], undefined, 'a field named in Connection is hop-by-hop');
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-host'], 'www.site.example');
    assert.equal(seen.headers['via'], '1.1 test-node');
    assert.equal(seen.headers['host'], `127.0.0.1:${h.origin.port}`);
    assert.equal(r.headers['x-end'], 'kept');
    assert.equal(r.headers['x-hop'], undefined);
    assert.equal(r.headers['keep-alive'] === 'timeout=5', false);
  } finally {
    await h.close();
  }
});

test('request bodies stream to the origin for unsafe methods', async () => {
  let got = '';
  const h = await startHarness((req, res, body) => {
    got = `${req.method} ${body.toString()}`;
    res.writeHead(201, { 'content-length': '0' });
    res.end();
  });
  try {
    const r = await h.get('/submit', { 'content-type': 'text/plain' }, 'POST', 'payload');
    assert.equal(r.status, 201);
    assert.equal(got, 'POST payload');
    assert.match(r.headers['cache-status']!, /fwd=bypass; fwd-status=201/);
  } finally {
    await h.close();
  }
});

test('§4.4: a successful POST invalidates the target URI and same-origin Location; an error response does not', async () => {
  let status = 200;
  const h = await startHarness((req, res) => {
    if (req.method === 'POST') {
      res.writeHead(status, { location: '/other', 'content-length': '0' });
      res.end();
      return;
    }
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '1' });
    res.end('x');
  });
  try {
    const host = { host: 'site.example' };
    await h.get('/item', host);
    await h.get('/other', host);
    await h.get('/item', host, 'POST', 'x');
    assert.match((await h.get('/item', host)).headers['cache-status']!, /fwd=uri-miss/);
    assert.match((await h.get('/other', host)).headers['cache-status']!, /fwd=uri-miss/);
    status = 500;
    await h.get('/item', host, 'POST', 'x');
    assert.match((await h.get('/item', host)).headers['cache-status']!, /; hit/);
    assert.ok(h.node.stats.counters.invalidations >= 2);
  } finally {
    await h.close();
  }
});

test('/healthz and /stats on the admin listener', async () => {
  const h = await startHarness(fixed('abc', { 'cache-control': 'max-age=60' }));
  try {
    await h.get('/s1');
    await h.get('/s1');
    const health = await (await fetch(h.admin + '/healthz')).json() as { status: string };
    assert.equal(health.status, 'ok');
    const stats = await (await fetch(h.admin + '/stats')).json() as Record<string, unknown> & { tiers: { memory: { items: number }; disk: { items: number } } };
    assert.equal(stats.requests, 2);
    assert.equal(stats.hits, 1);
    assert.equal(stats.misses, 1);
    assert.equal(stats.bytesServed, 6);
    assert.equal(stats.tiers.memory.items, 1);
    // What the process's memory is made of (CACHING.md, what the node holds beside --memory-size).
    const mem = stats['memory'] as Record<string, number>;
    for (const k of ['rssBytes', 'heapTotalBytes', 'heapUsedBytes', 'oldSpaceUsedBytes', 'newSpaceBytes', 'externalBytes', 'arrayBuffersBytes']) assert.ok(mem[k]! > 0, `memory.${k} ${mem[k]}`);
    assert.ok(mem['heapUsedBytes']! <= mem['heapTotalBytes']! && mem['heapTotalBytes']! < mem['rssBytes']!);
    const missing = await fetch(h.admin + '/nope');
    assert.equal(missing.status, 404);
  } finally {
    await h.close();
  }
});

test('one access line per request with method, url, status, bytes, cache result, upstream and duration', async () => {
  const h = await startHarness(fixed('abc', { 'cache-control': 'max-age=60' }), { logLevel: 'info' });
  try {
    await h.get('/log');
    await h.get('/log');
    const access = await h.logged((l) => l.msg === 'access', 2);
    assert.equal(access.length, 2);
    assert.deepEqual(
      access.map((l) => [l.method, l.url, l.status, l.bytes, l.cache]),
      [
        ['GET', '/log', 200, 3, 'miss'],
        ['GET', '/log', 200, 3, 'hit'],
      ],
    );
    assert.equal(access[0]!.upstream, h.origin.url);
    assert.equal(typeof access[0]!.ms, 'number');
  } finally {
    await h.close();
  }
});
