// RFC 9110 §12.5.3: `*` covers every coding the client did not name, identity included.
// `br;q=0.5, gzip;q=0.5, *` prefers identity (q=1 by `*`) to either coding; `*;q=0` (or
// `gzip, *;q=0`) excludes identity unless it is named. When nothing acceptable is
// available Strata answers identity all the same, never 406 (as nginx and Varnish do;
// RFC 9110 §12.5.3 lets a server disregard the field rather than answer 406).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { startHarness } from '../fixtures/harness.js';

function page(n: number): string {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `<td class="c${i % 7}">cell ${i}</td>\n`;
  return s.slice(0, n);
}

const BODY = page(20_000);
const SMALL = 'tiny text, below compress.minBytes\n';

function textOrigin() {
  return (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const body = req.url!.startsWith('/small') ? SMALL : BODY;
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=600', etag: '"v1"', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
}

test('identity named by `*` at a higher weight than the codings listed is preferred to them', async () => {
  const h = await startHarness(textOrigin());
  try {
    for (const [path, ae] of [['/a', 'br;q=0.5, gzip;q=0.5, *'], ['/b', 'gzip;q=0.2, br;q=0.3, *;q=0.9']]) {
      const miss = await h.get(path!, { 'accept-encoding': ae! });
      assert.equal(miss.headers['content-encoding'], undefined, `${ae}: identity (q by *) beats the codings listed`);
      assert.equal(miss.text, BODY);
      await h.stored(path === '/a' ? 1 : 2);
      const hit = await h.get(path!, { 'accept-encoding': ae! });
      assert.equal(hit.headers['content-encoding'], undefined, `${ae}: on a hit too`);
      assert.match(hit.headers['cache-status']!, /; hit; ttl=\d+$/);
    }
    // `*` at the codings' weight: a tie goes to the coding (as ever).
    const tie = await h.get('/a', { 'accept-encoding': 'gzip;q=0.5, *;q=0.5' });
    assert.equal(tie.headers['content-encoding'], 'br');
    assert.equal(zlib.brotliDecompressSync(tie.body).toString(), BODY);
  } finally {
    await h.close();
  }
});

test('`*;q=0` excludes identity: a coding is made for `gzip, *;q=0`; with nothing acceptable, identity all the same (not 406)', async () => {
  const h = await startHarness(textOrigin());
  try {
    const gz = await h.get('/c', { 'accept-encoding': 'gzip, *;q=0' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(zlib.gunzipSync(gz.body).toString(), BODY);
    for (const ae of ['*;q=0', 'identity;q=0', 'gzip, *;q=0']) {
      const r = await h.get('/small', { 'accept-encoding': ae });
      assert.equal(r.status, 200, `${ae}: not 406`);
      assert.equal(r.headers['content-encoding'], undefined, ae);
      assert.equal(r.text, SMALL);
      assert.equal(r.headers['vary'], 'Accept-Encoding');
    }
    const named = await h.get('/c', { 'accept-encoding': '*;q=0, identity' });
    assert.equal(named.headers['content-encoding'], undefined, 'identity named explicitly');
    assert.equal(named.text, BODY);
  } finally {
    await h.close();
  }
});
