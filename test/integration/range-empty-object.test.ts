// A zero-length object (200, Content-Length: 0) first asked for by range, over real
// sockets: no range of it is satisfiable (RFC 9110 §14.4: 416 with `bytes */0`), but
// the empty 200 itself is stored, so later requests for it are hits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { withHarness } from '../fixtures/harness.js';
import { answerUnsatisfiable, servedRange } from '../fixtures/origin-range.js';

const HEADERS = { 'cache-control': 'max-age=600', etag: '"e"', 'content-type': 'text/plain' };

/** An empty representation; `ranges`: whether the origin reads Range (a 416 for any) or ignores it (the 200). */
function emptyOrigin(ranges: boolean) {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (ranges && servedRange(req.headers.range, 0) === 'unsatisfiable') return answerUnsatisfiable(res, 0);
    res.writeHead(200, { ...HEADERS, 'content-length': 0, ...(ranges ? { 'accept-ranges': 'bytes' } : {}) });
    res.end();
  };
}

for (const ranges of [false, true]) {
  test(`an empty object first asked for by range is stored, later requests hit (origin ${ranges ? 'answers' : 'ignores'} Range)`, async () => {
    await withHarness(emptyOrigin(ranges), {}, async (h) => {
      const first = await h.get('/empty', { range: 'bytes=0-99' });
      assert.equal(first.status, 416, 'no range of an empty representation is satisfiable');
      assert.equal(first.headers['content-range'], 'bytes */0');
      await h.stored(1);
      const asked = h.origin.count('/empty');
      const plain = await h.get('/empty');
      assert.equal(plain.status, 200);
      assert.equal(plain.body.length, 0);
      assert.match(plain.headers['cache-status']!, /; hit/);
      const again = await h.get('/empty', { range: 'bytes=0-99' });
      assert.equal(again.status, 416);
      assert.equal(again.headers['content-range'], 'bytes */0');
      assert.match(again.headers['cache-status']!, /; hit/);
      assert.equal(h.origin.count('/empty'), asked, 'later requests, plain or by range, are answered from the stored 200');
      assert.equal(h.node.stats.counters.stored, 1);
    });
  });
}
