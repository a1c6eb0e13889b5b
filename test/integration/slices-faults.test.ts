// Slices (src/pipeline/slices.ts) under origin faults, over real sockets: what an
// origin's failure on one slice may and may not change about the object.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withHarness, type Harness } from '../fixtures/harness.js';
import { answerUnsatisfiable, servedRange } from '../fixtures/origin-range.js';

const KiB = 1024;
const SLICE = 64 * KiB;
// Not a multiple of the slice size: the last slice is short.
const SIZE = 1024 * KiB + 1000;
const SLICES = { slices: { thresholdBytes: 256 * KiB, sliceBytes: SLICE } };

interface OriginState {
  body: Buffer;
  /** Range header of every request, in order ('' for none). */
  ranges: string[];
  /** Answers a request itself when it returns true (a fault). */
  fault?: (range: string, res: ServerResponse) => boolean;
}

function content(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + (i >> 10)) & 0xff;
  return b;
}

function rangedOrigin(state: OriginState) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const range = req.headers.range ?? '';
    state.ranges.push(range);
    if (state.fault?.(range, res)) return;
    const size = state.body.length;
    const headers = { 'content-type': 'video/mp4', 'accept-ranges': 'bytes', etag: '"v1"', 'cache-control': 'max-age=600' };
    const r = servedRange(range, size);
    if (r === undefined) {
      res.writeHead(200, { ...headers, 'content-length': size });
      res.end(state.body);
      return;
    }
    if (r === 'unsatisfiable') return answerUnsatisfiable(res, size);
    const { start, end } = r;
    res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1 });
    res.end(state.body.subarray(start, end + 1));
  };
}

function withSlices(state: OriginState, fn: (h: Harness) => Promise<void>, overrides = {}): Promise<void> {
  return withHarness(rangedOrigin(state), { ...SLICES, ...overrides }, fn);
}

const at = (i: number) => i * SLICE;

/** A 503 for every request whose range starts in slice `index`, while `down()`. */
function unavailableFor(index: number, down: () => boolean) {
  return (range: string, res: ServerResponse): boolean => {
    if (!down() || !range.startsWith(`bytes=${at(index)}-`)) return false;
    res.writeHead(503, { 'content-type': 'text/plain', 'content-length': 4 });
    res.end('down');
    return true;
  };
}

test('a 5xx for the first slice an answer needs is passed on, and slicing stays on: the stored slices answer the next request', async () => {
  const o: OriginState = { body: content(SIZE), ranges: [] };
  await withSlices(o, async (h) => {
    await h.get('/a', { range: `bytes=0-${at(4) - 1}` });
    await h.stored(4);
    let down = true;
    o.fault = unavailableFor(5, () => down);
    const failed = await h.get('/a', { range: `bytes=${at(5)}-${at(5) + 9}` });
    assert.equal(failed.status, 503, "the origin's error, not bytes");
    down = false;
    const next = await h.get('/a', { range: 'bytes=100-199' });
    assert.equal(next.status, 206);
    assert.ok(next.body.equals(o.body.subarray(100, 200)));
    assert.match(next.headers['cache-status']!, /; hit;.*detail=slices/, `answered from the stored slices: ${next.headers['cache-status']}`);
    const last = await h.get('/a', { range: `bytes=${SIZE - 2000}-` });
    assert.equal(last.status, 206);
    assert.equal(last.headers['content-range'], `bytes ${SIZE - 2000}-${SIZE - 1}/${SIZE}`);
    assert.ok(last.body.equals(o.body.subarray(SIZE - 2000)), 'sliced again after the error: the short last slice too');
    assert.match(last.headers['cache-status']!, /detail=slices/);
  });
});

test('a 5xx for a slice in the middle of an answer cuts that answer but drops no stored slice', async () => {
  const o: OriginState = { body: content(SIZE), ranges: [] };
  await withSlices(o, async (h) => {
    await h.get('/b', { range: `bytes=0-${at(4) - 1}` });
    await h.stored(4);
    let down = true;
    o.fault = unavailableFor(5, () => down);
    await assert.rejects(h.get('/b', { range: `bytes=0-${at(7)}` }), 'cut: the origin failed mid-answer');
    down = false;
    assert.equal(h.node.stats.counters.sliceVersionDrops, 0, 'an origin error is no news of the object');
    const fetched = o.ranges.length;
    const next = await h.get('/b', { range: `bytes=0-${at(4) - 1}` });
    assert.ok(next.body.equals(o.body.subarray(0, at(4))));
    assert.match(next.headers['cache-status']!, /; hit;.*detail=slices/, `slices 0-3 still stored: ${next.headers['cache-status']}`);
    assert.equal(o.ranges.length, fetched, 'no origin request');
  });
});

test('an origin that cannot be reached: stale stored slices answer as a whole stale entry would (stale-if-disconnected), and only those', async () => {
  const o: OriginState = { body: content(SIZE), ranges: [] };
  await withSlices(o, async (h) => {
    await h.get('/c', { range: `bytes=0-${at(4) - 1}` });
    await h.stored(4);
    h.clock.advance(700_000);
    await h.origin.close();
    const r = await h.get('/c', { range: `bytes=100-${at(3) + 99}` });
    assert.equal(r.status, 206);
    assert.ok(r.body.equals(o.body.subarray(100, at(3) + 100)), 'every byte, from the stale slices');
    assert.match(r.headers['cache-status']!, /; fwd=stale; ttl=-\d+; detail=stale-if-disconnected/, r.headers['cache-status']);
    // Slice 5 was never stored: nothing to fall back on.
    const missing = await h.get('/c', { range: `bytes=${at(5)}-${at(5) + 9}` });
    assert.ok(missing.status >= 500, `an error for what was never stored: ${missing.status}`);
    // Beyond the window: the error, as for a whole entry.
    h.clock.advance(3_600_000);
    const late = await h.get('/c', { range: 'bytes=0-9' });
    assert.ok(late.status >= 500, `stale beyond cache.staleIfDisconnectedS: ${late.status}`);
  }, { cache: { staleIfDisconnectedS: 3600 } });
});

/** Every file under `dir`. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) out.push(...(e.isDirectory() ? await filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
  return out;
}

test('a stored slice found damaged on disk before a byte of it is sent (a part of it read after a restart) is fetched again in its place: the answer is whole, not cut', async () => {
  const big = 512 * KiB;
  // Slices that differ from each other (each its own blob on disk), larger than a disk hit reads whole: they stream.
  const body = Buffer.from(Array.from({ length: 8 * big }, (_, i) => (i * 7 + Math.floor(i / 3000)) & 0xff));
  const o: OriginState = { body, ranges: [] };
  const host = { host: 'media.example' };
  await withSlices(
    o,
    async (h) => {
      await h.get('/k', { ...host, range: 'bytes=0-0' });
      await h.stored(1);
      await h.get('/k', host);
      await h.stored(8);
      // After a restart a body is checked whole on its first read.
      await h.restart();
      const slice2 = body.subarray(2 * big, 3 * big);
      let damaged = 0;
      for (const f of await filesUnder(h.cacheDir)) {
        const b = await readFile(f);
        if (!b.equals(slice2)) continue;
        b[100] = b[100]! ^ 0xff;
        await writeFile(f, b);
        damaged++;
      }
      assert.equal(damaged, 1, 'slice 2 is one blob on disk');
      const fetched = o.ranges.length;
      // Part of slice 2: the disk checks it whole before the first byte of the part goes out.
      const r = await h.get('/k', { ...host, range: `bytes=${big + 10}-${2 * big + 1000}` });
      assert.equal(r.status, 206);
      assert.ok(r.body.equals(body.subarray(big + 10, 2 * big + 1001)), 'every byte, none of them damaged');
      assert.deepEqual(o.ranges.slice(fetched), [`bytes=${2 * big}-${3 * big - 1}`], 'slice 2 alone fetched again');
    },
    { cache: { memoryMaxObjectBytes: 1024 }, slices: { thresholdBytes: 256 * KiB, sliceBytes: big } },
  );
});

test("an origin whose answer to one slice's range is no slice of the object (a wrong Content-Range) cuts one answer; then the object is fetched whole, not sliced and cut again", async () => {
  const o: OriginState = { body: content(SIZE), ranges: [] };
  // Slice 3's range is answered one byte off: a 206 for bytes the slice does not hold.
  o.fault = (range, res) => {
    if (!range.startsWith(`bytes=${at(3)}-`)) return false;
    const start = at(3) + 1;
    const end = at(4) - 1;
    res.writeHead(206, { 'content-type': 'video/mp4', etag: '"v1"', 'cache-control': 'max-age=600', 'content-range': `bytes ${start}-${end}/${SIZE}`, 'content-length': end - start + 1 });
    res.end(o.body.subarray(start, end + 1));
    return true;
  };
  await withSlices(o, async (h) => {
    await assert.rejects(h.get('/w'), 'cut where slice 3 should begin');
    // As a first slice found so would (on-miss.ts): slicing is off for the object meanwhile (coalesce.hitForPassS).
    const whole = await h.get('/w');
    assert.equal(whole.status, 200);
    assert.ok(whole.body.equals(o.body), 'the whole object, from a full request');
    await h.stored(4);
    const range = await h.get('/w', { range: `bytes=${at(3)}-${at(3) + 99}` });
    assert.equal(range.status, 206);
    assert.ok(range.body.equals(o.body.subarray(at(3), at(3) + 100)));
    assert.match(range.headers['cache-status']!, /; hit/);
  });
});
