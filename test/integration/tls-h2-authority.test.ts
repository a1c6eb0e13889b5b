// HTTP/2's :authority stands for Host everywhere a request's fields are read
// (RFC 9113 §8.3.1: a gateway to HTTP/1.1 builds Host from it), with real
// HTTPS/1.1 (node:https) and HTTP/2 (node:http2) clients over TLS:
//  - an edge filter on the host field refuses an HTTP/2 request as it refuses
//    the same request over HTTP/1.1 (it let it through: the field map had no host);
//  - an origin answering Vary: host has one variant for one host, whichever
//    protocol asked (HTTP/2 made a second fetch and variant);
//  - the origin is still asked with its own Host, told the client's in X-Forwarded-Host;
//  - a Host beside :authority that names the same authority in another spelling
//    (the https default port, a trailing dot, case) is accepted; one naming
//    another host is still refused with 400.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import https from 'node:https';
import { filterRules } from '../../src/config/edge-kinds.js';
import { startHarness, type Harness } from '../fixtures/harness.js';
import { edgeRules } from '../fixtures/edge.js';
import { makeCa, makeLeaf, type TestCa } from '../fixtures/tls.js';

const T = { timeout: 30_000 };

let ca: TestCa;
let h: Harness;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

before(async () => {
  ca = await makeCa();
  const site = await makeLeaf(ca, 'authority', ['localhost']);
  h = await startHarness(
    (req, res) => {
      const vary = req.url!.startsWith('/vary') ? { vary: 'host' } : {};
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60', 'content-length': '2', ...vary });
      res.end('ok');
    },
    {
      tls: { certificates: [site] },
      edge: edgeRules({ filters: filterRules().parse([{ name: 'no-internal-host', action: 'deny', headers: { host: '~* ^internal\\.' } }]) }),
    } as Parameters<typeof startHarness>[1],
  );
});

after(async () => {
  await h.close();
});

/** One HTTPS/1.1 request with its own Host field. */
function h1(path: string, host: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: h.node.proxyAddress().port, path, ca: ca.pem, servername: 'localhost', agent: false, headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** One HTTP/2 request on a connection of its own; `headers` names :authority (and Host, if any). */
async function h2(path: string, headers: http2.OutgoingHttpHeaders): Promise<Answer> {
  const session = http2.connect(`https://127.0.0.1:${h.node.proxyAddress().port}`, { ca: ca.pem, servername: 'localhost' });
  session.on('error', () => {});
  try {
    return await new Promise<Answer>((resolve, reject) => {
      const req = session.request({ ':path': path, ...headers });
      const chunks: Buffer[] = [];
      let head: http2.IncomingHttpHeaders = {};
      req.on('response', (hd) => (head = hd));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve({ status: Number(head[':status']), headers: head, text: Buffer.concat(chunks).toString() }));
      req.on('error', reject);
      req.end();
    });
  } finally {
    session.close();
  }
}

test('an edge filter on the host field refuses an HTTP/2 request as it refuses HTTP/1.1', T, async () => {
  const port = h.node.proxyAddress().port;
  const over1 = await h1('/filtered', `internal.example:${port}`);
  const over2 = await h2('/filtered', { ':authority': `internal.example:${port}` });
  assert.equal(over1.status, 403);
  assert.equal(over2.status, 403, `HTTP/2 got ${over2.status}: the filter did not see :authority as host`);
  assert.match(over2.text, /"no-internal-host"/);
  // Another host passes on both.
  assert.equal((await h1('/filtered', `localhost:${port}`)).status, 200);
  assert.equal((await h2('/filtered', { ':authority': `localhost:${port}` })).status, 200);
  assert.equal(h.origin.count('/filtered'), 1);
});

test('Vary: host — the same host over HTTP/1.1 and HTTP/2 is one variant, one origin fetch', T, async () => {
  const port = h.node.proxyAddress().port;
  const authority = `localhost:${port}`;
  const a = await h1('/vary-host', authority);
  assert.match(String(a.headers['cache-status']), /fwd=uri-miss/);
  await h.stored(1);
  const b = await h2('/vary-host', { ':authority': authority });
  assert.equal(b.status, 200);
  assert.match(String(b.headers['cache-status']), /; hit/, `HTTP/2 was not a hit: ${String(b.headers['cache-status'])}`);
  assert.equal(h.origin.count('/vary-host'), 1);
  // A miss over HTTP/2 fetches with the origin's own Host, the client's in X-Forwarded-Host.
  const c = await h2('/vary-host-2', { ':authority': authority });
  assert.equal(c.status, 200);
  const asked = h.origin.requests.filter((r) => r.url.startsWith('/vary-host'));
  for (const r of asked) {
    assert.equal(r.headers['host'], `127.0.0.1:${h.origin.port}`);
    assert.equal(r.headers['x-forwarded-host'], authority);
  }
  assert.deepEqual(asked.map((r) => r.url), ['/vary-host', '/vary-host-2']);
});

test('HTTP/2: a Host naming the :authority in another spelling is accepted; another host is refused', T, async () => {
  // The https default port, a trailing dot, upper case: the same authority (RFC 3986 §6.2.3).
  for (const [authority, host] of [['localhost:443', 'localhost'], ['localhost.', 'localhost'], ['LOCALHOST', 'localhost:443']] as const) {
    const r = await h2('/same-authority', { ':authority': authority, host });
    assert.equal(r.status, 200, `:authority ${authority} + Host ${host}: ${r.status} ${r.text}`);
  }
  // RFC 9113 §8.3.1: a Host naming another entity.
  for (const [authority, host] of [['localhost', 'evil.example'], ['localhost:8443', 'localhost']] as const) {
    const r = await h2('/same-authority', { ':authority': authority, host });
    assert.equal(r.status, 400, `:authority ${authority} + Host ${host}`);
    assert.match(r.text, /:authority and Host disagree/);
  }
});
