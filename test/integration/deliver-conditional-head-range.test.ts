// Answers built from a stored response: client conditionals (RFC 9111 §4.3.2),
// HEAD from a stored GET, single byte ranges (RFC 9110 §14).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, fixed } from '../fixtures/harness.js';

const BODY = '0123456789abcdefghij';
const LM = 'Tue, 01 Sep 2026 10:00:00 GMT';

async function primed() {
  const h = await startHarness(fixed(BODY, { 'cache-control': 'max-age=600', etag: '"abc"', 'last-modified': LM, 'content-type': 'text/plain' }));
  await h.get('/o');
  return h;
}

test('If-None-Match and If-Modified-Since are answered 304 from cache', async () => {
  const h = await primed();
  try {
    const inm = await h.get('/o', { 'if-none-match': 'W/"abc", "zzz"' });
    assert.equal(inm.status, 304);
    assert.equal(inm.body.length, 0);
    assert.equal(inm.headers['etag'], '"abc"');
    assert.match(inm.headers['cache-status']!, /; hit/);
    const other = await h.get('/o', { 'if-none-match': '"nope"' });
    assert.equal(other.status, 200);
    const ims = await h.get('/o', { 'if-modified-since': LM });
    assert.equal(ims.status, 304);
    const older = await h.get('/o', { 'if-modified-since': 'Mon, 31 Aug 2026 10:00:00 GMT' });
    assert.equal(older.status, 200);
    assert.equal(h.origin.count('/o'), 1);
  } finally {
    await h.close();
  }
});

test('a conditional request on a miss fills the cache and is answered 304', async () => {
  const h = await startHarness(fixed(BODY, { 'cache-control': 'max-age=600', etag: '"abc"' }));
  try {
    const r = await h.get('/cm', { 'if-none-match': '"abc"' });
    assert.equal(r.status, 304);
    assert.equal(h.origin.requests[0]!.headers['if-none-match'], undefined, 'the fill asks for the full body');
    await h.stored(1); // the 304 is sent before the fill completes
    const full = await h.get('/cm');
    assert.equal(full.text, BODY);
    assert.match(full.headers['cache-status']!, /; hit/);
  } finally {
    await h.close();
  }
});

test('HEAD is answered from a stored GET; a HEAD miss fills the cache with a GET', async () => {
  const h = await primed();
  try {
    const head = await h.get('/o', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-length'], String(BODY.length));
    assert.match(head.headers['cache-status']!, /; hit/);
    const headMiss = await h.get('/hm', {}, 'HEAD');
    assert.equal(headMiss.body.length, 0);
    assert.equal(h.origin.requests.at(-1)!.method, 'GET');
    await h.stored(2);
    const get = await h.get('/hm');
    assert.equal(get.text, BODY);
    assert.match(get.headers['cache-status']!, /; hit/);
  } finally {
    await h.close();
  }
});

test('single ranges are answered 206 from cache; unsatisfiable ones 416; invalid ones ignored', async () => {
  const h = await primed();
  try {
    const r = await h.get('/o', { range: 'bytes=2-5' });
    assert.equal(r.status, 206);
    assert.equal(r.text, '2345');
    assert.equal(r.headers['content-range'], `bytes 2-5/${BODY.length}`);
    assert.equal(r.headers['accept-ranges'], 'bytes');
    const suffix = await h.get('/o', { range: 'bytes=-3' });
    assert.equal(suffix.text, 'hij');
    const open = await h.get('/o', { range: 'bytes=18-' });
    assert.equal(open.text, 'ij');
    const bad = await h.get('/o', { range: 'bytes=50-60' });
    assert.equal(bad.status, 416);
    assert.equal(bad.headers['content-range'], `bytes */${BODY.length}`);
    const invalid = await h.get('/o', { range: 'bytes=5-2' });
    assert.equal(invalid.status, 200);
    assert.equal(invalid.text, BODY);
    const ifRangeMismatch = await h.get('/o', { range: 'bytes=0-1', 'if-range': '"other"' });
    assert.equal(ifRangeMismatch.status, 200);
    const ifRangeMatch = await h.get('/o', { range: 'bytes=0-1', 'if-range': '"abc"' });
    assert.equal(ifRangeMatch.status, 206);
    assert.equal(h.origin.count('/o'), 1);
  } finally {
    await h.close();
  }
});

test('ranges from a disk-only entry read the requested bytes', async () => {
  const big = Buffer.alloc(64 * 1024, 7);
  big.write('MARK', 40_000);
  const h = await startHarness(fixed(big, { 'cache-control': 'max-age=600' }), { cache: { memoryMaxObjectBytes: 1024 } });
  try {
    await h.get('/big');
    await h.stored(1);
    const r = await h.get('/big', { range: 'bytes=40000-40003' });
    assert.equal(r.status, 206);
    assert.equal(r.text, 'MARK');
    const full = await h.get('/big');
    assert.ok(full.body.equals(big));
  } finally {
    await h.close();
  }
});

test('RFC 9111 §4.3.2: If-Modified-Since is answered 304 from a fresh stored response without Last-Modified, by its Date', async () => {
  const h = await startHarness((_req, res) => {
    // The harness origin stamps Date from the fake clock; no Last-Modified, no ETag.
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain', 'content-length': '5' });
    res.end('hello');
  });
  try {
    const first = await h.get('/no-lm');
    const date = first.headers['date']!;
    assert.ok(date, 'the origin sent Date');
    await h.stored(1);
    const same = await h.get('/no-lm', { 'if-modified-since': date });
    assert.equal(same.status, 304);
    assert.match(same.headers['cache-status']!, /; hit/);
    const later = await h.get('/no-lm', { 'if-modified-since': new Date(Date.parse(date) + 60_000).toUTCString() });
    assert.equal(later.status, 304);
    const earlier = await h.get('/no-lm', { 'if-modified-since': new Date(Date.parse(date) - 60_000).toUTCString() });
    assert.equal(earlier.status, 200);
    assert.equal(earlier.text, 'hello');
    assert.equal(h.origin.count('/no-lm'), 1);
  } finally {
    await h.close();
  }
});

test('Expires with wrong-case day, month and zone names is understood (RFC 9110 §5.6.7: recipients parse robustly)', async () => {
  const h = await startHarness((_req, res) => {
    const expires = new Date(Date.now() + 3_600_000).toUTCString().toUpperCase();
    res.writeHead(200, { expires, 'content-type': 'text/plain', 'content-length': '5' });
    res.end('hello');
  });
  try {
    await h.get('/upper-expires');
    await h.stored(1);
    const again = await h.get('/upper-expires');
    assert.match(again.headers['cache-status']!, /; hit/);
    assert.equal(h.origin.count('/upper-expires'), 1);
  } finally {
    await h.close();
  }
});
