// RFC 9111 §4.3.4: a 304 updates every stored response it selects. Each coding Strata
// stored of one origin response (the origin's body, the variants made from it) is that
// response: a 304 that validates one coding refreshes them all — fields and freshness —
// so the other codings are not sent back to the origin when they are asked for next.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { startHarness } from '../fixtures/harness.js';

function page(n: number): string {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `<p class="p${i % 11}">paragraph ${i}</p>\n`;
  return s.slice(0, n);
}

const BODY = page(20_000);
const GZ = zlib.gzipSync(BODY);

test('a 304 for the identity body refreshes the br and gzip variants made from it too', async () => {
  let revision = 1;
  const h = await startHarness((req, res) => {
    const fields = { 'content-type': 'text/html', 'cache-control': 'max-age=10', etag: '"v1"', 'x-revision': String(revision) };
    if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304, fields).end();
    res.writeHead(200, { ...fields, 'content-length': BODY.length }).end(BODY);
  });
  try {
    await h.get('/r');
    await h.stored(1);
    assert.match((await h.get('/r', { 'accept-encoding': 'br' })).headers['cache-status']!, /detail=compress-br$/);
    await h.stored(2);
    assert.match((await h.get('/r', { 'accept-encoding': 'gzip' })).headers['cache-status']!, /detail=compress-gzip$/);
    await h.stored(3);

    h.clock.advance(20_000);
    revision = 2;
    const validated = await h.get('/r');
    assert.match(validated.headers['cache-status']!, /fwd=stale; fwd-status=304; stored; ttl=\d+$/);
    assert.equal(validated.headers['x-revision'], '2');
    assert.equal(h.origin.count('/r'), 2);

    for (const [ae, decode] of [['br', zlib.brotliDecompressSync], ['gzip', zlib.gunzipSync]] as const) {
      const r = await h.get('/r', { 'accept-encoding': ae });
      assert.match(r.headers['cache-status']!, /; hit; ttl=\d+$/, `${ae}: fresh after the 304, not revalidated again`);
      assert.equal(r.headers['x-revision'], '2', `${ae}: the 304's fields`);
      assert.equal(r.headers['content-encoding'], ae);
      assert.equal(Number(r.headers['age']), 0, `${ae}: its age restarts from the 304`);
      assert.equal(decode(r.body).toString(), BODY);
    }
    assert.equal(h.origin.count('/r'), 2, 'one 304 for the three codings');
  } finally {
    await h.close();
  }
});

test("a 304 for a made variant refreshes the origin's body and the copy decoded from it", async () => {
  let revision = 1;
  const h = await startHarness((req, res) => {
    const fields = { 'content-type': 'text/html', 'cache-control': 'max-age=10', etag: '"g1"', 'x-revision': String(revision) };
    if (req.headers['if-none-match'] === '"g1"') return void res.writeHead(304, fields).end();
    res.writeHead(200, { ...fields, 'content-encoding': 'gzip', 'content-length': GZ.length }).end(GZ);
  });
  try {
    await h.get('/g', { 'accept-encoding': 'gzip' });
    await h.stored(1);
    assert.match((await h.get('/g')).headers['cache-status']!, /detail=decode-gzip$/);
    await h.stored(2);
    assert.match((await h.get('/g', { 'accept-encoding': 'br' })).headers['cache-status']!, /detail=compress-br$/);
    await h.stored(3);

    h.clock.advance(20_000);
    revision = 2;
    const validated = await h.get('/g', { 'accept-encoding': 'br' });
    assert.match(validated.headers['cache-status']!, /fwd=stale; fwd-status=304; stored; ttl=\d+$/);
    for (const ae of ['gzip', 'identity']) {
      const r = await h.get('/g', { 'accept-encoding': ae });
      assert.match(r.headers['cache-status']!, /; hit; ttl=\d+$/, ae);
      assert.equal(r.headers['x-revision'], '2', ae);
    }
    assert.equal(h.origin.count('/g'), 2);
  } finally {
    await h.close();
  }
});

test('codings listed by the disk tier as summaries are refreshed from their records read from disk', async () => {
  let revision = 1;
  const host = { host: 'site.example' };
  const h = await startHarness(
    (req, res) => {
      const fields = { 'content-type': 'text/html', 'cache-control': 'max-age=10', etag: '"d1"', 'x-revision': String(revision) };
      if (req.headers['if-none-match'] === '"d1"') return void res.writeHead(304, fields).end();
      res.writeHead(200, { ...fields, 'content-length': BODY.length }).end(BODY);
    },
    { compress: { recompress: false }, logLevel: 'warn' },
  );
  try {
    await h.get('/k', host);
    await h.stored(1);
    await h.get('/k', { ...host, 'accept-encoding': 'br' });
    await h.stored(2);
    // Every line on disk, then a restart: the memory tier is empty, the disk tier lists summaries.
    await h.node.store().flush();
    await h.restart();
    assert.equal(h.node.store().stats()['memory']!.items, 0);
    assert.ok(h.node.store().variants('GET http://site.example/k').every((m) => !('headers' in m)), 'listed as summaries');

    h.clock.advance(20_000);
    revision = 2;
    assert.match((await h.get('/k', host)).headers['cache-status']!, /fwd=stale; fwd-status=304; stored/);
    const br = await h.get('/k', { ...host, 'accept-encoding': 'br' });
    assert.match(br.headers['cache-status']!, /; hit; ttl=\d+$/, 'the br variant refreshed by the same 304');
    assert.equal(br.headers['x-revision'], '2');
    assert.equal(zlib.brotliDecompressSync(br.body).toString(), BODY);
    assert.equal(h.origin.count('/k'), 2);
  } finally {
    await h.close();
  }
});
