// Sites over TLS and HTTP/2: the route is chosen by the request's authority
// (:authority on h2, Host on HTTPS/1.1) exactly as over plain HTTP; each site's
// own certificate is chosen by SNI; an unknown authority gets 421 on h2 too.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { Agent, request } from 'undici';
import { makeCa, makeLeaf } from '../fixtures/tls.js';
import { named, startSites } from '../fixtures/sites.js';

function h2get(port: number, ca: string, servername: string, authority: string, path: string): Promise<{ status: number; body: string; cacheStatus: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca, servername });
    session.once('error', reject);
    const req = session.request({ ':method': 'GET', ':path': path, ':authority': authority });
    let status = 0;
    let cacheStatus = '';
    let body = '';
    req.on('response', (h) => {
      status = Number(h[':status']);
      cacheStatus = String(h['cache-status'] ?? '');
    });
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.once('end', () => {
      session.close();
      resolve({ status, body, cacheStatus });
    });
    req.once('error', reject);
  });
}

test('over h2 and HTTPS/1.1, the authority chooses the site; unknown ones get 421', { timeout: 30_000 }, async () => {
  const ca = await makeCa();
  const shopCert = await makeLeaf(ca, 'shop', ['shop.test', '*.shop.test']);
  const blogCert = await makeLeaf(ca, 'blog', ['blog.test']);
  const h = await startSites({ shop: named('shop', 'max-age=60'), blog: named('blog', 'no-store') }, (u) => ({
    shop: { hosts: ['shop.test', '*.shop.test'], routes: { all: { path: '/', upstream: u['shop'] } } },
    blog: { hosts: ['blog.test'], routes: { all: { path: '/', upstream: u['blog'] } } },
  }), { overrides: { tls: { certificates: [shopCert, blogCert] } } });
  try {
    const port = h.node.proxyAddress().port;
    const a = await h2get(port, ca.pem, 'shop.test', 'shop.test', '/p');
    assert.deepEqual([a.status, a.body], [200, 'shop /p']);
    assert.equal((await h2get(port, ca.pem, 'www.shop.test', 'www.shop.test', '/p')).body, 'shop /p');
    assert.equal((await h2get(port, ca.pem, 'blog.test', 'blog.test', '/p')).body, 'blog /p');
    const hit = await h2get(port, ca.pem, 'shop.test', 'shop.test', '/p');
    assert.match(hit.cacheStatus, /; hit/);
    const unknown = await h2get(port, ca.pem, 'shop.test', 'other.test', '/p');
    assert.equal(unknown.status, 421);
    const agent = new Agent({ connect: { ca: ca.pem, servername: 'blog.test' } });
    try {
      const r = await request(`https://127.0.0.1:${port}/q`, { headers: { host: 'blog.test' }, dispatcher: agent });
      assert.equal(await r.body.text(), 'blog /q');
    } finally {
      await agent.close();
    }
  } finally {
    await h.close();
  }
});
