// A Host (or HTTP/2 :authority) that is not a host name or IP literal with an
// optional port is refused with 400 before a site is chosen (issue 12, review).
// It once chose the site on the whole string: `secret.example.com,x.example.com`
// went to the public `*.example.com` site, past the forward-auth of the
// `secret.example.com` site, while the origin got that value in X-Forwarded-Host
// and read its first name. Over HTTPS/1.1 and HTTP/2 on one TLS node: a real
// auth service, real origins, and real TLS clients.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import tls from 'node:tls';
import { Agent, request } from 'undici';
import { makeCa, makeLeaf } from '../fixtures/tls.js';
import { named, startSites } from '../fixtures/sites.js';
import { startAuthService } from '../fixtures/edge.js';

function h2get(port: number, ca: string, authority: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca, servername: 'secret.example.com' });
    session.once('error', reject);
    const req = session.request({ ':method': 'GET', ':path': path, ':authority': authority });
    let status = 0;
    let body = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.once('end', () => {
      session.close();
      resolve({ status, body });
    });
    req.once('error', reject);
  });
}

test('a Host or :authority holding ",", ";", "*", "=" or "%" gets 400 BAD_REQUEST, counted; no site, auth service or origin sees it', { timeout: 30_000 }, async () => {
  const ca = await makeCa();
  const cert = await makeLeaf(ca, 'example', ['example.com', '*.example.com']);
  const auth = await startAuthService((_req, res) => {
    res.writeHead(401, { 'www-authenticate': 'Bearer realm="secret"', 'content-length': '0' });
    res.end();
  });
  const h = await startSites(
    { secret: named('secret'), public: named('public'), other: named('other') },
    (u) => ({
      secret: { hosts: ['secret.example.com'], routes: { all: { path: '/', upstream: u['secret'], guard: { forwardAuth: { url: auth.url } } } } },
      public: { hosts: ['*.example.com'], routes: { all: { path: '/', upstream: u['public'] } } },
      other: { hosts: ['www.other.org'], default: true, routes: { all: { path: '/', upstream: u['other'] } } },
    }),
    { overrides: { tls: { certificates: [cert] } } },
  );
  // undici names the Host as the server to check: the certificate is checked against the one name it was made for.
  const agent = new Agent({ connect: { ca: ca.pem, servername: 'secret.example.com', checkServerIdentity: (_name, c) => tls.checkServerIdentity('secret.example.com', c) } });
  try {
    const port = h.node.proxyAddress().port;
    const h1get = async (host: string, path: string): Promise<{ status: number; body: string }> => {
      const r = await request(`https://127.0.0.1:${port}${path}`, { headers: { host }, dispatcher: agent });
      return { status: r.statusCode, body: await r.body.text() };
    };
    // Well-formed names choose their sites as before: the secret site's auth refuses, the wildcard serves.
    assert.equal((await h1get('secret.example.com', '/account/')).status, 401);
    assert.equal((await h1get('x.example.com', '/account/')).body, 'public /account/');
    assert.equal((await h2get(port, ca.pem, 'secret.example.com:443', '/account/')).status, 401);
    assert.equal((await h2get(port, ca.pem, 'www.other.org', '/account/')).body, 'other /account/');
    const asked = auth.asked.length;
    const before = h.node.stats.counters.badRequests;

    const malformed = ['secret.example.com,x.example.com', 'x.example.com,secret.example.com', 'secret.example.com;x', 'secret.example.com, www.other.org', '*.example.com', 'secret.example.com=1', '%73ecret.example.com'];
    for (const host of malformed) {
      const r = await h1get(host, '/account/');
      assert.equal(r.status, 400, `HTTPS/1.1 Host ${host}`);
      assert.match(r.body, /^400 BAD_REQUEST: malformed Host ".*": expected a host name or IP literal with an optional port/, host);
      // A blank in :authority is refused by node:http2 itself (a stream error), before Strata sees it.
      if (host.includes(' ')) continue;
      const r2 = await h2get(port, ca.pem, host, '/account/');
      assert.equal(r2.status, 400, `h2 :authority ${host}`);
      assert.match(r2.body, /^400 BAD_REQUEST: malformed :authority /, host);
    }
    const overH2 = malformed.filter((m) => !m.includes(' ')).length;
    assert.equal(h.node.stats.counters.badRequests, before + malformed.length + overH2, 'each refusal counted as a bad request');
    assert.equal(auth.asked.length, asked, 'the auth service is not asked');
    for (const name of ['public', 'other']) assert.equal(h.pools[name]!.count(), 1, `origin ${name} asked only for the well-formed request`);
    assert.equal(h.pools['secret']!.count(), 0);
  } finally {
    await agent.close();
    await h.close();
    await auth.close();
  }
});
