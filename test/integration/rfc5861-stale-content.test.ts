// RFC 5861 stale-while-revalidate and stale-if-error, from the response or from the
// operator's default grace; RFC 9111 §4.2.4 limits (must-revalidate, request
// directives). Freshness arithmetic runs on the harness's fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { startHarness, startPoolHarness, fixed } from '../fixtures/harness.js';

test('stale-while-revalidate: the stale entry answers at once and one background revalidation refreshes it', async () => {
  const revalidations: ServerResponse[] = [];
  const h = await startHarness((req, res) => {
    if (req.headers['if-none-match']) {
      revalidations.push(res);
      return;
    }
    res.writeHead(200, { etag: '"a"', 'cache-control': 'max-age=10, stale-while-revalidate=60', 'content-length': 3 }).end('old');
  });
  try {
    await h.get('/swr');
    h.clock.advance(15_000);
    // The origin holds the revalidation: the stale answers cannot be waiting for it.
    const replies = await Promise.all(Array.from({ length: 10 }, () => h.get('/swr')));
    for (const r of replies) {
      assert.equal(r.text, 'old');
      assert.match(r.headers['cache-status']!, /; hit; ttl=-[56]; detail=stale-while-revalidate/);
      assert.match(r.headers['age']!, /^1[56]$/);
    }
    await h.until(() => revalidations.length === 1, 'the background revalidation');
    assert.equal(h.origin.count('/swr'), 2, 'one revalidation for ten stale hits');
    revalidations[0]!.writeHead(304, { etag: '"a"', 'cache-control': 'max-age=10, stale-while-revalidate=60' }).end();
    await h.until(() => h.node.stats.counters.revalidated === 1, 'the 304 merged');
    const fresh = await h.get('/swr');
    assert.match(fresh.headers['cache-status']!, /; hit; ttl=(9|10)$/);
    assert.equal(h.node.stats.counters.staleWhileRevalidate, 10);
    assert.equal(h.node.stats.counters.backgroundRevalidations, 1);
  } finally {
    await h.close();
  }
});

test('stale-while-revalidate: a changed body replaces the entry in the background', async () => {
  let body = 'v1';
  const h = await startHarness((_req, res) => fixed(body, { 'cache-control': 'max-age=10, stale-while-revalidate=60' })(_req, res, Buffer.alloc(0)));
  try {
    await h.get('/swr2');
    h.clock.advance(11_000);
    body = 'v2';
    assert.equal((await h.get('/swr2')).text, 'v1');
    await h.stored(2);
    const next = await h.get('/swr2');
    assert.equal(next.text, 'v2');
    assert.match(next.headers['cache-status']!, /; hit/);
  } finally {
    await h.close();
  }
});

test('past the stale-while-revalidate window the request waits for the origin', async () => {
  const h = await startHarness(fixed('x', { etag: '"e"', 'cache-control': 'max-age=10, stale-while-revalidate=5' }));
  try {
    await h.get('/late');
    h.clock.advance(16_000);
    const r = await h.get('/late');
    assert.match(r.headers['cache-status']!, /fwd=stale/);
    assert.equal(h.node.stats.counters.staleWhileRevalidate, 0);
  } finally {
    await h.close();
  }
});

test('the configured default grace applies when the response names none; must-revalidate forbids it', async () => {
  const h = await startHarness(
    (req, res) => {
      const mr = req.url === '/mr' ? ', must-revalidate' : '';
      fixed('x', { etag: '"e"', 'cache-control': `max-age=10${mr}` })(req, res, Buffer.alloc(0));
    },
    { cache: { staleWhileRevalidateS: 30 } },
  );
  try {
    await h.get('/grace');
    await h.get('/mr');
    h.clock.advance(20_000);
    assert.match((await h.get('/grace')).headers['cache-status']!, /detail=stale-while-revalidate/);
    assert.match((await h.get('/mr')).headers['cache-status']!, /fwd=stale; fwd-status=200/);
  } finally {
    await h.close();
  }
});

test('request directives that forbid stale answers are respected by stale-while-revalidate', async () => {
  const h = await startHarness(fixed('x', { etag: '"e"', 'cache-control': 'max-age=10, stale-while-revalidate=60' }));
  try {
    await h.get('/rq');
    h.clock.advance(15_000);
    assert.match((await h.get('/rq', { 'cache-control': 'max-age=12' })).headers['cache-status']!, /fwd=request; fwd-status=200/);
    assert.match((await h.get('/rq', { 'cache-control': 'no-cache' })).headers['cache-status']!, /fwd=request; fwd-status=200/);
  } finally {
    await h.close();
  }
});

test('stale-if-error: origin down → the stale entry, within the window; past it → 502', async () => {
  const h = await startHarness(fixed('kept', { 'cache-control': 'max-age=10, stale-if-error=60' }));
  try {
    await h.get('/sie');
    await h.origin.close();
    h.clock.advance(30_000);
    const r = await h.get('/sie');
    assert.equal(r.status, 200);
    assert.equal(r.text, 'kept');
    assert.match(r.headers['cache-status']!, /fwd=stale; ttl=-2[01]; detail=stale-if-error/);
    assert.equal(h.node.stats.counters.staleIfError, 1);
    h.clock.advance(45_000);
    const gone = await h.get('/sie');
    assert.equal(gone.status, 502);
  } finally {
    await h.close();
  }
});

test('stale-if-error: an origin 5xx → the stale entry, naming the status', async () => {
  let status = 200;
  const h = await startHarness((req, res) => fixed(status === 200 ? 'good' : 'broken', { etag: '"g"', 'cache-control': 'max-age=10, stale-if-error=60' }, status)(req, res, Buffer.alloc(0)));
  try {
    await h.get('/5xx');
    status = 503;
    h.clock.advance(20_000);
    const r = await h.get('/5xx');
    assert.equal(r.status, 200);
    assert.equal(r.text, 'good');
    assert.match(r.headers['cache-status']!, /fwd=stale; fwd-status=503; ttl=-1[01]; detail=stale-if-error/);
    // The error did not replace the stored entry.
    status = 200;
    const again = await h.get('/5xx');
    assert.equal(again.text, 'good');
  } finally {
    await h.close();
  }
});

test('RFC 5861 §4 a reload (no-cache, max-age=0) that meets an origin error gets it, but the error replaces nothing stale-if-error can serve', async () => {
  let down = false;
  const h = await startHarness((req, res) => {
    if (!down) return fixed('good', { etag: '"g"', 'cache-control': 'max-age=10, stale-if-error=3600' })(req, res, Buffer.alloc(0));
    // A storable error: stored over the entry unless the entry is kept for stale-if-error.
    fixed('down', { 'cache-control': 'max-age=30' }, 503)(req, res, Buffer.alloc(0));
  });
  try {
    await h.get('/reload');
    await h.get('/fresh-reload');
    await h.stored(2);
    down = true;
    // Fresh: stale-if-error will serve it once stale, so a reload's error does not take its place.
    h.clock.advance(5_000);
    const freshReload = await h.get('/fresh-reload', { 'cache-control': 'no-cache' });
    assert.equal(`${freshReload.status} ${freshReload.text}`, '503 down', 'the reload asked the origin, and gets its answer');
    const freshAfter = await h.get('/fresh-reload');
    assert.equal(`${freshAfter.status} ${freshAfter.text}`, '200 good', 'the fresh entry still answers plain clients');
    assert.match(freshAfter.headers['cache-status']!, /; hit; ttl=/);
    h.clock.advance(15_000);
    for (const cc of ['no-cache', 'max-age=0']) {
      const reload = await h.get('/reload', { 'cache-control': cc });
      assert.equal(`${reload.status} ${reload.text}`, '503 down', `${cc}: its own directives forbid stale`);
      assert.doesNotMatch(reload.headers['cache-status']!, /stored/, `${cc}: the error is not stored`);
      const plain = await h.get('/reload');
      assert.equal(`${plain.status} ${plain.text}`, '200 good', `after a ${cc} reload, a plain client still gets the entry`);
      assert.match(plain.headers['cache-status']!, /fwd=stale; fwd-status=503; ttl=-1[01]; detail=stale-if-error/);
    }
  } finally {
    await h.close();
  }
});

test('stale-if-error is refused by must-revalidate, by a request max-age, and when no window applies', async () => {
  const h = await startHarness(
    (req, res) => {
      const cc = req.url === '/mr' ? 'max-age=10, must-revalidate, stale-if-error=60' : req.url === '/none' ? 'max-age=10' : 'max-age=10, stale-if-error=60';
      fixed('x', { 'cache-control': cc })(req, res, Buffer.alloc(0));
    },
  );
  try {
    await h.get('/mr');
    await h.get('/none');
    await h.get('/rq');
    await h.origin.close();
    h.clock.advance(20_000);
    assert.equal((await h.get('/mr')).status, 502);
    assert.equal((await h.get('/none')).status, 502);
    assert.equal((await h.get('/rq', { 'cache-control': 'max-age=5' })).status, 502);
    assert.equal((await h.get('/rq')).status, 200);
  } finally {
    await h.close();
  }
});

test('the configured stale-if-error default applies to responses that name none', async () => {
  const h = await startHarness(fixed('dflt', { 'cache-control': 'max-age=10' }), { cache: { staleIfErrorS: 300 } });
  try {
    await h.get('/d');
    await h.origin.close();
    h.clock.advance(200_000);
    const r = await h.get('/d');
    assert.equal(r.text, 'dflt');
    assert.match(r.headers['cache-status']!, /detail=stale-if-error/);
  } finally {
    await h.close();
  }
});

test('collapsed followers of a failing fetch each get the stale entry', async () => {
  const h = await startHarness(fixed('s', { 'cache-control': 'max-age=10, stale-if-error=60' }));
  try {
    await h.get('/cf');
    h.origin.setHandler((_req, res) => {
      // Fail once every client is collapsed onto this fetch.
      const fail = () => res.writeHead(500, { 'content-length': 0 }).end();
      h.until(() => h.node.stats.counters.joined >= 4, 'four followers').then(fail, fail);
    });
    h.clock.advance(20_000);
    const replies = await Promise.all(Array.from({ length: 5 }, () => h.get('/cf')));
    assert.deepEqual(replies.map((r) => `${r.status} ${r.text}`), Array(5).fill('200 s'));
    assert.equal(h.origin.count('/cf'), 2);
  } finally {
    await h.close();
  }
});

test('every upstream of a pool down: stale content present is served (stale-if-error), absent is a 502', async () => {
  const body = fixed('pooled', { 'cache-control': 'max-age=10, stale-if-error=600' });
  const h = await startPoolHarness([{ handler: body }, { handler: body }, { handler: body }]);
  try {
    await h.get('/pooled');
    await Promise.all(h.origins.map((o) => o.close()));
    h.clock.advance(60_000);
    const stale = await h.get('/pooled');
    assert.equal(stale.status, 200);
    assert.equal(stale.text, 'pooled');
    assert.match(stale.headers['cache-status']!, /fwd=stale; ttl=-5\d; detail=stale-if-error/);
    const absent = await h.get('/never-stored');
    assert.equal(absent.status, 502);
  } finally {
    await h.close();
  }
});

test('issue 14 #17 stale-if-disconnected: origin down → the stale entry with no window of its own, up to cache.staleIfDisconnectedS', async () => {
  const h = await startHarness(fixed('kept', { 'cache-control': 'max-age=10' }), { cache: { staleIfDisconnectedS: 3600 } });
  try {
    await h.get('/sid');
    await h.origin.close();
    h.clock.advance(600_000);
    const r = await h.get('/sid');
    assert.equal(r.status, 200);
    assert.equal(r.text, 'kept');
    assert.match(r.headers['cache-status']!, /fwd=stale; ttl=-59[01]; detail=stale-if-disconnected/);
    h.clock.advance(3_100_000);
    const gone = await h.get('/sid');
    assert.equal(gone.status, 502, 'past cache.staleIfDisconnectedS');
    assert.match(gone.text, /ORIGIN_UNREACHABLE/);
  } finally {
    await h.node.stop();
  }
});

test('issue 14 #17 stale-if-disconnected: never for must-revalidate, and never for a 5xx', async () => {
  let status = 200;
  const h = await startHarness(
    (req, res) => {
      const cc = req.url === '/mr' ? 'max-age=10, must-revalidate' : 'max-age=10';
      fixed(status === 200 ? 'good' : 'broken', { 'cache-control': cc }, status)(req, res, Buffer.alloc(0));
    },
    { cache: { staleIfDisconnectedS: 3600 } },
  );
  try {
    await h.get('/mr');
    await h.get('/5xx');
    status = 503;
    h.clock.advance(60_000);
    const e = await h.get('/5xx');
    assert.equal(e.status, 503, 'a 5xx is an answer, not a disconnection');
    assert.equal(e.text, 'broken');
    await h.origin.close();
    const r = await h.get('/mr');
    assert.equal(r.status, 502);
    assert.match(r.text, /ORIGIN_UNREACHABLE/);
    assert.match(r.headers['cache-status']!, /fwd=stale; detail=origin_unreachable/);
  } finally {
    await h.node.stop();
  }
});

test('RFC 5861: an explicit stale-if-error=0 / stale-while-revalidate=0 means no window, whatever the operator default', async () => {
  let status = 200;
  const h = await startHarness(
    (req, res) => {
      const cc = req.url === '/zero' ? 'max-age=10, stale-if-error=0, stale-while-revalidate=0' : 'max-age=10';
      fixed(status === 200 ? 'good' : 'broken', { 'cache-control': cc }, status)(req, res, Buffer.alloc(0));
    },
    { cache: { staleIfErrorS: 3600, staleWhileRevalidateS: 3600 } },
  );
  try {
    await h.get('/zero');
    await h.get('/default');
    h.clock.advance(60_000);
    // Within the default stale-while-revalidate: only the entry that names none is served stale at once.
    const swrDefault = await h.get('/default');
    assert.match(swrDefault.headers['cache-status']!, /detail=stale-while-revalidate/);
    status = 503;
    const zero = await h.get('/zero');
    assert.equal(zero.status, 503, 'stale-while-revalidate=0 and stale-if-error=0: the origin answer, not the stale entry');
    assert.equal(zero.text, 'broken');
    assert.doesNotMatch(zero.headers['cache-status']!, /stale-(if-error|while-revalidate)/);
    assert.equal(h.origin.count('/zero'), 2);
  } finally {
    await h.close();
  }
});

test('RFC 5861 §4: stale-if-error answers a 500, 502, 503 or 504 only; a 501 or 505 is the origin\'s answer, and a storable 501 replaces the entry', async () => {
  const status: Record<string, number> = {};
  const h = await startHarness((req, res) => {
    const s = status[req.url!] ?? 200;
    fixed(s === 200 ? 'good' : `error ${s}`, { etag: `"${s}"`, 'cache-control': 'max-age=10, stale-if-error=600' }, s)(req, res, Buffer.alloc(0));
  });
  const paths = ['/500', '/502', '/503', '/504', '/501', '/505'];
  try {
    for (const p of paths) await h.get(p);
    await h.stored(paths.length);
    for (const p of paths) status[p] = Number(p.slice(1));
    h.clock.advance(20_000);
    for (const p of ['/500', '/502', '/503', '/504']) {
      const r = await h.get(p);
      assert.equal(r.text, 'good', `${p}: an error of RFC 5861 §4`);
      assert.match(r.headers['cache-status']!, new RegExp(`fwd-status=${p.slice(1)}; ttl=-1[01]; detail=stale-if-error`));
    }
    for (const p of ['/501', '/505']) {
      const r = await h.get(p);
      assert.equal(r.status, Number(p.slice(1)), `${p} is passed on`);
      assert.equal(r.text, `error ${p.slice(1)}`);
      assert.doesNotMatch(r.headers['cache-status']!, /stale-if-error/);
    }
    // The 501 (explicitly fresh, heuristically cacheable status) took the entry's place.
    const again = await h.get('/501');
    assert.equal(again.status, 501);
    assert.match(again.headers['cache-status']!, /; hit/);
  } finally {
    await h.close();
  }
});

test('RFC 5861: a response with no lifetime and no validator but a stale window of its own is stored, and served within it', async () => {
  const h = await startHarness((req, res) => {
    const cc = req.url === '/swr0' ? 'max-age=0, stale-while-revalidate=60' : req.url === '/sie0' ? 'max-age=0, stale-if-error=600' : 'max-age=0, must-revalidate, stale-while-revalidate=60';
    fixed(`v${h.origin.count(req.url)}`, { 'cache-control': cc })(req, res, Buffer.alloc(0));
  });
  try {
    for (const p of ['/swr0', '/sie0', '/mr0']) await h.get(p);
    await h.stored(2);
    h.clock.advance(5_000);
    const swr = await h.get('/swr0');
    assert.equal(swr.text, 'v1', 'the stored response, stale');
    assert.match(swr.headers['cache-status']!, /; hit; ttl=-[56]; detail=stale-while-revalidate/);
    await h.stored(3);
    assert.equal((await h.get('/swr0')).text, 'v2', 'refreshed in the background');
    // Not usable without the origin, and must-revalidate allows no window: not stored.
    assert.match((await h.get('/mr0')).headers['cache-status']!, /fwd=uri-miss; fwd-status=200; detail=not-reusable/);
    await h.origin.close();
    const sie = await h.get('/sie0');
    assert.equal(sie.status, 200);
    assert.equal(sie.text, 'v1');
    assert.match(sie.headers['cache-status']!, /detail=stale-if-error/);
  } finally {
    await h.close();
  }
});
