// The compression stage against the limits on what is stored (issue 11, review):
// an origin's coded body over a bound (cache.maxVariants) is passed on whole — and
// decoded for a client without its coding — rather than stalled behind a decoder
// nobody reads.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { startHarness, type Harness, type Reply } from '../fixtures/harness.js';
import { getWithin, noisyPage } from '../fixtures/stalls.js';

test("an origin's gzip body over cache.maxVariants is passed on whole, and decoded for a client without gzip", async () => {
  const BODY = noisyPage(1_000_000);
  const gz = zlib.gzipSync(BODY);
  assert.ok(gz.length > 2 * 64 * 1024, 'larger than the buffers a stalled pipe fills');
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=600', etag: '"v1"', vary: 'Origin', 'content-encoding': 'gzip', 'content-length': gz.length });
    res.end(gz);
  }, { cache: { maxVariants: 1 } });
  try {
    const first = await getWithin(h, '/big', { origin: 'https://a.example', 'accept-encoding': 'gzip' }, 20_000);
    assert.deepEqual(first.body, gz);
    await h.stored(1);

    const over = await getWithin(h, '/big', { origin: 'https://b.example', 'accept-encoding': 'gzip' }, 20_000);
    assert.match(over.headers['cache-status']!, /fwd=vary-miss; fwd-status=200; detail=too-many-variants$/);
    assert.equal(over.headers['content-encoding'], 'gzip');
    assert.deepEqual(over.body, gz, 'the whole origin body, not a stall after the first pipe buffers');

    const plain = await getWithin(h, '/big', { origin: 'https://b.example' }, 20_000);
    assert.match(plain.headers['cache-status']!, /detail=too-many-variants$/);
    assert.equal(plain.headers['content-encoding'], undefined, 'a client without gzip never gets gzip bytes');
    assert.equal(plain.headers['content-length'], undefined);
    assert.equal(plain.headers['etag'], 'W/"v1-identity"', 'the ETag of the decoded bytes, as a stored decoded variant has');
    assert.equal(plain.headers['vary'], 'Origin, Accept-Encoding');
    assert.equal(plain.text, BODY);
    assert.equal(h.origin.count('/big'), 3);
    const key = `GET http://${new URL(h.base).host}/big`;
    assert.deepEqual(h.node.store().variants(key).map((m) => m.varyValues['origin']), ['https://a.example'], 'nothing over the bound stored');
  } finally {
    await h.close();
  }
});

test('a gzip body the cache may not store (private) is decoded for a client without gzip, passed as it came to one with it', async () => {
  const BODY = noisyPage(50_000);
  const gz = zlib.gzipSync(BODY);
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'private, max-age=600', etag: '"p1"', 'content-encoding': 'gzip', 'content-length': gz.length });
    res.end(gz);
  });
  try {
    const plain = await getWithin(h, '/private', {}, 20_000);
    assert.match(plain.headers['cache-status']!, /fwd=uri-miss; fwd-status=200; detail=private$/);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers['etag'], 'W/"p1-identity"');
    assert.equal(plain.text, BODY);
    const coded = await getWithin(h, '/private', { 'accept-encoding': 'gzip' }, 20_000);
    assert.equal(coded.headers['content-encoding'], 'gzip');
    assert.equal(coded.headers['etag'], '"p1"');
    assert.deepEqual(coded.body, gz);
    assert.equal(h.origin.requests[1]!.headers['accept-encoding'], 'identity', 'asked for identity, got gzip anyway');
  } finally {
    await h.close();
  }
});

test('a gzip body with Vary: * (never stored) is decoded for a client without gzip all the same; its Vary stays *', async () => {
  const BODY = noisyPage(50_000);
  const gz = zlib.gzipSync(BODY);
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=600', etag: '"s1"', vary: '*', 'content-encoding': 'gzip', 'content-length': gz.length });
    res.end(gz);
  });
  try {
    const plain = await getWithin(h, '/star', { 'accept-encoding': 'br' }, 20_000);
    assert.match(plain.headers['cache-status']!, /fwd=uri-miss; fwd-status=200; detail=vary-star$/);
    assert.equal(plain.headers['content-encoding'], undefined, 'Strata asked the origin for identity: a client without gzip never gets gzip bytes');
    assert.equal(plain.headers['etag'], 'W/"s1-identity"');
    assert.equal(plain.headers['vary'], '*', 'Vary: * already says every field may matter');
    assert.equal(plain.text, BODY);
    const coded = await getWithin(h, '/star', { 'accept-encoding': 'gzip' }, 20_000);
    assert.equal(coded.headers['content-encoding'], 'gzip');
    assert.deepEqual(coded.body, gz);
    assert.equal(h.origin.count('/star'), 2);
  } finally {
    await h.close();
  }
});

test('cache.maxVariants bounds made variants too: one over it is served, not stored; an origin body takes a made variant\'s place', async () => {
  const BODY = noisyPage(20_000);
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=600', etag: '"v1"', vary: 'Origin', 'content-length': BODY.length });
    res.end(BODY);
  }, { cache: { maxVariants: 2 } });
  const key = () => `GET http://${new URL(h.base).host}/mv`;
  const stored = () => h.node.store().variants(key()).map((m) => `${m.varyValues['origin']} ${m.varyValues['accept-encoding']}`).sort();
  const a = { origin: 'https://a.example' };
  const b = { origin: 'https://b.example' };
  try {
    await h.get('/mv', a);
    await h.stored(1);
    assert.match((await h.get('/mv', { ...a, 'accept-encoding': 'br' })).headers['cache-status']!, /; hit; ttl=\d+; detail=compress-br$/);
    await h.stored(2);

    const gz = await h.get('/mv', { ...a, 'accept-encoding': 'gzip' });
    assert.match(gz.headers['cache-status']!, /; hit; ttl=\d+; detail=too-many-variants$/, 'made for the client, not stored');
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(zlib.gunzipSync(gz.body).toString(), BODY);
    assert.deepEqual(stored(), ['https://a.example br', 'https://a.example identity']);

    // Another Origin: the origin's body is stored in the place of the br variant (made again at will).
    const other = await h.get('/mv', b);
    assert.match(other.headers['cache-status']!, /fwd=vary-miss; fwd-status=200; stored; ttl=\d+$/);
    await h.until(() => stored().join() === 'https://a.example identity,https://b.example identity', 'the br variant displaced');
    assert.match((await h.get('/mv', b)).headers['cache-status']!, /; hit; ttl=\d+$/);

    const br = await h.get('/mv', { ...a, 'accept-encoding': 'br' });
    assert.match(br.headers['cache-status']!, /; hit; ttl=\d+; detail=too-many-variants$/);
    assert.equal(zlib.brotliDecompressSync(br.body).toString(), BODY);
    // Nothing made left to displace: a third Origin is over the bound.
    assert.match((await h.get('/mv', { origin: 'https://c.example' })).headers['cache-status']!, /detail=too-many-variants$/);
    assert.deepEqual(stored(), ['https://a.example identity', 'https://b.example identity']);
    assert.equal(h.origin.count('/mv'), 3);
  } finally {
    await h.close();
  }
});

test('a request with Cache-Control: no-store gets its coding made on a hit, and nothing made for it is stored (RFC 9111 §5.2.1.5)', async () => {
  const BODY = noisyPage(20_000);
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=600', etag: '"v1"', 'content-length': BODY.length });
    res.end(BODY);
  });
  const codings = () => h.node.store().variants(`GET http://${new URL(h.base).host}/ns`).map((m) => m.varyValues['accept-encoding']).sort();
  try {
    await h.get('/ns');
    await h.stored(1);
    for (const ae of ['gzip', 'br']) {
      const r = await h.get('/ns', { 'cache-control': 'no-store', 'accept-encoding': ae });
      assert.match(r.headers['cache-status']!, new RegExp(`; hit; ttl=\\d+; detail=compress-${ae}$`));
      assert.equal(r.headers['content-encoding'], ae);
      assert.equal((ae === 'gzip' ? zlib.gunzipSync(r.body) : zlib.brotliDecompressSync(r.body)).toString(), BODY);
      // A made variant that is stored is committed before its client gets the end of it: none is.
      assert.deepEqual(codings(), ['identity'], `nothing stored for the no-store ${ae} request`);
    }
    const stored = h.node.stats.counters.stored;
    const later = await h.get('/ns', { 'accept-encoding': 'gzip' });
    assert.match(later.headers['cache-status']!, /detail=compress-gzip$/, 'made again: nothing was kept');
    assert.equal(h.node.stats.counters.stored, stored + 1);
    assert.deepEqual(codings(), ['gzip', 'identity']);
  } finally {
    await h.close();
  }
});
