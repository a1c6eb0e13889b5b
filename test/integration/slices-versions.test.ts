// Slices (src/pipeline/slices.ts): what makes a version, a slice that is one
// request's own, and the fields of the object built from a slice, over real
// sockets against an origin that answers ranges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { withHarness, until, type Harness } from '../fixtures/harness.js';
import { answerUnsatisfiable, servedRange } from '../fixtures/origin-range.js';

const KiB = 1024;
const SLICE = 64 * KiB;
const SIZE = 1024 * KiB;
const SLICES = { slices: { thresholdBytes: 256 * KiB, sliceBytes: SLICE } };

interface OriginState {
  body: Buffer;
  /** Fields of every answer (validators, freshness). */
  fields: Record<string, string>;
  /** Range header of every request, in order ('' for none). */
  ranges: string[];
  /** Digests of the bytes sent, on every 206. */
  digests?: boolean;
  /** A Range value whose first request waits for release() before its head is sent. */
  holdRange?: string;
  release?: () => void;
}

function content(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7 + (i >> 10)) & 0xff;
  return b;
}

function rangedOrigin(state: OriginState) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const size = state.body.length;
    const body = state.body;
    state.ranges.push(req.headers.range ?? '');
    const headers = { 'content-type': 'video/mp4', 'accept-ranges': 'bytes', ...state.fields };
    const r = servedRange(req.headers.range, size);
    if (r === undefined) {
      res.writeHead(200, { ...headers, 'content-length': size });
      res.end(body);
      return;
    }
    if (r === 'unsatisfiable') return answerUnsatisfiable(res, size);
    const { start, end } = r;
    const digests = state.digests ? { 'content-digest': `sha-256=:part-${start}-${end}:`, 'content-md5': `part-${start}`, digest: `SHA-256=part-${start}`, 'repr-digest': 'sha-256=:whole:' } : {};
    const send = () => {
      res.writeHead(206, { ...headers, ...digests, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1 });
      res.end(body.subarray(start, end + 1));
    };
    if (req.headers.range === state.holdRange) {
      state.holdRange = undefined;
      state.release = send;
      return;
    }
    send();
  };
}

function origin(fields: Record<string, string> = { etag: '"v1"', 'cache-control': 'max-age=600' }): OriginState {
  return { body: content(SIZE, 1), fields, ranges: [] };
}

const sliceRange = (i: number) => `bytes=${i * SLICE}-${(i + 1) * SLICE - 1}`;

function withSlices(state: OriginState, fn: (h: Harness) => Promise<void>): Promise<void> {
  return withHarness(rangedOrigin(state), SLICES, fn);
}

test("a range request that may not store its slices (no-store, Authorization, Cookie under heuristic freshness) gets them whole; nothing stored is dropped", async () => {
  const cases: Array<[string, Record<string, string>, Record<string, string> | undefined]> = [
    ['no-store', { 'cache-control': 'no-store' }, undefined],
    ['authorization', { authorization: 'Bearer x' }, undefined],
    ['cookie', { cookie: 'sid=1' }, { 'last-modified': new Date(Date.now() - 86_400_000).toUTCString() }],
  ];
  for (const [name, own, fields] of cases) {
    const o = origin(fields);
    await withSlices(o, async (h) => {
      await h.get('/v', { range: 'bytes=0-0' });
      await h.stored(1);
      // Slice 0 is stored; slices 1..3 are fetched for this request alone.
      const r = await h.get('/v', { ...own, range: 'bytes=0-200000' });
      assert.equal(r.status, 206, name);
      assert.ok(r.body.equals(o.body.subarray(0, 200_001)), `${name}: every byte, from one version`);
      assert.equal(h.node.stats.counters.sliceVersionDrops, 0, `${name}: no version dropped for a request's own refusal`);
      assert.equal(h.node.stats.counters.stored, 1, `${name}: nothing stored for it`);
      const next = await h.get('/v', { range: 'bytes=0-0' });
      assert.match(next.headers['cache-status']!, /hit/, `${name}: slice 0 still stored: ${next.headers['cache-status']}`);
    });
  }
});

test("a request that joined another request's fetch of a slice it may not store fetches that slice itself, and stores it", async () => {
  const o = origin();
  await withSlices(o, async (h) => {
    await h.get('/j', { range: 'bytes=0-0' });
    await h.stored(1);
    o.holdRange = sliceRange(1);
    // The no-store client's fetch of slice 1 waits at the origin...
    const own = h.get('/j', { 'cache-control': 'no-store', range: `bytes=${SLICE}-${SLICE + 9}` });
    await until(() => o.release !== undefined, 'the no-store fetch of slice 1 at the origin');
    // ...while another client's answer (slice 0 stored) joins it for slice 1.
    const joined = h.node.stats.counters.joined;
    const other = h.get('/j', { range: 'bytes=0-200000' });
    await until(() => h.node.stats.counters.joined > joined, 'the other client joining the fetch of slice 1');
    o.release!();
    const [a, b] = await Promise.all([own, other]);
    assert.ok(a.body.equals(o.body.subarray(SLICE, SLICE + 10)));
    assert.equal(b.status, 206);
    assert.ok(b.body.equals(o.body.subarray(0, 200_001)), 'the joined client is answered whole, not cut');
    assert.equal(h.node.stats.counters.sliceVersionDrops, 0);
    assert.equal(o.ranges.filter((r) => r === sliceRange(1)).length, 2, 'slice 1 fetched again for the client that joined');
    await h.stored(4);
  });
});

test('an object that grows under the same ETag: one answer is cut, the slices of the old length are dropped, and the next answer is whole', async () => {
  const o = origin();
  await withSlices(o, async (h) => {
    await h.get('/g', { range: 'bytes=0-0' });
    await h.stored(1);
    o.body = content(SIZE + 512 * KiB, 3);
    await assert.rejects(h.get('/g', { range: 'bytes=0-200000' }), 'never stitched across lengths');
    assert.ok(h.node.stats.counters.sliceVersionDrops >= 1);
    for (let k = 0; k < 2; k++) {
      const r = await h.get('/g', { range: 'bytes=0-200000' });
      assert.equal(r.status, 206);
      assert.equal(r.headers['content-range'], `bytes 0-200000/${SIZE + 512 * KiB}`);
      assert.ok(r.body.equals(o.body.subarray(0, 200_001)));
    }
  });
});

test("the object does not carry its first slice's digests: Content-Digest, Content-MD5 and Digest go, Repr-Digest stays", async () => {
  const o = origin();
  o.digests = true;
  await withSlices(o, async (h) => {
    await h.get('/d', { range: 'bytes=0-0' });
    await h.stored(1);
    for (const headers of [{} as Record<string, string>, { range: 'bytes=100000-100009' }]) {
      const r = await h.get('/d', headers);
      assert.ok(r.status === 200 || r.status === 206);
      assert.equal(r.headers['content-digest'], undefined);
      assert.equal(r.headers['content-md5'], undefined);
      assert.equal(r.headers['digest'], undefined);
      assert.equal(r.headers['repr-digest'], 'sha-256=:whole:');
    }
  });
});

test('a Last-Modified within a second of its Date is weak (RFC 9110 §8.8.2.2) and ties no slices: an object rewritten within that second is never stitched', async () => {
  const o = origin({});
  await withSlices(o, async (h) => {
    // The origin's Date comes from the node's fake clock, which does not move: every answer is within the second of Last-Modified.
    o.fields = { 'last-modified': new Date(h.clock.now()).toUTCString(), 'cache-control': 'max-age=600' };
    const v1 = o.body;
    const first = await h.get('/w', { range: 'bytes=0-0' });
    assert.equal(first.status, 206);
    await h.stored(h.node.stats.counters.stored);
    // Rewritten in the same second, same length: the same Last-Modified, other bytes.
    o.body = content(SIZE, 2);
    const r = await h.get('/w', { range: `bytes=0-${2 * SLICE - 1}` });
    assert.equal(r.status, 206);
    const one = [v1, o.body].some((v) => r.body.equals(v.subarray(0, 2 * SLICE)));
    assert.ok(one, 'every byte from one version');
    assert.doesNotMatch(r.headers['cache-status']!, /detail=slices/, 'not sliced on a weak validator');
  });
});
