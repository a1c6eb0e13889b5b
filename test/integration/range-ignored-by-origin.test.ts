// A range request that misses, on an origin that ignores Range (RFC 9110 §14.2 lets
// it): the first origin request (a slice's range, pipeline/slices.ts) gets the whole
// 200. That is a complete response: stored when storable and the client answered from
// it with one origin request — a small object's range cut from it (a 206 Strata
// builds), a large one's 200 passed on as it arrives — a miss in Cache-Status, the
// access line, /stats and /metrics alike. Never fetched a second time, never labelled
// a bypass while counted a miss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startHarness, withHarness } from '../fixtures/harness.js';
import { assertAgree, metricOutcomes, observe, received } from '../fixtures/agreement.js';

const KiB = 1024;
const SLICES = { slices: { thresholdBytes: 256 * KiB, sliceBytes: 64 * KiB } };

/** An origin that answers every GET with the whole body, whatever its Range; counts Range values. */
function ignoresRange(body: Buffer, ranges: string[], headers: Record<string, string> = { 'cache-control': 'max-age=600', etag: '"v1"' }) {
  return (req: IncomingMessage, res: ServerResponse) => {
    ranges.push(req.headers.range ?? '');
    // One that says it takes ranges, and still ignores them.
    const lying = req.url?.includes('lying') ? { 'accept-ranges': 'bytes' } : {};
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length, ...headers, ...lying });
    res.end(body);
  };
}

test('a small object from an origin that ignores Range: one origin request, stored, the range cut from it (206); the next range a hit', async () => {
  const body = Buffer.from('hello');
  const ranges: string[] = [];
  const h = await startHarness(ignoresRange(body, ranges), { ...SLICES, logLevel: 'info' });
  try {
    const o = await observe(h, 1, () => h.get('/small', { range: 'bytes=0-1' }), () => h.stored(1));
    const r = o.reply;
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], 'bytes 0-1/5');
    assert.equal(r.text, 'he');
    assert.equal(ranges.length, 1, `one origin request; got ${JSON.stringify(ranges)}`);
    assert.match(r.headers['cache-status']!, /^test-node; fwd=uri-miss; fwd-status=200; stored; ttl=\d+$/);
    assertAgree(o, 1, received(r));
    assert.equal(o.lines[0]!.cache, 'miss');
    assert.deepEqual(metricOutcomes(o), ['miss 2xx']);
    assert.deepEqual([o.stats['misses'], o.stats['stored'], o.stats['bypass']], [1, 1, undefined]);

    const next = await h.get('/small', { range: 'bytes=2-4' });
    assert.equal(next.status, 206);
    assert.equal(next.text, 'llo');
    assert.match(next.headers['cache-status']!, /^test-node; hit/);
    const whole = await h.get('/small');
    assert.equal(whole.text, 'hello');
    assert.match(whole.headers['cache-status']!, /^test-node; hit/);
    assert.equal(ranges.length, 1, 'still one origin request');
  } finally {
    await h.close();
  }
});

test('a small object the origin will not let be stored, ignoring Range: its 200 passed on, one origin request', async () => {
  const ranges: string[] = [];
  await withHarness(ignoresRange(Buffer.from('hello'), ranges, { 'cache-control': 'no-store' }), SLICES, async (h) => {
    const r = await h.get('/nostore', { range: 'bytes=0-1' });
    assert.equal(r.status, 200, 'the origin’s own answer to a range it ignores');
    assert.equal(r.text, 'hello');
    assert.match(r.headers['cache-status']!, /fwd-status=200; detail=no-store/);
    assert.equal(ranges.length, 1);
    await h.get('/nostore', { range: 'bytes=0-1' });
    assert.equal(ranges.length, 2, 'no probe the second time: one origin request each');
    assert.equal(ranges[1], 'bytes=0-1', 'passed through with the client’s own range');
  });
});

test('a large object (over slices.thresholdBytes) from an origin that ignores Range: its 200 passed on as it arrives and stored, one origin request; the next range a hit', async () => {
  const body = Buffer.alloc(512 * KiB);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 9)) & 0xff;
  const ranges: string[] = [];
  await withHarness(ignoresRange(body, ranges), SLICES, async (h) => {
    const r = await h.get('/large', { range: 'bytes=300000-300099' });
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(body));
    assert.match(r.headers['cache-status']!, /fwd=uri-miss; fwd-status=200; stored/);
    await h.stored(1);
    assert.equal(ranges.length, 1, `one origin request; got ${JSON.stringify(ranges)}`);
    const next = await h.get('/large', { range: 'bytes=300000-300099' });
    assert.equal(next.status, 206);
    assert.ok(next.body.equals(body.subarray(300000, 300100)));
    assert.match(next.headers['cache-status']!, /^test-node; hit/);
    // A full GET of a cold large object whose origin says it takes ranges and ignores them:
    // the whole 200 is left unread for slices, and the slice's range answered whole is the object (not fetched a third time).
    const full = await h.get('/lying');
    assert.equal(full.status, 200);
    assert.ok(full.body.equals(body));
    assert.deepEqual(ranges.slice(1), ['', 'bytes=0-65535'], JSON.stringify(ranges));
    await h.stored(2);
    const again = await h.get('/lying', { range: 'bytes=10-19' });
    assert.match(again.headers['cache-status']!, /^test-node; hit/);
    assert.equal(ranges.length, 3);
  });
});

test('a 200 to the range request whose body falls short of its Content-Length: nothing stored, the client never gets a complete answer from it', async () => {
  const ranges: string[] = [];
  await withHarness(
    (req, res) => {
      ranges.push(req.headers.range ?? '');
      res.writeHead(200, { 'content-length': 10, 'cache-control': 'max-age=600', etag: '"s"' });
      res.write('hello');
      setImmediate(() => res.destroy());
    },
    SLICES,
    async (h) => {
      const r = await h.get('/short', { range: 'bytes=0-1' }).then(
        (x) => x,
        () => undefined,
      );
      // Either cut, or the origin's own (short) 200 cut mid-body: never a 206 from a body that fell short.
      assert.ok(r === undefined || r.status !== 206, `answered ${r?.status}`);
      assert.equal(h.node.stats.counters.stored, 0);
    },
  );
});

test('a range request with credentials on an origin that ignores Range: its 200 is its own, and the next client’s range is stored and then a hit', async () => {
  const ranges: string[] = [];
  await withHarness(ignoresRange(Buffer.from('hello'), ranges), SLICES, async (h) => {
    // Authorization without public / s-maxage: not storable for this request alone (RFC 9111 §3.5).
    const own = await h.get('/creds', { range: 'bytes=0-1', authorization: 'Bearer one-user' });
    assert.equal(own.status, 200);
    assert.match(own.headers['cache-status']!, /detail=authorization/);
    assert.equal(ranges.length, 1);
    // Another client, no credentials: the object may be stored for it (one request's refusal says nothing of the object).
    const other = await h.get('/creds', { range: 'bytes=0-1' });
    assert.equal(other.text.length > 0, true);
    await h.stored(1);
    const next = await h.get('/creds', { range: 'bytes=2-4' });
    assert.equal(next.status, 206);
    assert.equal(next.text, 'llo');
    assert.match(next.headers['cache-status']!, /^test-node; hit/, `got ${next.headers['cache-status']}; origin asked for ${JSON.stringify(ranges)}`);
    assert.equal(ranges.length, 2);
  });
});
