// The compression stage (issue 11) over real sockets: negotiation picks the
// variant, each coding is made once and stored, hits spend no CPU on it, ETags
// and 304s are per variant, a best-level recompression swaps in whole, an
// origin's gzip is decoded for clients without it, corrupt and bomb bodies are
// cut and not stored, purges take every variant, and real clients decode.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { fetch as undiciFetch, request as undiciRequest, Agent, interceptors } from 'undici';
import { fetchReply, startHarness, type Harness } from '../fixtures/harness.js';

const run = promisify(execFile);

/** A text body of `n` bytes that compresses like real markup. */
function page(n: number): string {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `<div class="row r${i % 17}"><span>item ${i}</span><a href="/p/${i % 50}">link ${i % 9}</a></div>\n`;
  return s.slice(0, n);
}

const BODY = page(20_000);

function textOrigin(body = BODY, extra: Record<string, string> = {}) {
  return fixedHandler(body, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'max-age=600', etag: '"v1"', ...extra });
}

function fixedHandler(body: string | Buffer, headers: Record<string, string>) {
  return (_req: unknown, res: import('node:http').ServerResponse) => {
    res.writeHead(200, { 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  };
}

function codings(h: Harness, path: string): string[] {
  const key = `GET http://${new URL(h.base).host}${path}`;
  return h.node
    .store()
    .variants(key)
    .map((m) => m.varyValues['accept-encoding'] ?? '-')
    .sort();
}

test('br on a miss, stored once beside identity; gzip made from the stored body; hits answer stored bytes', async () => {
  const h = await startHarness(textOrigin());
  try {
    const first = await h.get('/a', { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(first.status, 200);
    assert.equal(first.headers['content-encoding'], 'br');
    assert.equal(first.headers['vary'], 'Accept-Encoding');
    assert.equal(first.headers['etag'], 'W/"v1-br"');
    assert.equal(first.headers['content-length'], undefined, 'made while streaming: length unknown');
    assert.match(first.headers['cache-status']!, /fwd=uri-miss; fwd-status=200; stored; ttl=\d+; detail=compress-br$/);
    assert.equal(zlib.brotliDecompressSync(first.body).toString(), BODY);
    assert.ok(first.body.length < BODY.length / 3);
    await h.stored(2);
    assert.deepEqual(codings(h, '/a'), ['br', 'identity']);

    const hit = await h.get('/a', { 'accept-encoding': 'br' });
    assert.match(hit.headers['cache-status']!, /; hit/);
    assert.equal(hit.headers['content-encoding'], 'br');
    assert.equal(hit.headers['content-length'], String(hit.body.length));
    assert.equal(zlib.brotliDecompressSync(hit.body).toString(), BODY);

    const gz = await h.get('/a', { 'accept-encoding': 'gzip' });
    assert.match(gz.headers['cache-status']!, /; hit; ttl=\d+; detail=compress-gzip$/);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(zlib.gunzipSync(gz.body).toString(), BODY);
    await h.stored(3);
    assert.deepEqual(codings(h, '/a'), ['br', 'gzip', 'identity']);

    const plain = await h.get('/a');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers['etag'], '"v1"', 'the identity variant keeps the origin ETag');
    assert.equal(plain.headers['vary'], 'Accept-Encoding');
    assert.equal(plain.text, BODY);
    assert.equal(h.origin.count('/a'), 1);
    assert.equal(h.origin.requests[0]!.headers['accept-encoding'], 'identity', 'fills ask the origin for identity');
    const made = h.node.stats.counters.compressed;
    for (let i = 0; i < 5; i++) await h.get('/a', { 'accept-encoding': i % 2 ? 'br' : 'gzip' });
    assert.equal(h.node.stats.counters.compressed, made, 'hits compress nothing');
  } finally {
    await h.close();
  }
});

test("2,000 Accept-Encoding spellings make at most one variant per coding; the origin's other Vary members are kept", async () => {
  const h = await startHarness(textOrigin(BODY, { vary: 'Origin' }), { cache: { maxVariants: 8 } });
  try {
    const tokens = ['gzip', 'br', 'deflate', 'zstd', 'identity', 'x-gzip', 'compress', '*'];
    for (let i = 0; i < 2000; i++) {
      const picked = tokens.filter((_, j) => (i >> j) & 1);
      const value = picked.map((t, j) => (j === 0 && i % 3 === 0 ? `${t.toUpperCase()};q=0.${(i % 9) + 1}` : t)).join(i % 2 ? ',' : ' , ');
      const r = await h.get('/many', { 'accept-encoding': value, origin: 'https://a.example' });
      assert.equal(r.status, 200);
      assert.match(r.headers['vary']!, /^Origin, Accept-Encoding$/);
    }
    await h.until(() => h.node.stats.counters.stored >= 3, 'variants stored');
    const cs = codings(h, '/many');
    assert.deepEqual([...new Set(cs)], cs, 'one variant per coding');
    assert.ok(cs.length <= 4, `variants: ${cs.join(',')}`);
    assert.equal(h.origin.count('/many'), 1);
    const other = await h.get('/many', { 'accept-encoding': 'br', origin: 'https://b.example' });
    assert.match(other.headers['cache-status']!, /fwd=vary-miss/, 'another Origin is another variant');
  } finally {
    await h.close();
  }
});

test('weak suffixed ETag per variant; If-None-Match answers 304 only for the right variant', async () => {
  const h = await startHarness(textOrigin());
  try {
    const br = await h.get('/e', { 'accept-encoding': 'br' });
    await h.stored(2);
    const tag = br.headers['etag']!;
    assert.equal(tag, 'W/"v1-br"');
    let r = await h.get('/e', { 'accept-encoding': 'br', 'if-none-match': tag });
    assert.equal(r.status, 304);
    assert.equal(r.headers['etag'], tag);
    assert.equal(r.headers['vary'], 'Accept-Encoding');
    r = await h.get('/e', { 'accept-encoding': 'gzip', 'if-none-match': tag });
    assert.equal(r.status, 200, 'the br tag does not match the gzip variant');
    assert.equal(r.headers['etag'], 'W/"v1-gzip"');
    r = await h.get('/e', { 'accept-encoding': 'br', 'if-none-match': '"v1"' });
    assert.equal(r.status, 200, 'the identity tag does not match the br variant');
    r = await h.get('/e', { 'if-none-match': '"v1"' });
    assert.equal(r.status, 304);
    r = await h.get('/e', { 'if-none-match': tag });
    assert.equal(r.status, 200);
    // A variant not stored yet answers its own conditional too.
    r = await h.get('/e', { 'accept-encoding': 'gzip', 'if-none-match': 'W/"v1-gzip"' });
    assert.equal(r.status, 304);
    // Ranges address the encoded bytes (RFC 9110 §14.1.2).
    const full = await h.get('/e', { 'accept-encoding': 'br' });
    r = await h.get('/e', { 'accept-encoding': 'br', range: 'bytes=0-9' });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes 0-9/${full.body.length}`);
    assert.deepEqual(r.body, full.body.subarray(0, 10));
    // If-Range with the weak tag never applies: the whole variant (RFC 9110 §13.1.5).
    r = await h.get('/e', { 'accept-encoding': 'br', range: 'bytes=0-9', 'if-range': tag });
    assert.equal(r.status, 200);
  } finally {
    await h.close();
  }
});

test('never compressed: media, an origin coding the client accepts, no-transform, small bodies, HEAD, slices; unknown length waits for the stored copy', async () => {
  const png = Buffer.alloc(4000, 7);
  const sliced = page(300_000);
  const h = await startHarness(
    (req, res) => {
      const base = { 'cache-control': 'max-age=600' };
      switch (req.url) {
        case '/img':
          res.writeHead(200, { ...base, 'content-type': 'image/png', 'content-length': png.length });
          return res.end(png);
        case '/gz': {
          const z = zlib.gzipSync(BODY);
          res.writeHead(200, { ...base, 'content-type': 'text/css', 'content-encoding': 'gzip', 'content-length': z.length });
          return res.end(z);
        }
        case '/nt':
          res.writeHead(200, { 'cache-control': 'max-age=600, no-transform', 'content-type': 'text/css', 'content-length': BODY.length });
          return res.end(BODY);
        case '/small':
          res.writeHead(200, { ...base, 'content-type': 'text/css', 'content-length': 100 });
          return res.end('x'.repeat(100));
        case '/chunked':
          res.writeHead(200, { ...base, 'content-type': 'application/json' });
          res.write(BODY.slice(0, 5000));
          return res.end(BODY.slice(5000));
        case '/big': {
          const range = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
          if (range) {
            const s = Number(range[1]);
            const e = Math.min(Number(range[2]), sliced.length - 1);
            res.writeHead(206, { ...base, 'content-type': 'text/plain', etag: '"big"', 'content-range': `bytes ${s}-${e}/${sliced.length}`, 'content-length': e - s + 1 });
            return res.end(sliced.slice(s, e + 1));
          }
          res.writeHead(200, { ...base, 'content-type': 'text/plain', etag: '"big"', 'accept-ranges': 'bytes', 'content-length': sliced.length });
          return res.end(sliced);
        }
      }
    },
    { slices: { thresholdBytes: 100_000, sliceBytes: 64 * 1024 } },
  );
  const ae = { 'accept-encoding': 'gzip, br' };
  try {
    const img = await h.get('/img', ae);
    assert.equal(img.headers['content-encoding'], undefined);
    assert.equal(img.headers['vary'], undefined);
    const gz = await h.get('/gz', ae);
    assert.equal(gz.headers['content-encoding'], 'gzip', "the origin's coding is passed on as it is");
    assert.equal(zlib.gunzipSync(gz.body).toString(), BODY);
    const nt = await h.get('/nt', ae);
    assert.equal(nt.headers['content-encoding'], undefined);
    assert.equal(nt.text, BODY);
    const small = await h.get('/small', ae);
    assert.equal(small.headers['content-encoding'], undefined);
    assert.equal(small.headers['vary'], 'Accept-Encoding', 'compressible type: keyed by coding all the same');
    const head = await h.get('/nt', ae, 'HEAD');
    assert.equal(head.headers['content-encoding'], undefined);
    const big = await h.get('/big', ae);
    assert.equal(big.headers['content-encoding'], undefined, 'an object stored in slices');
    assert.equal(big.text, sliced);
    const chunked = await h.get('/chunked', ae);
    assert.equal(chunked.headers['content-encoding'], undefined, 'size unknown on the miss');
    await h.until(() => codings(h, '/chunked').length === 1, 'chunked stored');
    const again = await h.get('/chunked', ae);
    assert.equal(again.headers['content-encoding'], 'br', 'made from the stored copy once its size is known');
    assert.equal(zlib.brotliDecompressSync(again.body).toString(), BODY);
    // HEAD makes nothing.
    const before = h.node.stats.counters.compressed;
    const headMiss = await h.get('/chunked', { 'accept-encoding': 'gzip' }, 'HEAD');
    assert.equal(headMiss.status, 200);
    assert.equal(h.node.stats.counters.compressed, before);
  } finally {
    await h.close();
  }
});

test('206 answers of a passed-through range are never compressed', async () => {
  const h = await startHarness((req, res) => {
    res.writeHead(206, { 'content-type': 'text/plain', 'content-range': `bytes 0-1999/${BODY.length}`, 'content-length': 2000 });
    res.end(BODY.slice(0, 2000));
  });
  try {
    const r = await h.get('/r', { 'accept-encoding': 'br', range: 'bytes=0-1999' });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-encoding'], undefined);
    assert.equal(r.text, BODY.slice(0, 2000));
  } finally {
    await h.close();
  }
});

test('background recompression at the best level swaps the stored variant whole', async () => {
  const body = page(200_000);
  const h = await startHarness(textOrigin(body));
  try {
    const fast = await h.get('/big', { 'accept-encoding': 'br' });
    await h.until(() => h.node.stats.counters.recompressed === 1, 'recompressed');
    const key = `GET http://${new URL(h.base).host}/big`;
    const stored = h.node.store().variants(key).find((m) => m.varyValues['accept-encoding'] === 'br')!;
    assert.equal(stored.transform?.level, 'best');
    const best = await h.get('/big', { 'accept-encoding': 'br' });
    assert.match(best.headers['cache-status']!, /; hit/);
    assert.equal(zlib.brotliDecompressSync(best.body).toString(), body);
    assert.ok(best.body.length < fast.body.length, `best ${best.body.length} < fast ${fast.body.length}`);
    assert.equal(best.headers['etag'], fast.headers['etag'], 'weak ETag: same meaning, other bytes');
    assert.equal(best.headers['content-length'], String(best.body.length));
  } finally {
    await h.close();
  }
});

test("an origin's gzip decoded for a client without it; the decoded variant is stored", async () => {
  const gz = zlib.gzipSync(BODY);
  const h = await startHarness(fixedHandler(gz, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'cache-control': 'max-age=600', etag: '"g"' }));
  try {
    const r = await h.get('/d');
    assert.equal(r.headers['content-encoding'], undefined);
    assert.equal(r.text, BODY);
    assert.equal(r.headers['etag'], 'W/"g-identity"');
    await h.stored(1);
    assert.deepEqual(codings(h, '/d'), ['identity']);
    const hit = await h.get('/d', { 'accept-encoding': 'identity' });
    assert.match(hit.headers['cache-status']!, /; hit/);
    assert.equal(hit.text, BODY);
    assert.equal(h.node.stats.counters.decoded, 1);
    assert.equal(h.origin.count('/d'), 1);
  } finally {
    await h.close();
  }
});

test('a corrupt gzip body and a zip bomb: the client connection is cut, nothing is stored', async () => {
  const good = zlib.gzipSync(BODY);
  const corrupt = Buffer.concat([good.subarray(0, 200), Buffer.alloc(good.length - 200, 0x55)]);
  const bomb = zlib.gzipSync(Buffer.alloc(8 * 1024 * 1024));
  const h = await startHarness(
    (req, res) => {
      const b = req.url === '/bomb' ? bomb : corrupt;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'cache-control': 'max-age=600', 'content-length': b.length });
      res.end(b);
    },
    { compress: { maxDecodedBytes: 1024 * 1024 }, logLevel: 'warn' },
  );
  try {
    for (const path of ['/corrupt', '/bomb']) {
      await assert.rejects(h.get(path), `${path}: connection cut`);
      await h.until(() => h.logs.some((l) => l['msg'] === 'response not stored' && String(l['url']).endsWith(path)), `${path} not stored`);
      assert.deepEqual(codings(h, path), []);
    }
    assert.match(String(h.logs.find((l) => String(l['url']).endsWith('/bomb') && l['msg'] === 'response not stored')!['err']), /compress\.maxDecodedBytes/);
    assert.equal(h.node.stats.counters.stored, 0);
  } finally {
    await h.close();
  }
});

test('a purge takes every variant of the URL', async () => {
  const TOKEN = 'tok';
  const h = await startHarness(textOrigin(), { admin: { token: TOKEN } });
  try {
    for (const ae of ['br', 'gzip', '']) await h.get('/p', ae ? { 'accept-encoding': ae } : {});
    await h.until(() => codings(h, '/p').length === 3, 'three variants');
    const r = await h.get('/p', { authorization: `Bearer ${TOKEN}` }, 'PURGE');
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.text)['purged'], 3);
    assert.deepEqual(codings(h, '/p'), []);
    const again = await h.get('/p', { 'accept-encoding': 'gzip' });
    assert.match(again.headers['cache-status']!, /fwd=uri-miss/);
  } finally {
    await h.close();
  }
});

test('a soft purge makes every variant stale (one 304 revalidates them all, bodies kept); an unsafe method invalidates them all', async () => {
  const TOKEN = 'tok';
  const h = await startHarness((req, res) => {
    if (req.method === 'POST') {
      res.writeHead(204);
      return res.end();
    }
    const headers = { 'content-type': 'text/html', 'cache-control': 'max-age=600', etag: '"s1"', 'surrogate-key': 'group' };
    if (req.headers['if-none-match'] === '"s1"') {
      res.writeHead(304, headers);
      return res.end();
    }
    res.writeHead(200, { ...headers, 'content-length': BODY.length });
    res.end(BODY);
  }, { admin: { token: TOKEN } });
  try {
    const encodings = ['br', 'gzip', ''];
    for (const ae of encodings) await h.get('/s', ae ? { 'accept-encoding': ae } : {});
    await h.until(() => codings(h, '/s').length === 3, 'three variants');
    const r = await fetchReply(h.admin + '/purge', { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, 'POST', JSON.stringify({ tags: ['group'], soft: true }));
    assert.equal(JSON.parse(r.text)['purged'], 3);
    for (const ae of encodings) {
      const v = await h.get('/s', ae ? { 'accept-encoding': ae } : {});
      // RFC 9111 §4.3.4: the first 304 (same strong ETag) refreshes every coding of the response.
      assert.match(v.headers['cache-status']!, ae === 'br' ? /fwd=stale; fwd-status=304/ : /; hit; ttl=\d+$/, `${ae || 'identity'}`);
      assert.equal(v.headers['content-encoding'], ae || undefined);
    }
    assert.equal(h.origin.requests.filter((q) => q.headers['if-none-match'] === '"s1"').length, 1, 'validated with the origin ETag, once');
    const post = await h.get('/s', {}, 'POST', 'x');
    assert.equal(post.status, 204);
    assert.deepEqual(codings(h, '/s'), [], 'invalidated: every variant (RFC 9111 §4.4)');
  } finally {
    await h.close();
  }
});

test('--no-compress: nothing compressed or decoded; Accept-Encoding passed to the origin as sent', async () => {
  const h = await startHarness(textOrigin(), { compress: { enabled: false } });
  try {
    const r = await h.get('/off', { 'accept-encoding': 'br, gzip' });
    assert.equal(r.headers['content-encoding'], undefined);
    assert.equal(r.headers['vary'], undefined);
    assert.equal(r.text, BODY);
    assert.equal(h.origin.requests[0]!.headers['accept-encoding'], 'br, gzip');
  } finally {
    await h.close();
  }
});

test("real clients decode what they receive: undici's decompress interceptor, fetch, and curl --compressed", async () => {
  const h = await startHarness(textOrigin());
  const agent = new Agent().compose(interceptors.decompress());
  try {
    const viaFetch = await undiciFetch(h.base + '/c');
    assert.equal(await viaFetch.text(), BODY);
    assert.equal(viaFetch.headers.get('content-encoding'), 'gzip', 'fetch asks for gzip, deflate (and br)');
    for (let i = 0; i < 2; i++) {
      const r = await undiciRequest(h.base + '/c', { headers: { 'accept-encoding': 'br, gzip' }, dispatcher: agent });
      assert.equal(await r.body.text(), BODY);
    }
    const { stdout } = await run('curl', ['-s', '--compressed', '-D', '-', h.base + '/c'], { maxBuffer: 1 << 22 });
    const split = stdout.indexOf('\r\n\r\n');
    assert.match(stdout.slice(0, split), /content-encoding: (br|gzip)/i);
    assert.equal(stdout.slice(split + 4), BODY);
  } finally {
    await agent.close();
    await h.close();
  }
});
