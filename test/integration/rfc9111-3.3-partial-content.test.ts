// Issue 14 #16: partial content (RFC 9111 §3.3, §3.4). A 206 from the origin is
// stored and answers the later ranges it covers; ranges beyond it complete the
// object. Objects above slices.thresholdBytes do this slice by slice
// (test/integration/slices.test.ts); here, an object no larger than one slice: the
// 206 to the first range request holds all of it, and is kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startHarness } from '../fixtures/harness.js';

const KiB = 1024;
const SLICES = { slices: { thresholdBytes: 256 * KiB, sliceBytes: 64 * KiB } };

function rangedOrigin(body: Buffer, extra: Record<string, string>, ranges: string[]) {
  return (req: IncomingMessage, res: ServerResponse) => {
    ranges.push(req.headers.range ?? '');
    const headers = { 'content-type': 'image/png', 'cache-control': 'max-age=600', 'accept-ranges': 'bytes', ...extra };
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!m) return void res.writeHead(200, { ...headers, 'content-length': body.length }).end(body);
    const start = Number(m[1]);
    const end = Math.min(m[2] ? Number(m[2]) : body.length - 1, body.length - 1);
    res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${body.length}`, 'content-length': end - start + 1 });
    res.end(body.subarray(start, end + 1));
  };
}

for (const [what, extra] of [
  ['with an ETag', { etag: '"p1"' }],
  ['without any validator', {}],
] as const) {
  test(`a 206 holding a whole small object (${what}) is stored: later ranges and the full object are hits`, async () => {
    const body = Buffer.alloc(40 * KiB);
    for (let i = 0; i < body.length; i++) body[i] = (i * 13) & 0xff;
    const ranges: string[] = [];
    const h = await startHarness(rangedOrigin(body, extra, ranges), SLICES);
    try {
      const first = await h.get('/icon.png', { range: 'bytes=0-99' });
      assert.equal(first.status, 206);
      assert.equal(first.headers['content-range'], `bytes 0-99/${body.length}`);
      assert.ok(first.body.equals(body.subarray(0, 100)));
      assert.match(first.headers['cache-status']!, /fwd-status=206; stored/);
      // One origin request: the range that holds the whole object (no pass-through range, no second full fetch).
      assert.deepEqual(ranges, ['bytes=0-65535']);
      await h.stored(1);

      const covered = await h.get('/icon.png', { range: 'bytes=30000-30099' });
      assert.equal(covered.status, 206);
      assert.ok(covered.body.equals(body.subarray(30000, 30100)));
      assert.match(covered.headers['cache-status']!, /; hit/);
      const full = await h.get('/icon.png');
      assert.equal(full.status, 200);
      assert.ok(full.body.equals(body));
      assert.match(full.headers['cache-status']!, /; hit/);
      assert.equal(full.headers['content-range'], undefined);
      assert.equal(ranges.length, 1, 'nothing more asked of the origin');
    } finally {
      await h.close();
    }
  });
}
