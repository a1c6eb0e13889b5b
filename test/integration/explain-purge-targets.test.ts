// GET /explain and POST /purge read a URL as the request that stored it was keyed:
// on the raw target. /explain once re-encoded it through WHATWG URL, so
// `GET /search?q="x"` was stored and hit under `"` while /explain looked under
// `%22` and said cached: false. Both now take the target from one function
// (admin/url-place.ts); each URL here is stored by a raw request, explained as
// cached under the request's own key, purged, and then missed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Explanation } from '../../src/cache/explain.js';
import { fetchReply, startHarness, type Harness } from '../fixtures/harness.js';

const TOKEN = 'targets-token';
const auth = { authorization: `Bearer ${TOKEN}` };
const HOST = 'site.example';

// Characters WHATWG URL percent-encodes in a path or query that Node's parser takes raw.
const TARGETS = ['/search?q="x"', "/it's?a='b'", '/a{b}', '/a`b', '/x?y=<z>', '/back\\slash'];

/** One raw HTTP/1.1 GET (no client library to re-encode the target); its Cache-Status. */
function rawGet(h: Harness, target: string): Promise<string> {
  const u = new URL(h.base);
  return new Promise((resolve, reject) => {
    const c = net.connect(Number(u.port), u.hostname, () => c.write(`GET ${target} HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`));
    let d = '';
    c.on('data', (x: Buffer) => (d += x.toString('latin1')));
    c.on('error', reject);
    c.on('close', () => {
      assert.match(d, /^HTTP\/1\.1 200 /, `${target}: ${d.split('\r\n')[0]}`);
      resolve(/\r\ncache-status: ([^\r]*)/i.exec(d)?.[1] ?? '');
    });
  });
}

async function explained(h: Harness, url: string): Promise<Explanation> {
  const r = await fetchReply(`${h.admin}/explain?url=${encodeURIComponent(url)}`, auth);
  assert.equal(r.status, 200, r.text);
  return JSON.parse(r.text) as Explanation;
}

test('explain finds, and purge removes, what a raw request target stored', async () => {
  const h = await startHarness(
    (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '2' });
      res.end('ok');
    },
    { admin: { token: TOKEN } },
  );
  try {
    for (const target of TARGETS) {
      const n = h.node.stats.counters.stored;
      assert.match(await rawGet(h, target), /fwd=uri-miss/, target);
      await h.stored(n + 1);
      assert.match(await rawGet(h, target), /; hit/, target);

      const url = `http://${HOST}${target}`;
      const e = await explained(h, url);
      assert.equal(e.primaryKey, `GET ${url}`, target);
      assert.equal(e.cached, true, `${target}: explain looked under ${e.primaryKey}`);

      const r = await fetchReply(`${h.admin}/purge`, { ...auth, 'content-type': 'application/json' }, 'POST', JSON.stringify({ urls: [url] }));
      assert.equal(r.status, 200, r.text);
      assert.equal((JSON.parse(r.text) as { purged: number }).purged, 1, `${target}: ${r.text}`);
      assert.equal((await explained(h, url)).cached, false, target);
      assert.match(await rawGet(h, target), /fwd=uri-miss/, `${target} after the purge`);
    }
  } finally {
    await h.close();
  }
});
