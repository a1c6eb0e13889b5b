// Large objects in slices (src/pipeline/slices.ts), over real sockets against an
// origin that answers ranges and counts the bytes it sends. Small slices (64 KiB
// of a 1 MiB object, threshold 256 KiB) keep the tests fast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import { withHarness, startHarness, until, type Harness } from '../fixtures/harness.js';
import { seededRandom } from '../fixtures/seeded-random.js';
import { answerUnsatisfiable, servedRange } from '../fixtures/origin-range.js';

const KiB = 1024;
const SLICE = 64 * KiB;
const SIZE = 1024 * KiB;
const SLICES = { slices: { thresholdBytes: 256 * KiB, sliceBytes: SLICE } };

interface OriginState {
  body: Buffer;
  etag: string;
  /** Body bytes the origin has sent. */
  sent: number;
  /** Range header of every request, in order ('' for none). */
  ranges: string[];
  supportsRanges: boolean;
  /** A Range value the origin answers with half its bytes before dying. */
  dieOn?: string;
}

function content(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7 + (i >> 10)) & 0xff;
  return b;
}

function rangedOrigin(state: OriginState) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const size = state.body.length;
    state.ranges.push(req.headers.range ?? '');
    const headers = { 'content-type': 'video/mp4', ...(state.etag ? { etag: state.etag } : {}), 'cache-control': 'max-age=600' };
    const r = state.supportsRanges ? servedRange(req.headers.range, size) : undefined;
    if (r !== undefined) {
      if (r === 'unsatisfiable') return answerUnsatisfiable(res, size);
      const { start, end } = r;
      res.writeHead(206, { ...headers, 'accept-ranges': 'bytes', 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1 });
      if (req.headers.range === state.dieOn) {
        res.write(state.body.subarray(start, start + (end - start + 1) / 2));
        setImmediate(() => res.destroy());
        return;
      }
      state.sent += end - start + 1;
      res.end(state.body.subarray(start, end + 1));
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': size, ...(state.supportsRanges ? { 'accept-ranges': 'bytes' } : {}) });
    state.sent += size;
    res.end(state.body);
  };
}

function origin(body = content(SIZE, 1), etag = '"v1"'): OriginState {
  return { body, etag, sent: 0, ranges: [], supportsRanges: true };
}

const sliceRange = (i: number) => `bytes=${i * SLICE}-${(i + 1) * SLICE - 1}`;

function withSlices(state: OriginState, fn: (h: Harness) => Promise<void>, overrides = {}): Promise<void> {
  return withHarness(rangedOrigin(state), { ...SLICES, ...overrides }, fn);
}

test('a range request on a cold large object fetches only the slices it needs; the next is a hit', async () => {
  const o = origin();
  await withSlices(o, async (h) => {
    const r = await h.get('/movie.mp4', { range: 'bytes=300000-300099' });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes 300000-300099/${SIZE}`);
    assert.ok(r.body.equals(o.body.subarray(300000, 300100)));
    assert.match(r.headers['cache-status']!, /fwd=uri-miss; fwd-status=206; stored;.*detail=slices/);
    assert.equal(r.headers['accept-ranges'], 'bytes');
    assert.equal(r.headers['etag'], '"v1"');
    assert.deepEqual(o.ranges, [sliceRange(4)]);

    await h.stored(1);
    const again = await h.get('/movie.mp4', { range: 'bytes=300000-300099' });
    assert.ok(again.body.equals(r.body));
    assert.match(again.headers['cache-status']!, /; hit;.*detail=slices/);
    assert.equal(o.ranges.length, 1);

    // Spanning slices 4 (stored), 5 and 6 (not yet): two origin requests, one per missing slice.
    const span = await h.get('/movie.mp4', { range: 'bytes=327000-400000' });
    assert.equal(span.status, 206);
    assert.ok(span.body.equals(o.body.subarray(327000, 400001)));
    assert.deepEqual(o.ranges, [sliceRange(4), sliceRange(5), sliceRange(6)]);
    assert.equal(o.sent, 3 * SLICE);
  });
});

test('a full GET of a sliced object streams every slice in order, fetching each once; ranges, several ranges and HEAD follow from the slices', async () => {
  const o = origin();
  await withSlices(o, async (h) => {
    await h.get('/m', { range: 'bytes=0-0' });
    // The one-byte answer ends before its slice is committed; a full GET sliced from then on.
    await h.stored(1);
    const full = await h.get('/m');
    assert.equal(full.status, 200);
    assert.equal(full.headers['content-length'], String(SIZE));
    assert.equal(full.headers['content-range'], undefined);
    assert.ok(full.body.equals(o.body));
    assert.equal(o.ranges.length, SIZE / SLICE, 'one origin request per slice');
    assert.ok(o.ranges.every((r) => r !== ''), 'never the whole object');
    assert.equal(o.sent, SIZE);
    await h.stored(SIZE / SLICE);

    const again = await h.get('/m');
    assert.ok(again.body.equals(o.body));
    assert.match(again.headers['cache-status']!, /; hit/);
    const multi = await h.get('/m', { range: 'bytes=0-9,1000000-1000009' });
    assert.equal(multi.status, 206);
    assert.match(multi.headers['content-type']!, /^multipart\/byteranges; boundary=/);
    assert.ok(multi.body.includes(o.body.subarray(1000000, 1000010)));
    const suffix = await h.get('/m', { range: 'bytes=-10' });
    assert.ok(suffix.body.equals(o.body.subarray(SIZE - 10)));
    const head = await h.get('/m', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(SIZE));
    const beyond = await h.get('/m', { range: `bytes=${SIZE}-` });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers['content-range'], `bytes */${SIZE}`);
    const ifRange = await h.get('/m', { range: 'bytes=0-9', 'if-range': '"v0"' });
    assert.equal(ifRange.status, 200);
    assert.equal(ifRange.body.length, SIZE);
    assert.equal(o.sent, SIZE, 'nothing fetched twice');
  });
});

test('twenty clients seeking random ranges in a cold object: the origin sends each slice at most once', async () => {
  const o = origin(content(2 * SIZE, 3));
  await withSlices(o, async (h) => {
    const r = seededRandom(7);
    const rand = (n: number) => Math.floor(r() * n);
    const clients = Array.from({ length: 20 }, async () => {
      for (let k = 0; k < 3; k++) {
        const start = rand(2 * SIZE - 200_000);
        const end = start + rand(200_000);
        const r = await h.get('/seek', { range: `bytes=${start}-${end}` });
        assert.equal(r.status, 206);
        assert.ok(r.body.equals(o.body.subarray(start, end + 1)), `bytes ${start}-${end}`);
      }
    });
    await Promise.all(clients);
    assert.equal(new Set(o.ranges).size, o.ranges.length, `a slice was fetched twice: ${o.ranges.join(' ')}`);
    assert.ok(o.sent <= 2 * SIZE, `origin sent ${o.sent} bytes for a ${2 * SIZE}-byte object`);
    assert.ok(h.node.stats.counters.joined > 0, 'concurrent requests for one slice shared its fetch');
  });
});

test('the origin’s validator changes between slices: the answer is cut, never stitched; the outdated slices are dropped and the next answer is all one version', async () => {
  const o = origin();
  await withSlices(o, async (h) => {
    await h.get('/v', { range: 'bytes=0-99' });
    await h.stored(1);
    const v2 = content(SIZE, 2);
    o.body = v2;
    o.etag = '"v2"';
    // Slice 0 is fresh (v1) in the cache; slice 1 comes from the origin as v2.
    await assert.rejects(h.get('/v'), 'the client connection is cut rather than ending a stitched body');
    assert.ok(h.node.stats.counters.sliceVersionDrops >= 1);
    const next = await h.get('/v');
    assert.equal(next.status, 200);
    assert.equal(next.headers['etag'], '"v2"');
    assert.ok(next.body.equals(v2), 'every byte from the new version');
    const range = await h.get('/v', { range: 'bytes=0-99' });
    assert.ok(range.body.equals(v2.subarray(0, 100)));
  });
});

test('an object that stops being sliceable mid-answer (now small) cuts the answer, drops every slice, and is then fetched whole', async () => {
  const o = origin();
  await withSlices(o, async (h) => {
    await h.get('/shrink', { range: 'bytes=0-99' });
    await h.stored(1);
    const small = content(100 * KiB, 5);
    o.body = small;
    o.etag = '"small"';
    await assert.rejects(h.get('/shrink'));
    const next = await h.get('/shrink');
    assert.equal(next.status, 200);
    assert.ok(next.body.equals(small));
    assert.doesNotMatch(next.headers['cache-status']!, /slices/);
  });
});

test('slices survive a restart: a full GET after it is answered from disk without the origin', async () => {
  const o = origin();
  await withSlices(
    o,
    async (h) => {
      // A fixed Host: the node's port changes across the restart and Host is part of the key.
      const host = { host: 'media.example' };
      await h.get('/r', { ...host, range: 'bytes=0-0' });
      await h.stored(1);
      await h.get('/r', host);
      await h.stored(SIZE / SLICE);
      const before = o.ranges.length;
      await h.restart();
      const full = await h.get('/r', host);
      assert.equal(full.status, 200);
      assert.ok(full.body.equals(o.body));
      assert.match(full.headers['cache-status']!, /; hit/);
      const part = await h.get('/r', { ...host, range: 'bytes=500000-500009' });
      assert.ok(part.body.equals(o.body.subarray(500000, 500010)));
      assert.equal(o.ranges.length, before, 'no origin request after the restart');
    },
    { cache: { memoryMaxObjectBytes: 1024 } },
  );
});

test('objects Strata does not slice are passed through: a small one is stored whole alongside, others are remembered and not probed again', async () => {
  const small = origin(content(100 * KiB, 4));
  await withSlices(small, async (h) => {
    const r = await h.get('/small', { range: 'bytes=10-19' });
    assert.equal(r.status, 206);
    assert.ok(r.body.equals(small.body.subarray(10, 20)));
    assert.match(r.headers['cache-status']!, /fwd=bypass; fwd-status=206; detail=range/);
    await h.stored(1);
    assert.deepEqual(small.ranges.slice().sort(), ['', 'bytes=0-65535', 'bytes=10-19'], 'the slice probe, the client’s own range, the whole object in the background');
    const hit = await h.get('/small', { range: 'bytes=20-29' });
    assert.equal(hit.status, 206);
    assert.match(hit.headers['cache-status']!, /; hit/);
    assert.ok(hit.body.equals(small.body.subarray(20, 30)));
    assert.equal(small.ranges.length, 3);
  });
  const beyond = origin();
  await withSlices(beyond, async (h) => {
    const r = await h.get('/beyond', { range: `bytes=${SIZE + 10}-` });
    assert.equal(r.status, 416, 'the origin’s own 416, passed through');
    const next = await h.get('/beyond', { range: 'bytes=0-9' });
    assert.match(next.headers['cache-status']!, /detail=slices/, 'a range beyond the end does not stop slicing the object');
  });
  const noValidator = origin(content(SIZE, 9), '');
  await withSlices(noValidator, async (h) => {
    await h.get('/nv', { range: 'bytes=10-19' });
    await h.get('/nv', { range: 'bytes=20-29' });
    assert.deepEqual(noValidator.ranges, ['bytes=0-65535', 'bytes=10-19', 'bytes=20-29'], 'remembered: no second probe');
  });
  const weak = origin(content(SIZE, 6), 'W/"w1"');
  await withSlices(weak, async (h) => {
    const r = await h.get('/weak', { range: 'bytes=10-19' });
    assert.equal(r.status, 206);
    assert.match(r.headers['cache-status']!, /detail=range/, 'a weak ETag alone cannot tie slices together');
  });
  const plain = origin();
  plain.supportsRanges = false;
  await withSlices(plain, async (h) => {
    const r = await h.get('/plain', { range: 'bytes=10-19' });
    assert.equal(r.status, 200, 'the origin’s own answer to a range it ignores');
    assert.ok(r.body.equals(plain.body));
  });
});

test('an origin dying mid-slice cuts the client, stores nothing of that slice, and the next request refetches it', async () => {
  const o = origin();
  o.dieOn = sliceRange(2);
  await withSlices(o, async (h) => {
    await assert.rejects(h.get('/die', { range: `bytes=${2 * SLICE}-${2 * SLICE + 40_000}` }));
    o.dieOn = undefined;
    const r = await h.get('/die', { range: `bytes=${2 * SLICE}-${2 * SLICE + 40_000}` });
    assert.equal(r.status, 206);
    assert.ok(r.body.equals(o.body.subarray(2 * SLICE, 2 * SLICE + 40_001)));
    assert.deepEqual(o.ranges, [sliceRange(2), sliceRange(2)]);
  });
});

test('a client leaving a sliced full GET early: the slice in flight is still stored, the rest of the object is not fetched', async () => {
  const o = origin(content(4 * SIZE, 8));
  await withSlices(o, async (h) => {
    await h.get('/leave', { range: 'bytes=0-0' });
    await h.stored(1);
    const res = await request(h.base + '/leave');
    assert.equal(res.statusCode, 200);
    for await (const _ of res.body) break; // first chunk, then gone
    await h.stored(2);
    assert.ok(o.ranges.length < (4 * SIZE) / SLICE / 2, `only the slices in flight were fetched (${o.ranges.length})`);
  });
});

test('a range request while the whole object is being fetched for a full GET is passed through, not sliced alongside', async () => {
  const o = origin();
  let releaseWhole!: () => void;
  const wholeHeld = new Promise<void>((r) => (releaseWhole = r));
  const h = await startHarness((req, res) => {
    if (req.headers.range === undefined) {
      // The full GET: headers at once, the body once released.
      o.ranges.push('');
      res.writeHead(200, { 'content-type': 'video/mp4', etag: o.etag, 'cache-control': 'max-age=600', 'content-length': SIZE });
      void wholeHeld.then(() => res.end(o.body));
      return;
    }
    rangedOrigin(o)(req, res);
  }, SLICES);
  try {
    const full = h.get('/both');
    // Wait until the origin has the full GET (its fetch is then in flight).
    await until(() => o.ranges.length > 0, 'the full GET at the origin');
    const r = await h.get('/both', { range: 'bytes=100-199' });
    assert.equal(r.status, 206);
    assert.ok(r.body.equals(o.body.subarray(100, 200)));
    assert.match(r.headers['cache-status']!, /detail=range/);
    assert.deepEqual(o.ranges, ['', 'bytes=100-199']);
    releaseWhole();
    assert.ok((await full).body.equals(o.body));
  } finally {
    await h.close();
  }
});

test('a full GET of a cold large object whose origin offers ranges is stored in slices, not whole; clients collapsed onto it too', async () => {
  const o = origin();
  await withSlices(o, async (h) => {
    const [a, b] = await Promise.all([h.get('/dl'), h.get('/dl')]);
    for (const r of [a, b]) {
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], String(SIZE));
      assert.ok(r.body.equals(o.body));
      assert.match(r.headers['cache-status']!, /detail=slices/);
    }
    const slices = o.ranges.filter((r) => r !== '');
    assert.equal(new Set(slices).size, slices.length, 'each slice fetched once');
    assert.equal(slices.length, SIZE / SLICE);
    assert.equal(o.ranges.filter((r) => r === '').length, 1, 'one whole request, stopped once its headers showed a large ranged object');
    await h.stored(SIZE / SLICE);
    const again = await h.get('/dl', { range: 'bytes=5-9' });
    assert.match(again.headers['cache-status']!, /; hit;.*detail=slices/);
  });
  // Without Accept-Ranges on its 200, a large object is stored whole as before.
  const plain = origin();
  await withSlices(plain, async (h) => {
    plain.supportsRanges = false;
    const r = await h.get('/whole');
    assert.ok(r.body.equals(plain.body));
    assert.doesNotMatch(r.headers['cache-status']!, /slices/);
  });
});

test('only-if-cached on a sliced object: answered from stored slices when every slice asked for is here, else 504; the origin is never asked', async () => {
  const o = origin();
  await withSlices(o, async (h) => {
    await h.get('/oic', { range: sliceRange(4) });
    await h.stored(1);
    const asked = o.ranges.length;
    const cached = await h.get('/oic', { range: 'bytes=270000-270099', 'cache-control': 'only-if-cached' });
    assert.equal(cached.status, 206);
    assert.ok(cached.body.equals(o.body.subarray(270000, 270100)));
    assert.match(cached.headers['cache-status']!, /; hit;.*detail=slices/);
    // Slice 5 is not stored: the whole range is refused, not half answered.
    const spanning = await h.get('/oic', { range: `bytes=${4 * SLICE}-${5 * SLICE + 10}`, 'cache-control': 'only-if-cached' });
    assert.equal(spanning.status, 504);
    assert.equal((await h.get('/oic', { 'cache-control': 'only-if-cached' })).status, 504);
    assert.equal((await h.get('/never-seen', { range: sliceRange(0), 'cache-control': 'only-if-cached' })).status, 504);
    assert.equal(o.ranges.length, asked, 'no origin request for any only-if-cached request');
  });
});

test('only-if-cached on a sliced object with a stale slice, or a failing If-Range over missing slices: 504 before anything is sent, not a cut answer', async () => {
  const o = origin();
  await withSlices(o, async (h) => {
    await h.get('/oic2', { range: sliceRange(1) });
    await h.stored(1);
    h.clock.advance(601_000);
    await h.get('/oic2', { range: sliceRange(0) });
    await h.stored(2);
    // Slice 0 fresh, slice 1 stale (max-age=600): a range over both is refused whole.
    const stale = await h.get('/oic2', { range: `bytes=0-${2 * SLICE - 1}`, 'cache-control': 'only-if-cached' });
    assert.equal(stale.status, 504);
    // If-Range that does not match turns a one-slice range into the whole object: refused whole.
    const ifRange = await h.get('/oic2', { range: sliceRange(0), 'if-range': '"other"', 'cache-control': 'only-if-cached' });
    assert.equal(ifRange.status, 504);
    const fresh = await h.get('/oic2', { range: sliceRange(0), 'cache-control': 'only-if-cached' });
    assert.equal(fresh.status, 206);
    assert.equal(o.ranges.length, 2, 'no origin request for any only-if-cached request');
  });
});

test("a range request whose answer may not be stored for it alone (no-store, credentials) leaves slicing on for everyone else", async () => {
  const o = origin();
  await withSlices(o, async (h) => {
    const own = await request(h.base + '/v.mp4', { headers: { range: 'bytes=0-0', 'cache-control': 'no-store' } });
    assert.equal(own.statusCode, 206);
    await own.body.arrayBuffer();
    const auth = await request(h.base + '/v.mp4', { headers: { range: 'bytes=0-0', authorization: 'Bearer x' } });
    await auth.body.arrayBuffer();
    // Another client's range: answered from slices, stored, then a hit.
    const r = await request(h.base + '/v.mp4', { headers: { range: sliceRange(3) } });
    assert.equal(r.statusCode, 206);
    assert.ok(Buffer.from(await r.body.arrayBuffer()).equals(o.body.subarray(3 * SLICE, 4 * SLICE)));
    assert.doesNotMatch(String(r.headers['cache-status']), /detail=range/, String(r.headers['cache-status']));
    const again = await request(h.base + '/v.mp4', { headers: { range: sliceRange(3) } });
    await again.body.arrayBuffer();
    assert.match(String(again.headers['cache-status']), /hit/, String(again.headers['cache-status']));
  });
});
