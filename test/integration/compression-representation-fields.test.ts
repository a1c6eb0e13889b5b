// The fields that describe a representation's bytes (Content-Length, Content-Range, the
// digests, a strong ETag) are the origin's bytes' alone: a variant Strata makes (encoded
// from an identity body, decoded from an origin's coding) carries none of the origin's,
// nor does a 206 cut from it carry any Content-Range but its own (RFC 9110 §14.4).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import type { Reply } from '../fixtures/harness.js';
import { startHarness } from '../fixtures/harness.js';

function page(n: number): string {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `<li class="r${i % 13}">entry ${i}</li>\n`;
  return s.slice(0, n);
}

const BODY = page(20_000);
const GZ = zlib.gzipSync(BODY);

/** Fields of the origin's own bytes, as some origins (object stores, proxies before it) send them on a 200. */
function byteFields(body: Buffer | string): Record<string, string> {
  const len = Buffer.byteLength(body);
  return {
    'content-length': String(len),
    'content-range': `bytes 0-${len - 1}/${len}`,
    'content-md5': 'Q2hlY2sgSW50ZWdyaXR5IQ==',
    'content-digest': 'sha-256=:AAAA:',
    'repr-digest': 'sha-256=:BBBB:',
  };
}

function assertNoOriginByteFields(r: Reply, what: string): void {
  for (const f of ['content-md5', 'content-digest', 'repr-digest']) assert.equal(r.headers[f], undefined, `${what}: ${f}`);
  assert.ok(!r.headers['etag']?.startsWith('"'), `${what}: a made variant's ETag is weak (${r.headers['etag']})`);
}

test("a variant Strata encodes carries no Content-Range of the identity body; a 206 cut from it only its own", async () => {
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=600', etag: '"v1"', ...byteFields(BODY) });
    res.end(BODY);
  });
  try {
    const miss = await h.get('/e', { 'accept-encoding': 'br' });
    assert.equal(miss.headers['content-encoding'], 'br');
    assert.equal(miss.headers['content-range'], undefined, 'made on the miss');
    assert.equal(miss.headers['content-length'], undefined, 'made while streaming: no length, never the identity one');
    assertNoOriginByteFields(miss, 'made on the miss');
    await h.stored(2);

    const hit = await h.get('/e', { 'accept-encoding': 'br' });
    assert.match(hit.headers['cache-status']!, /; hit; ttl=\d+$/);
    assert.equal(hit.headers['content-range'], undefined, 'the stored br variant');
    assert.equal(hit.headers['content-length'], String(hit.body.length));
    assertNoOriginByteFields(hit, 'stored br variant');

    const part = await h.get('/e', { 'accept-encoding': 'br', range: 'bytes=0-9' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 0-9/${hit.body.length}`, 'one Content-Range, of the encoded bytes');
    assert.deepEqual(part.body, hit.body.subarray(0, 10));

    // The origin's own identity body: its 206 has one Content-Range too, its own.
    const own = await h.get('/e', { range: 'bytes=10-19' });
    assert.equal(own.status, 206);
    assert.equal(own.headers['content-range'], `bytes 10-19/${BODY.length}`);
    assert.equal(own.text, BODY.slice(10, 20));
  } finally {
    await h.close();
  }
});

test("a body Strata decodes from an origin's gzip carries no Content-Range or length of the gzip bytes", async () => {
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=600', etag: '"v1"', 'content-encoding': 'gzip', ...byteFields(GZ) });
    res.end(GZ);
  });
  try {
    // Decoded on the miss for a client without gzip (the decoded copy is what is stored).
    const miss = await h.get('/d');
    assert.equal(miss.headers['content-encoding'], undefined);
    assert.equal(miss.text, BODY);
    assert.equal(miss.headers['content-range'], undefined, 'decoded on the miss');
    assertNoOriginByteFields(miss, 'decoded on the miss');
    await h.stored(1);
    const hit = await h.get('/d');
    assert.equal(hit.headers['content-range'], undefined, 'the stored decoded copy');
    assert.equal(hit.headers['content-length'], String(BODY.length));
    const part = await h.get('/d', { range: 'bytes=0-9' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 0-9/${BODY.length}`);

    // The origin's gzip, fetched for a gzip client, decoded from it for a client without gzip (a hit).
    const gz = await h.get('/d2', { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-range'], `bytes 0-${GZ.length - 1}/${GZ.length}`, "the origin's own bytes keep its fields");
    await h.stored(2);
    const decoded = await h.get('/d2');
    assert.match(decoded.headers['cache-status']!, /detail=decode-gzip$/);
    assert.equal(decoded.headers['content-range'], undefined, 'decoded on a hit');
    assertNoOriginByteFields(decoded, 'decoded on a hit');
    assert.equal(decoded.text, BODY);
  } finally {
    await h.close();
  }
});
