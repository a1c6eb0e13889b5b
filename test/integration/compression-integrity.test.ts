// Review findings of the compression stage (issue 11) over real sockets: an
// origin body stored in its own coding is checked to decode before it is
// stored, a stored one that does not decode is deleted, If-Range never matches
// a variant Strata made, digests of the identity body are not carried onto made
// variants, and slices are fetched in identity.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { startHarness, type Harness } from '../fixtures/harness.js';

function page(n: number): string {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `<li class="c${i % 13}">entry ${i} <a href="/x/${i % 40}">more</a></li>\n`;
  return s.slice(0, n);
}

const BODY = page(20_000);
const GOOD = zlib.gzipSync(BODY);
const CORRUPT = Buffer.concat([GOOD.subarray(0, 200), Buffer.alloc(GOOD.length - 200, 0x55)]);
const BOMB = zlib.gzipSync(Buffer.alloc(8 * 1024 * 1024));

/** Origin: a gzip body per path (as-is), text/plain, cacheable. */
function gzipOrigin(bodies: Record<string, Buffer>) {
  return (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const b = bodies[req.url!]!;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'cache-control': 'max-age=600', etag: '"z"', 'content-length': b.length });
    res.end(b);
  };
}

function codings(h: Harness, path: string, host = new URL(h.base).host): string[] {
  return h.node
    .store()
    .variants(`GET http://${host}${path}`)
    .map((m) => m.varyValues['accept-encoding'] ?? '-')
    .sort();
}

const GZ = { 'accept-encoding': 'gzip' };

test('a corrupt gzip body for a client that accepts gzip: the client is cut, nothing stored, counted and logged once', async () => {
  const h = await startHarness(gzipOrigin({ '/corrupt': CORRUPT }), { logLevel: 'warn' });
  try {
    await assert.rejects(h.get('/corrupt', GZ), 'connection cut');
    await h.until(() => h.node.stats.counters.badCoding === 1, 'counted');
    assert.deepEqual(codings(h, '/corrupt'), []);
    const again = h.get('/corrupt', GZ);
    await assert.rejects(again, 'fetched again and cut again');
    assert.equal(h.origin.count('/corrupt'), 2, 'the second request is a miss');
    await h.until(() => h.node.stats.counters.badCoding === 2, 'counted again');
    assert.equal(h.node.stats.counters.stored, 0);
    const lines = h.logs.filter((l) => String(l['url'] ?? '').endsWith('/corrupt') && l['level'] === 40);
    assert.deepEqual(
      lines.map((l) => l['msg']),
      ['response not stored', 'response not stored'],
      'one line per body',
    );
    assert.match(String(lines[0]!['err']), /corrupt/);
  } finally {
    await h.close();
  }
});

test('a zip bomb for a client that accepts gzip: cut at compress.maxDecodedBytes of decoding, not stored', async () => {
  const h = await startHarness(gzipOrigin({ '/bomb': BOMB }), { compress: { maxDecodedBytes: 1024 * 1024 }, logLevel: 'warn' });
  try {
    await assert.rejects(h.get('/bomb', GZ), 'connection cut');
    await h.until(() => h.node.stats.counters.badCoding === 1, 'counted');
    const line = await h.logged((l) => l['msg'] === 'response not stored');
    assert.match(String(line[0]!['err']), /compress\.maxDecodedBytes/);
    assert.deepEqual(codings(h, '/bomb'), []);
    assert.equal(h.node.stats.counters.stored, 0);
  } finally {
    await h.close();
  }
});

test('a good gzip body is stored as it came, then decoded for an identity client', async () => {
  const h = await startHarness(gzipOrigin({ '/good': GOOD }));
  try {
    const first = await h.get('/good', GZ);
    assert.equal(first.headers['content-encoding'], 'gzip');
    assert.deepEqual(first.body, GOOD, "the origin's bytes, unchanged");
    await h.stored(1);
    assert.deepEqual(codings(h, '/good'), ['gzip']);
    const hit = await h.get('/good', GZ);
    assert.match(hit.headers['cache-status']!, /; hit/);
    assert.deepEqual(hit.body, GOOD);
    const plain = await h.get('/good');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.text, BODY);
    assert.match(plain.headers['cache-status']!, /detail=decode-gzip/);
    assert.equal(h.origin.count('/good'), 1);
    assert.equal(h.node.stats.counters.badCoding, 0);
  } finally {
    await h.close();
  }
});

test('a stored gzip body that no longer decodes within the limit is deleted when a client without gzip asks', async () => {
  const big = zlib.gzipSync(page(600_000));
  const h = await startHarness(gzipOrigin({ '/old': big }), { logLevel: 'warn' });
  const host = 'site.example';
  try {
    await h.get('/old', { ...GZ, host });
    await h.stored(1);
    // The limit lowered below what the stored body decodes to (a body stored before the check, or a new setting).
    h.config.compress.maxDecodedBytes = 100_000;
    await h.restart();
    assert.deepEqual(codings(h, '/old', host), ['gzip'], 'kept on disk across the restart');
    await assert.rejects(h.get('/old', { host }), 'connection cut');
    await h.until(() => h.node.stats.counters.badCoding === 1, 'counted');
    await h.until(() => codings(h, '/old', host).length === 0, 'the stored body deleted');
    const lines = h.logs.filter((l) => String(l['url'] ?? '').endsWith('/old') && l['level'] === 40);
    assert.equal(lines.length, 1, `logged once: ${lines.map((l) => l['msg']).join('; ')}`);
    // Fetched again: the new body is checked against the new limit as it fills, and cut too.
    await assert.rejects(h.get('/old', { ...GZ, host }));
    assert.equal(h.origin.count('/old'), 2);
  } finally {
    await h.close();
  }
});

test('If-Range never matches a variant Strata made: a date that matches answers the whole variant, not a range', async () => {
  const lm = 'Tue, 01 Sep 2026 10:00:00 GMT';
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=600', 'last-modified': lm, etag: '"t"', 'content-length': BODY.length });
    res.end(BODY);
  });
  try {
    const br = await h.get('/ir', { 'accept-encoding': 'br' });
    await h.stored(2);
    const hit = await h.get('/ir', { 'accept-encoding': 'br' });
    assert.match(hit.headers['cache-status']!, /; hit/);
    // Without If-Range, a range of the stored br variant is answered (the encoded bytes).
    let r = await h.get('/ir', { 'accept-encoding': 'br', range: 'bytes=0-9' });
    assert.equal(r.status, 206);
    // With the date: the bytes may have been swapped for the best level since: the whole variant.
    r = await h.get('/ir', { 'accept-encoding': 'br', range: 'bytes=10-', 'if-range': lm });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-range'], undefined);
    assert.equal(zlib.brotliDecompressSync(r.body).toString(), BODY);
    r = await h.get('/ir', { 'accept-encoding': 'br', range: 'bytes=10-', 'if-range': br.headers['etag']! });
    assert.equal(r.status, 200, 'nor its own weak ETag');
    // The origin's identity body keeps its validators: the date matches there.
    r = await h.get('/ir', { range: 'bytes=10-19', 'if-range': lm });
    assert.equal(r.status, 206);
    assert.equal(r.text, BODY.slice(10, 20));
    r = await h.get('/ir', { range: 'bytes=10-19', 'if-range': '"t"' });
    assert.equal(r.status, 206);
  } finally {
    await h.close();
  }
});

const DIGESTS = {
  'content-digest': 'sha-256=:AAAA:',
  'repr-digest': 'sha-256=:BBBB:',
  digest: 'SHA-256=CCCC',
  'content-md5': 'Q2hlY2sgSW50ZWdyaXR5IQ==',
  'x-goog-hash': 'crc32c=n03x6A==,md5=Ojk9c3dhfxgoKVVHYwFbHQ==',
};

function digestsOf(headers: Record<string, string>): string[] {
  return Object.keys(DIGESTS).filter((f) => headers[f] !== undefined);
}

test("digests of the origin's bytes are not carried onto variants Strata makes (encoded or decoded), and kept on the origin's bytes", async () => {
  const gz = zlib.gzipSync(BODY);
  const h = await startHarness((req, res) => {
    const coded = req.url!.startsWith('/dg-gz');
    const b = coded ? gz : Buffer.from(BODY);
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=600', etag: '"d"', 'content-length': b.length, ...(coded ? { 'content-encoding': 'gzip' } : {}), ...DIGESTS });
    res.end(b);
  });
  const all = Object.keys(DIGESTS);
  try {
    // Encoded from the identity body: on the miss (made while streaming), and on the hit of the stored variant.
    let r = await h.get('/dg', { 'accept-encoding': 'br' });
    assert.equal(r.headers['content-encoding'], 'br');
    assert.deepEqual(digestsOf(r.headers), [], 'encoded on the miss');
    await h.stored(2);
    r = await h.get('/dg', { 'accept-encoding': 'br' });
    assert.match(r.headers['cache-status']!, /; hit/);
    assert.deepEqual(digestsOf(r.headers), [], 'stored encoded variant');
    r = await h.get('/dg', { 'accept-encoding': 'gzip' });
    assert.match(r.headers['cache-status']!, /detail=compress-gzip/);
    assert.deepEqual(digestsOf(r.headers), [], 'encoded from the stored body');
    r = await h.get('/dg');
    assert.deepEqual(digestsOf(r.headers), all, 'the identity body keeps them');

    // Decoded from an origin's gzip: on the miss, and on the hit.
    r = await h.get('/dg-gz');
    assert.equal(r.text, BODY);
    assert.deepEqual(digestsOf(r.headers), [], 'decoded on the miss');
    await h.stored(4);
    r = await h.get('/dg-gz');
    assert.match(r.headers['cache-status']!, /; hit/);
    assert.deepEqual(digestsOf(r.headers), [], 'stored decoded variant');
    r = await h.get('/dg-gz', { 'accept-encoding': 'gzip' });
    assert.match(r.headers['cache-status']!, /detail=compress-gzip/);
    assert.deepEqual(digestsOf(r.headers), [], 'gzip made from the decoded body');

    // The origin's gzip bytes stored as they came keep them; decoded from the stored copy, they go.
    r = await h.get('/dg-gz2', { 'accept-encoding': 'gzip' });
    assert.deepEqual(r.body, gz);
    assert.deepEqual(digestsOf(r.headers), all, "the origin's gzip bytes keep them");
    await h.stored(6);
    r = await h.get('/dg-gz2');
    assert.match(r.headers['cache-status']!, /; hit; .*detail=decode-gzip/);
    assert.equal(r.text, BODY);
    assert.deepEqual(digestsOf(r.headers), [], 'decoded from the stored gzip');
  } finally {
    await h.close();
  }
});

test('slices are fetched in identity: an origin that encodes 206 answers for gzip clients never has them spliced into an identity answer', async () => {
  const text = page(300_000);
  const gzText = zlib.gzipSync(text);
  const seen: string[] = [];
  const h = await startHarness(
    (req, res) => {
      const gzip = /gzip/.test(String(req.headers['accept-encoding'] ?? ''));
      const bytes = gzip ? gzText : Buffer.from(text);
      const coding = gzip ? { 'content-encoding': 'gzip' } : {};
      const base = { 'content-type': 'text/plain', 'cache-control': 'max-age=600', etag: '"s"', 'accept-ranges': 'bytes', ...coding };
      const range = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
      if (range) {
        seen.push(String(req.headers['accept-encoding']));
        const s = Number(range[1]);
        const e = Math.min(Number(range[2]), bytes.length - 1);
        res.writeHead(206, { ...base, 'content-range': `bytes ${s}-${e}/${bytes.length}`, 'content-length': e - s + 1 });
        return res.end(bytes.subarray(s, e + 1));
      }
      res.writeHead(200, { ...base, 'content-length': bytes.length });
      res.end(bytes);
    },
    { slices: { thresholdBytes: 100_000, sliceBytes: 64 * 1024 } },
  );
  try {
    const first = await h.get('/sl', { 'accept-encoding': 'gzip', range: 'bytes=1000-1999' });
    assert.equal(first.status, 206);
    assert.equal(first.text, text.slice(1000, 2000));
    assert.ok(seen.length > 0, 'fetched in slices');
    assert.deepEqual([...new Set(seen)], ['identity'], 'every slice fetch asks for identity');
    const plain = await h.get('/sl');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.text, text);
    assert.match(plain.headers['cache-status']!, /detail=slices/);
  } finally {
    await h.close();
  }
});

test('HEAD carries the fields of its GET when the GET is answered from a coded variant; nothing is made for it', async () => {
  const gz = zlib.gzipSync(BODY);
  const h = await startHarness((req, res) => {
    const coded = req.url === '/hd-gz';
    const b = coded ? gz : Buffer.from(BODY);
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=600', etag: '"h"', 'content-length': b.length, ...(coded ? { 'content-encoding': 'gzip' } : {}) });
    res.end(b);
  });
  const fields = (r: { headers: Record<string, string> }) => [r.headers['content-encoding'], r.headers['etag'], r.headers['vary']];
  try {
    await h.get('/hd');
    await h.stored(1);
    // br not stored yet: the GET would make it; the HEAD says what the GET would say.
    const made = h.node.stats.counters.compressed;
    const head = await h.get('/hd', { 'accept-encoding': 'br' }, 'HEAD');
    assert.equal(head.status, 200);
    assert.deepEqual(fields(head), ['br', 'W/"h-br"', 'Accept-Encoding']);
    assert.equal(head.body.length, 0);
    assert.equal(h.node.stats.counters.compressed, made, 'HEAD makes nothing');
    const get = await h.get('/hd', { 'accept-encoding': 'br' });
    assert.deepEqual(fields(get), fields(head));
    // Decoded for a client without gzip: the HEAD drops Content-Encoding and carries the decoded variant's ETag.
    await h.get('/hd-gz', { 'accept-encoding': 'gzip' });
    await h.stored(3);
    const decodedHead = await h.get('/hd-gz', {}, 'HEAD');
    assert.deepEqual(fields(decodedHead), [undefined, 'W/"h-identity"', 'Accept-Encoding']);
    assert.equal(decodedHead.headers['content-length'], undefined);
    const decodedGet = await h.get('/hd-gz');
    assert.deepEqual(fields(decodedGet), fields(decodedHead));
    assert.equal(decodedGet.text, BODY);
    // The identity client's HEAD keeps the origin's ETag.
    assert.deepEqual(fields(await h.get('/hd', {}, 'HEAD')), [undefined, '"h"', 'Accept-Encoding']);
  } finally {
    await h.close();
  }
});
