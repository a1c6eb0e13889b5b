// A Range field Strata ignores (RFC 9110 §14.2: invalid syntax, last-pos below
// first-pos, another unit, more than 16 ranges) is ignored on a miss as on a hit:
// the request is a full GET, answered 200 with the whole body and stored. Before,
// a cold object's miss read it as a range request: it probed the slice at its
// first-pos (bytes=99999999-1: a slice far past the end) and passed the field to
// the origin, whose own reading of it (a 416, a 200 not stored) was the answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { withHarness } from '../fixtures/harness.js';
import { answerUnsatisfiable, servedRange } from '../fixtures/origin-range.js';

const KiB = 1024;
const SIZE = 512 * KiB;
const SLICES = { slices: { thresholdBytes: 128 * KiB, sliceBytes: 64 * KiB } };

function content(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + (i >> 10)) & 0xff;
  return b;
}

/** An origin that answers ranges as the slice tests' origins do (a first-pos past the end: 416); records each Range. */
function rangedOrigin(body: Buffer, ranges: string[]) {
  return (req: IncomingMessage, res: ServerResponse) => {
    ranges.push(req.headers.range ?? '');
    const headers = { 'content-type': 'video/mp4', 'accept-ranges': 'bytes', etag: '"v1"', 'cache-control': 'max-age=600' };
    const r = servedRange(req.headers.range, body.length);
    if (r === 'unsatisfiable') return answerUnsatisfiable(res, body.length);
    if (r === undefined) {
      res.writeHead(200, { ...headers, 'content-length': body.length });
      return res.end(body);
    }
    res.writeHead(206, { ...headers, 'content-range': `bytes ${r.start}-${r.end}/${body.length}`, 'content-length': r.end - r.start + 1 });
    res.end(body.subarray(r.start, r.end + 1));
  };
}

const IGNORED = {
  'last-pos below first-pos, far past the end': 'bytes=99999999-1',
  'last-pos below first-pos': 'bytes=300000-2',
  'another unit': 'items=0-4',
  'more than 16 ranges': 'bytes=' + Array.from({ length: 17 }, (_, i) => `${400_000 + i * 10}-${400_000 + i * 10 + 1}`).join(','),
};

for (const [what, range] of Object.entries(IGNORED)) {
  test(`a Range field Strata ignores (${what}) is ignored on a miss too: the whole body, 200, stored, the field never sent on`, async () => {
    const body = content(SIZE);
    const ranges: string[] = [];
    await withHarness(rangedOrigin(body, ranges), SLICES, async (h) => {
      const r = await h.get('/v', { range });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-range'], undefined);
      assert.ok(r.body.equals(body));
      assert.ok(!ranges.includes(range), `the field reached the origin: ${JSON.stringify(ranges)}`);
      // Stored: the next request, with the same field, is a hit.
      const again = await h.get('/v', { range });
      assert.equal(again.status, 200);
      assert.match(again.headers['cache-status']!, /; hit/);
      assert.ok(again.body.equals(body));
    });
  });
}

test("a HEAD's Range is ignored on a miss too (range handling is defined for GET only): fetched as a full GET and stored, not passed on", async () => {
  const body = content(SIZE);
  const ranges: string[] = [];
  // Ranges answered, but no validator: not sliced, so a range request for it is passed to the origin.
  const origin = (req: IncomingMessage, res: ServerResponse) => {
    ranges.push(`${req.method} ${req.headers.range ?? ''}`);
    const headers = { 'content-type': 'video/mp4', 'cache-control': 'max-age=600', 'accept-ranges': 'bytes' };
    const r = req.method === 'GET' ? servedRange(req.headers.range, body.length) : undefined;
    if (r !== undefined && r !== 'unsatisfiable') {
      res.writeHead(206, { ...headers, 'content-range': `bytes ${r.start}-${r.end}/${body.length}`, 'content-length': r.end - r.start + 1 });
      return res.end(body.subarray(r.start, r.end + 1));
    }
    res.writeHead(200, { ...headers, 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  await withHarness(origin, SLICES, async (h) => {
    const r = await h.get('/h', { range: 'bytes=0-9' }, 'HEAD');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], String(SIZE));
    await h.stored(1);
    assert.ok(!ranges.includes('HEAD bytes=0-9'), `passed on: ${JSON.stringify(ranges)}`);
    const hit = await h.get('/h');
    assert.match(hit.headers['cache-status']!, /; hit/);
    assert.ok(hit.body.equals(body));
  });
});
