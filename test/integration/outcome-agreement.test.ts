// Issue 15: a request's outcome is recorded once, and Cache-Status, the access
// line (result and bytes), /stats and /metrics all derive from it. Each test runs
// one scenario over real sockets and checks that every observer tells the same
// story (test/fixtures/agreement.ts), then what that scenario's story is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { until } from '../fixtures/harness.js';
import { fixed, startHarness } from '../fixtures/harness.js';
import { assertAgree, metricOutcomes, observe, rawGet, received } from '../fixtures/agreement.js';

const KiB = 1024;
const SLICE = 64 * KiB;
const SIZE = 1024 * KiB;
const SLICES = { logLevel: 'info', slices: { thresholdBytes: 256 * KiB, sliceBytes: SLICE } } as const;
/** The access log is written at info. */
const LOGGED = { logLevel: 'info' } as const;

function content(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + (i >> 10)) & 0xff;
  return b;
}

/** An origin of one large object answering ranges; `dieOn`: a Range it answers with half its bytes, then dies. */
function rangedOrigin(body: Buffer, opts: { dieOn?: string; ranges?: string[] } = {}) {
  return (req: IncomingMessage, res: ServerResponse) => {
    opts.ranges?.push(req.headers.range ?? '');
    const headers = { 'content-type': 'video/mp4', etag: '"v1"', 'cache-control': 'max-age=600', 'accept-ranges': 'bytes' };
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!m) {
      res.writeHead(200, { ...headers, 'content-length': body.length });
      return void res.end(body);
    }
    const start = Number(m[1]);
    const end = Math.min(m[2] ? Number(m[2]) : body.length - 1, body.length - 1);
    res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${body.length}`, 'content-length': end - start + 1 });
    if (req.headers.range === opts.dieOn) {
      res.write(body.subarray(start, start + (end - start + 1) / 2));
      return void setImmediate(() => res.destroy());
    }
    res.end(body.subarray(start, end + 1));
  };
}

test('a disk-only hit, whole and by range: the access line, /stats and /metrics count the bytes the client got', async () => {
  const big = content(300 * KiB);
  const h = await startHarness(fixed(big, { 'cache-control': 'max-age=600' }), { ...LOGGED, cache: { memoryMaxObjectBytes: 1024 } });
  try {
    await h.get('/disk');
    await h.stored(1);
    const whole = await observe(h, 1, () => h.get('/disk'));
    assert.ok(whole.reply.body.equals(big));
    assertAgree(whole, 1, received(whole.reply));
    assert.equal(whole.lines[0]!.bytes, big.length);
    assert.deepEqual(metricOutcomes(whole), ['hit 2xx']);
    assert.equal(whole.stats['hits'], 1);

    const ranged = await observe(h, 1, () => h.get('/disk', { range: 'bytes=1000-1999' }));
    assert.equal(ranged.reply.status, 206);
    assertAgree(ranged, 1, received(ranged.reply));
    assert.equal(ranged.lines[0]!.bytes, 1000);
  } finally {
    await h.close();
  }
});

test('passed through (hit-for-pass, a no-store request): the access line counts the streamed body', async () => {
  const body = Buffer.alloc(900, 97);
  const h = await startHarness((req, res) => {
    res.writeHead(200, { 'content-length': body.length, 'cache-control': req.url!.startsWith('/private') ? 'private' : 'max-age=600' });
    res.end(body);
  }, LOGGED);
  try {
    for (const name of ['first', 'hit-for-pass']) {
      const o = await observe(h, 1, () => h.get('/private'));
      assertAgree(o, 1, received(o.reply));
      assert.equal(o.lines[0]!.bytes, body.length, name);
      assert.equal(o.lines[0]!.cache, 'bypass', name);
    }
    const noStore = await observe(h, 1, () => h.get('/public', { 'cache-control': 'no-store' }));
    assertAgree(noStore, 1, received(noStore.reply));
    assert.equal(noStore.lines[0]!.bytes, body.length);
  } finally {
    await h.close();
  }
});

test('slice answers (a range miss, a whole object from stored slices): the access line counts the bytes sent', async () => {
  const body = content(SIZE);
  const h = await startHarness(rangedOrigin(body), SLICES);
  try {
    const miss = await observe(h, 1, () => h.get('/obj', { range: 'bytes=0-999' }));
    assert.equal(miss.reply.status, 206);
    assertAgree(miss, 1, received(miss.reply));
    assert.equal(miss.lines[0]!.bytes, 1000);
    assert.equal(miss.lines[0]!.cache, 'miss');

    await h.get('/obj');
    const whole = await observe(h, 1, () => h.get('/obj'));
    assert.ok(whole.reply.body.equals(body));
    assertAgree(whole, 1, received(whole.reply));
    assert.equal(whole.lines[0]!.bytes, SIZE);
    assert.deepEqual(metricOutcomes(whole), ['hit 2xx']);
  } finally {
    await h.close();
  }
});

test('a body cut mid-stream (the origin dies in a later slice): the access line says aborted and counts only the bytes sent', async () => {
  const body = content(SIZE);
  const dieOn = `bytes=${2 * SLICE}-${3 * SLICE - 1}`;
  const h = await startHarness(rangedOrigin(body, { dieOn }), SLICES);
  try {
    const o = await observe(h, 1, () => rawGet(h, '/obj'));
    assert.equal(o.reply.cut, true, 'the client connection was cut');
    assert.ok(o.reply.bytes < SIZE);
    assertAgree(o, 1, o.reply);
    assert.equal(o.lines[0]!.aborted, true);
    assert.equal(o.lines[0]!.bytes, 2 * SLICE + SLICE / 2);
  } finally {
    await h.close();
  }
});

test('a slice answer partly fetched from the origin is a miss everywhere (Cache-Status, access line, /stats, /metrics); wholly from stored slices, a hit', async () => {
  const body = content(SIZE);
  const ranges: string[] = [];
  const h = await startHarness(rangedOrigin(body, { ranges }), SLICES);
  try {
    await h.get('/obj', { range: 'bytes=0-999' });
    await h.stored(1);
    // The first slice it needs is stored, the second is not.
    const across = await observe(h, 1, () => h.get('/obj', { range: `bytes=${SLICE - 100}-${SLICE + 99}` }));
    assert.ok(across.reply.body.equals(body.subarray(SLICE - 100, SLICE + 100)));
    assertAgree(across, 1, received(across.reply));
    assert.match(across.reply.headers['cache-status']!, /^test-node; fwd=uri-miss; fwd-status=206; stored; ttl=\d+; detail=slices$/);
    assert.equal(across.lines[0]!.cache, 'miss');
    assert.deepEqual(metricOutcomes(across), ['miss 2xx']);
    assert.equal(across.stats['misses'], 1);
    assert.equal(across.stats['hits'], undefined);
    assert.equal(ranges.at(-1), `bytes=${SLICE}-${2 * SLICE - 1}`, 'the second slice came from the origin');

    // The whole object: two slices stored, the rest from the origin.
    const whole = await observe(h, 1, () => h.get('/obj'), () => h.stored(SIZE / SLICE));
    assert.ok(whole.reply.body.equals(body));
    assertAgree(whole, 1, received(whole.reply));
    assert.match(whole.reply.headers['cache-status']!, /; fwd=uri-miss; fwd-status=206; stored;/);
    assert.equal(whole.lines[0]!.cache, 'miss');
    assert.deepEqual(metricOutcomes(whole), ['miss 2xx']);
    assert.deepEqual([whole.stats['misses'], whole.stats['hits'], whole.stats['slicesStored']], [1, undefined, SIZE / SLICE - 2]);

    // Every slice stored now: a hit, and the origin is not asked.
    const asked = ranges.length;
    const hit = await observe(h, 1, () => h.get('/obj'));
    assertAgree(hit, 1, received(hit.reply));
    assert.match(hit.reply.headers['cache-status']!, /^test-node; hit; ttl=\d+; detail=slices$/);
    assert.equal(hit.lines[0]!.cache, 'hit');
    assert.deepEqual(metricOutcomes(hit), ['hit 2xx']);
    assert.equal(hit.stats['hits'], 1);
    assert.equal(ranges.length, asked);
  } finally {
    await h.close();
  }
});

test('only-if-cached answered from stored slices is a hit in /metrics too; refused (504), a miss everywhere', async () => {
  const body = content(SIZE);
  const ranges: string[] = [];
  const h = await startHarness(rangedOrigin(body, { ranges }), SLICES);
  try {
    await h.get('/obj');
    await h.stored(SIZE / SLICE);
    const asked = ranges.length;
    const o = await observe(h, 1, () => h.get('/obj', { 'cache-control': 'only-if-cached' }));
    assert.ok(o.reply.body.equals(body));
    assertAgree(o, 1, received(o.reply));
    assert.match(o.reply.headers['cache-status']!, /^test-node; hit; ttl=\d+; detail=slices$/);
    assert.equal(o.lines[0]!.cache, 'hit');
    assert.equal(o.stats['hits'], 1);
    assert.deepEqual(metricOutcomes(o), ['hit 2xx']);
    assert.equal(ranges.length, asked, 'the origin was not asked');

    const refused = await observe(h, 1, () => h.get('/cold', { 'cache-control': 'only-if-cached' }));
    assert.equal(refused.reply.status, 504);
    assert.equal(refused.lines[0]!.cache, 'only-if-cached');
    assert.deepEqual(metricOutcomes(refused), ['miss 5xx']);
    assertAgree(refused, 1, received(refused.reply));
  } finally {
    await h.close();
  }
});

test('collapsed is counted from the outcome: once per follower answered from the fetch, never for a follower of another Vary variant that fetched alone', async () => {
  const waiting: ServerResponse[] = [];
  const h = await startHarness((_req, res) => void waiting.push(res), LOGGED);
  try {
    const herd = await observe(h, 3, async () => {
      const replies = [h.get('/shared'), h.get('/shared'), h.get('/shared')];
      await h.until(() => h.node.stats.counters.joined === 2, 'two followers joined');
      waiting.shift()!.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': 5 }).end('hello');
      return Promise.all(replies);
    });
    assertAgree(herd, 3);
    assert.equal(herd.reply.filter((r) => /; collapsed/.test(r.headers['cache-status']!)).length, 2);
    assert.equal(herd.stats['collapsed'], 2);
    assert.equal(herd.stats['joined'], 2);
    assert.deepEqual(metricOutcomes(herd), ['miss 2xx', 'miss 2xx', 'miss 2xx']);

    const vary = await observe(h, 2, async () => {
      const en = h.get('/v', { 'accept-language': 'en' });
      await until(() => waiting.length === 1, 'the first request at the origin');
      const fr = h.get('/v', { 'accept-language': 'fr' });
      await h.until(() => h.node.stats.counters.joined === 3, 'the follower joined');
      waiting.shift()!.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language', 'content-length': 5 }).end('hello');
      await until(() => waiting.length === 1, 'the follower at the origin, alone');
      waiting.shift()!.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language', 'content-length': 7 }).end('bonjour');
      return Promise.all([en, fr]);
    });
    assertAgree(vary, 2);
    assert.deepEqual(vary.reply.map((r) => r.text), ['hello', 'bonjour']);
    for (const r of vary.reply) assert.doesNotMatch(r.headers['cache-status']!, /collapsed/);
    assert.equal(vary.stats['collapsed'], undefined, 'the follower that fetched alone is not collapsed');
    assert.equal(vary.stats['joined'], 1);
    assert.equal(vary.stats['misses'], 2);
    assert.deepEqual(vary.lines.map((l) => l.bytes).sort(), [5, 7]);
  } finally {
    await h.close();
  }
});

test('concurrent range misses on one slice: collapsed once, for the request whose slice was joined, as its Cache-Status says', async () => {
  const body = content(SIZE);
  const answer = rangedOrigin(body);
  // Each origin request held until released: the second client finds the first's slice fetch in flight.
  const held: (() => void)[] = [];
  const h = await startHarness((req, res) => void held.push(() => answer(req, res)), SLICES);
  try {
    const o = await observe(h, 2, async () => {
      const first = h.get('/obj', { range: 'bytes=0-99' });
      await until(() => held.length === 1, 'the slice fetch at the origin');
      const second = h.get('/obj', { range: 'bytes=100-199' });
      await h.until(() => h.node.stats.counters.joined === 1, 'the second request joined it');
      held.shift()!();
      return Promise.all([first, second]);
    });
    assertAgree(o, 2);
    assert.deepEqual(o.reply.map((r) => /; collapsed/.test(r.headers['cache-status']!)), [false, true]);
    assert.equal(o.stats['collapsed'], 1);
    assert.equal(o.stats['joined'], 1);
    assert.deepEqual(o.reply.map((r) => r.body.equals(body.subarray(r === o.reply[0] ? 0 : 100, r === o.reply[0] ? 100 : 200))), [true, true]);
  } finally {
    await h.close();
  }
});

test("Strata's own bodies (416 from a stored entry, 414, 502, PURGE and its refusal) are counted as the bytes written, none for HEAD", async () => {
  const h = await startHarness(fixed('hello world', { 'cache-control': 'max-age=600' }), { ...LOGGED, admin: { token: 'agree-token' } });
  try {
    await h.get('/r');
    await h.stored(1);
    const cases: [string, () => ReturnType<typeof h.get>, number][] = [
      ['416 from a stored entry', () => h.get('/r', { range: 'bytes=999-' }), 416],
      ['414', () => h.get('/x' + 'a'.repeat(9000)), 414],
      ['PURGE', () => h.get('/r', { authorization: 'Bearer agree-token' }, 'PURGE'), 200],
      ['PURGE refused', () => h.get('/r', {}, 'PURGE'), 401],
    ];
    for (const [name, run, status] of cases) {
      const o = await observe(h, 1, run);
      assert.equal(o.reply.status, status, name);
      assert.ok(o.reply.body.length > 0, name);
      assertAgree(o, 1, received(o.reply));
    }
    await h.origin.close();
    const down = await observe(h, 1, () => h.get('/gone'));
    assert.equal(down.reply.status, 502);
    assertAgree(down, 1, received(down.reply));
    assert.equal(down.lines[0]!.cache, 'error');
    // HEAD: Node drops the error body, so nothing is counted.
    for (const [name, run, status] of [
      ['HEAD 502', () => h.get('/gone-head', {}, 'HEAD'), 502],
      ['HEAD only-if-cached 504', () => h.get('/cold-head', { 'cache-control': 'only-if-cached' }, 'HEAD'), 504],
    ] as [string, () => ReturnType<typeof h.get>, number][]) {
      const o = await observe(h, 1, run);
      assert.equal(o.reply.status, status, name);
      assert.equal(o.reply.body.length, 0, name);
      assertAgree(o, 1, received(o.reply));
    }
  } finally {
    await h.close();
  }
});

test('the top missed URLs count what misses counts: a URL never stored (no-store) is there as often as it was fetched, a stored one once', async () => {
  const h = await startHarness((req, res) => {
    const cc = req.url === '/never-stored' ? 'no-store' : 'max-age=600';
    res.writeHead(200, { 'cache-control': cc, 'content-length': 2 });
    res.end('ok');
  });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await h.get('/never-stored')).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await h.get('/stored')).status, 200);
    const s = JSON.parse((await (await fetch(h.admin + '/stats')).text())) as { misses: number; topMisses: { key: string; misses: number }[] };
    const top = Object.fromEntries(s.topMisses.map((m) => [new URL(m.key.slice(4)).pathname, m.misses]));
    assert.deepEqual(top, { '/never-stored': 3, '/stored': 1 });
    assert.equal(s.misses, 4);
  } finally {
    await h.close();
  }
});
