// RFC 9110 §14 from cache, over real sockets: several ranges as multipart/byteranges
// from either tier, the abuse limits, If-Range both ways, 416, Range on HEAD,
// Accept-Ranges on stored answers and on storable misses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, fixed, type Reply } from '../fixtures/harness.js';

const LM = 'Tue, 01 Sep 2026 10:00:00 GMT';

interface Part {
  headers: Record<string, string>;
  body: Buffer;
}

/** A strict multipart/byteranges reader: fails on anything but the exact framing. */
function parts(r: Reply): Part[] {
  const m = /^multipart\/byteranges; boundary=(\S+)$/.exec(r.headers['content-type'] ?? '');
  assert.ok(m, `multipart content-type, got ${r.headers['content-type']}`);
  assert.equal(r.headers['content-length'], String(r.body.length));
  const delim = Buffer.from(`\r\n--${m[1]}`, 'latin1');
  const out: Part[] = [];
  let at = r.body.indexOf(delim);
  assert.equal(at, 0, 'the body starts with the first delimiter');
  for (;;) {
    at += delim.length;
    if (r.body.subarray(at, at + 4).toString('latin1') === '--\r\n') {
      assert.equal(at + 4, r.body.length, 'nothing after the close delimiter');
      return out;
    }
    const headEnd = r.body.indexOf('\r\n\r\n', at);
    const headers: Record<string, string> = {};
    for (const line of r.body.subarray(at + 2, headEnd).toString('latin1').split('\r\n')) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(headers['content-range'] ?? '');
    assert.ok(range, `part Content-Range, got ${headers['content-range']}`);
    const len = Number(range[2]) - Number(range[1]) + 1;
    const body = r.body.subarray(headEnd + 4, headEnd + 4 + len);
    out.push({ headers, body });
    at = headEnd + 4 + len;
    assert.equal(r.body.indexOf(delim, at), at, 'a delimiter right after each part');
  }
}

function pattern(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + (i >> 8)) & 0xff;
  return b;
}

const HEADERS = { 'cache-control': 'max-age=600', etag: '"v1"', 'last-modified': LM, 'content-type': 'video/mp4' };

for (const tier of ['memory', 'disk'] as const) {
  test(`several ranges are answered as multipart/byteranges from the ${tier} tier`, async () => {
    const body = pattern(200_000);
    const h = await startHarness(fixed(body, HEADERS), tier === 'disk' ? { cache: { memoryMaxObjectBytes: 1024 } } : {});
    try {
      await h.get('/v');
      await h.stored(1);
      const r = await h.get('/v', { range: 'bytes=150000-150099, 0-9, -5' });
      assert.equal(r.status, 206);
      assert.match(r.headers['cache-status']!, /; hit/);
      assert.equal(r.headers['content-range'], undefined, 'no Content-Range on the multipart answer itself');
      assert.equal(r.headers['accept-ranges'], 'bytes');
      const ps = parts(r);
      assert.deepEqual(
        ps.map((p) => p.headers['content-range']),
        ['bytes 0-9/200000', 'bytes 150000-150099/200000', 'bytes 199995-199999/200000'],
        'parts in ascending order',
      );
      for (const p of ps) assert.equal(p.headers['content-type'], 'video/mp4');
      assert.ok(ps[0]!.body.equals(body.subarray(0, 10)));
      assert.ok(ps[1]!.body.equals(body.subarray(150000, 150100)));
      assert.ok(ps[2]!.body.equals(body.subarray(199995)));

      // Overlapping ranges within the representation are coalesced into one part.
      const merged = await h.get('/v', { range: 'bytes=100-199,150-299' });
      assert.equal(merged.status, 206);
      assert.equal(merged.headers['content-range'], 'bytes 100-299/200000');
      assert.ok(merged.body.equals(body.subarray(100, 300)));
      assert.equal(h.origin.count('/v'), 1);
    } finally {
      await h.close();
    }
  });
}

test('abusive range sets get the whole representation once: too many, or overlap beyond the size', async () => {
  const body = pattern(10_000);
  const h = await startHarness(fixed(body, HEADERS));
  try {
    await h.get('/a');
    const many = 'bytes=' + Array.from({ length: 17 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',');
    const r1 = await h.get('/a', { range: many });
    assert.equal(r1.status, 200);
    assert.ok(r1.body.equals(body));
    const sixteen = 'bytes=' + Array.from({ length: 16 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',');
    const r2 = await h.get('/a', { range: sixteen });
    assert.equal(r2.status, 206);
    assert.equal(parts(r2).length, 16);
    const r3 = await h.get('/a', { range: 'bytes=0-,0-,0-,0-' });
    assert.equal(r3.status, 200);
    assert.equal(r3.body.length, body.length);
  } finally {
    await h.close();
  }
});

test('416 carries Content-Range: bytes */length, also for a set where nothing is satisfiable', async () => {
  const h = await startHarness(fixed(pattern(1000), HEADERS));
  try {
    await h.get('/u');
    for (const range of ['bytes=1000-', 'bytes=5000-6000,2000-', 'bytes=-0']) {
      const r = await h.get('/u', { range });
      assert.equal(r.status, 416, range);
      assert.equal(r.headers['content-range'], 'bytes */1000', range);
      assert.match(r.headers['cache-status']!, /; hit/);
    }
  } finally {
    await h.close();
  }
});

test('a suffix range of an empty stored body is ignored (200, empty), a first-pos range of it is 416', async () => {
  const h = await startHarness(fixed('', HEADERS));
  try {
    await h.get('/empty');
    const suffix = await h.get('/empty', { range: 'bytes=-5' });
    assert.equal(suffix.status, 200);
    assert.equal(suffix.body.length, 0);
    assert.equal(suffix.headers['content-range'], undefined);
    assert.match(suffix.headers['cache-status']!, /; hit/);
    const first = await h.get('/empty', { range: 'bytes=0-' });
    assert.equal(first.status, 416);
    assert.equal(first.headers['content-range'], 'bytes */0');
  } finally {
    await h.close();
  }
});

test('If-Range: a strong ETag or the exact Last-Modified date allows the range; anything else gets the whole body', async () => {
  const body = pattern(1000);
  const h = await startHarness(fixed(body, HEADERS));
  try {
    await h.get('/ir');
    const cases: [string, number][] = [
      ['"v1"', 206],
      ['"v0"', 200],
      ['W/"v1"', 200],
      [LM, 206],
      ['Tue, 01 Sep 2026 10:00:01 GMT', 200],
      ['not a date', 200],
    ];
    for (const [ifRange, want] of cases) {
      const r = await h.get('/ir', { range: 'bytes=0-9,20-29', 'if-range': ifRange });
      assert.equal(r.status, want, ifRange);
      if (want === 200) assert.ok(r.body.equals(body), ifRange);
      else assert.equal(parts(r).length, 2, ifRange);
    }
  } finally {
    await h.close();
  }
});

test('If-Range with a date: the range applies only when the stored Last-Modified is strong (at least 1 s before Date)', async () => {
  const body = pattern(1000);
  const cases: [string, Record<string, string>, number][] = [
    ['Last-Modified an hour before Date', { date: 'Tue, 01 Sep 2026 11:00:00 GMT' }, 206],
    ['Last-Modified equal to Date', { date: LM }, 200],
    ['Last-Modified after Date', { date: 'Tue, 01 Sep 2026 09:59:59 GMT' }, 200],
  ];
  const h = await startHarness((req, res) => {
    const c = cases[Number(req.url!.slice('/irdate-'.length))]!;
    // Dates in the past: a lifetime long enough that the entry is still fresh (answered from the store).
    res.writeHead(200, { ...HEADERS, 'cache-control': 'max-age=315360000', ...c[1], 'content-length': String(body.length) });
    res.end(body);
  });
  try {
    for (const [i, [name, , want]] of cases.entries()) {
      await h.get(`/irdate-${i}`);
      const r = await h.get(`/irdate-${i}`, { range: 'bytes=0-9', 'if-range': LM });
      assert.match(r.headers['cache-status']!, /; hit/, name);
      assert.equal(r.status, want, name);
      if (want === 200) assert.ok(r.body.equals(body), `${name}: the whole representation`);
      else assert.ok(r.body.equals(body.subarray(0, 10)), name);
    }
  } finally {
    await h.close();
  }
});

test('Range is ignored on HEAD (RFC 9110 §14.2: defined for GET only)', async () => {
  const h = await startHarness(fixed(pattern(1000), HEADERS));
  try {
    await h.get('/h');
    const r = await h.get('/h', { range: 'bytes=0-9' }, 'HEAD');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], '1000');
    assert.equal(r.headers['content-range'], undefined);
  } finally {
    await h.close();
  }
});

test('Accept-Ranges: bytes on a storable miss, whatever the origin said; not on an uncacheable answer', async () => {
  const h = await startHarness((req, res) => {
    const cc = req.url === '/private' ? 'private' : 'max-age=60';
    res.writeHead(200, { 'content-length': 3, 'cache-control': cc, 'accept-ranges': 'none' });
    res.end('abc');
  });
  try {
    const miss = await h.get('/m');
    assert.match(miss.headers['cache-status']!, /stored/);
    assert.equal(miss.headers['accept-ranges'], 'bytes');
    const priv = await h.get('/private');
    assert.equal(priv.headers['accept-ranges'], 'none', 'a pass-through keeps the origin’s word');
  } finally {
    await h.close();
  }
});

test('media bodies are never re-encoded: a video asked for with Accept-Encoding: gzip comes back byte for byte, on the miss and the hit', async () => {
  const body = pattern(100_000);
  const h = await startHarness(fixed(body, HEADERS));
  try {
    for (const want of ['stored', '; hit']) {
      const r = await h.get('/media', { 'accept-encoding': 'gzip, br, zstd' });
      assert.match(r.headers['cache-status']!, new RegExp(want));
      assert.equal(r.headers['content-encoding'], undefined);
      assert.equal(r.headers['content-type'], 'video/mp4');
      assert.ok(r.body.equals(body));
    }
  } finally {
    await h.close();
  }
});

test("a 206 from a stored 200 does not carry that 200's digests of its own content (Content-Digest, Content-MD5); Repr-Digest and Digest stay", async () => {
  const body = pattern(10_000);
  const digests = { 'content-digest': 'sha-256=:whole-content:', 'content-md5': 'whole-md5', 'repr-digest': 'sha-256=:whole-repr:', digest: 'SHA-256=whole-instance' };
  const h = await startHarness(fixed(body, { ...HEADERS, ...digests }));
  try {
    await h.get('/d');
    // RFC 9530 §2: Content-Digest is of the message's content, here some bytes of it (and the obsolete Content-MD5 likewise).
    for (const range of ['bytes=0-99', 'bytes=0-9,5000-5009']) {
      const r = await h.get('/d', { range });
      assert.equal(r.status, 206, range);
      assert.equal(r.headers['content-digest'], undefined, range);
      assert.equal(r.headers['content-md5'], undefined, range);
      // Of the whole representation (RFC 9530 §3; RFC 3230's instance digest): true of a part's too.
      assert.equal(r.headers['repr-digest'], digests['repr-digest'], range);
      assert.equal(r.headers['digest'], digests.digest, range);
    }
    // The whole body still carries every one.
    const whole = await h.get('/d');
    assert.equal(whole.status, 200);
    assert.equal(whole.headers['content-digest'], digests['content-digest']);
    assert.equal(whole.headers['content-md5'], digests['content-md5']);
  } finally {
    await h.close();
  }
});

test('a range request on a stale entry whose revalidation brings a new 200 gets a 206 of the new response, as a miss of a small object does', async () => {
  let version = 1;
  const bodyOf = (v: number) => pattern(50_000).map((b) => b ^ v);
  const h = await startHarness((req, res) => {
    const etag = `"r${version}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag, 'cache-control': 'max-age=10' });
      return res.end();
    }
    const body = bodyOf(version);
    res.writeHead(200, { etag, 'cache-control': 'max-age=10', 'content-type': 'video/mp4', 'content-length': body.length });
    res.end(body);
  });
  try {
    await h.get('/s');
    await h.stored(1);
    h.clock.advance(20_000);
    version = 2;
    const r = await h.get('/s', { range: 'bytes=40000-40099' });
    assert.match(r.headers['cache-status']!, /fwd=stale; fwd-status=200; stored/);
    assert.equal(r.status, 206, 'the range of the new response, not its whole body');
    assert.equal(r.headers['content-range'], 'bytes 40000-40099/50000');
    assert.equal(r.headers['etag'], '"r2"');
    assert.ok(r.body.equals(bodyOf(2).subarray(40000, 40100)));
    // Its If-Range names the old version: the whole new response (RFC 9110 §13.1.5).
    h.clock.advance(20_000);
    version = 3;
    const old = await h.get('/s', { range: 'bytes=0-9', 'if-range': '"r2"' });
    assert.equal(old.status, 200);
    assert.ok(old.body.equals(bodyOf(3)));
    assert.equal(h.origin.count('/s'), 3);
  } finally {
    await h.close();
  }
});
