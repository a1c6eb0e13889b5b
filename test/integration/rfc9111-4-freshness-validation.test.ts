// RFC 9111 §4.2 (freshness, age) and §4.3 (validation) with a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from '../fixtures/harness.js';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An origin with a fixed Date (the fake clock's start) and an ETag; answers 304 to a matching If-None-Match. */
function validatingOrigin(cacheControl: string, extra: (req: IncomingMessage) => Record<string, string> = () => ({})) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const h = { 'cache-control': cacheControl, etag: '"v1"', 'content-type': 'text/plain', ...extra(req) };
    if (req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, h);
      res.end();
      return;
    }
    res.writeHead(200, { ...h, 'content-length': '5' });
    res.end('hello');
  };
}

test('§4.2: fresh until max-age, then revalidated; a 304 refreshes the entry and its headers (§4.3.4)', async () => {
  let version = 0;
  const h = await startHarness(validatingOrigin('max-age=10', (req): Record<string, string> => (req.headers['if-none-match'] ? { 'x-refreshed': String(++version) } : {})));
  try {
    const miss = await h.get('/f');
    assert.match(miss.headers['cache-status']!, /fwd=uri-miss/);
    h.clock.advance(5_000);
    const hit = await h.get('/f');
    assert.match(hit.headers['cache-status']!, /; hit/);
    assert.ok(Number(hit.headers['age']) >= 5, `age ${hit.headers['age']}`);
    h.clock.advance(6_000);
    const reval = await h.get('/f');
    assert.equal(reval.status, 200);
    assert.equal(reval.text, 'hello');
    assert.match(reval.headers['cache-status']!, /fwd=stale; fwd-status=304; stored/);
    assert.equal(reval.headers['x-refreshed'], '1', 'a field new in the 304 is merged');
    assert.equal(h.origin.requests.at(-1)!.headers['if-none-match'], '"v1"');
    const after = await h.get('/f');
    assert.match(after.headers['cache-status']!, /; hit/);
    assert.ok(Number(after.headers['age']) < 2, `age restarts after a 304, got ${after.headers['age']}`);
    assert.equal(after.headers['x-refreshed'], '1');
    assert.equal(h.origin.count('/f'), 2);
  } finally {
    await h.close();
  }
});

test('§4.3.3: a 200 to a validation replaces the stored entry', async () => {
  let body = 'one';
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=1', etag: `"${body}"`, 'content-length': String(body.length) });
    res.end(body);
  });
  try {
    await h.get('/r');
    body = 'two';
    h.clock.advance(2_000);
    const r = await h.get('/r');
    assert.equal(r.text, 'two');
    assert.match(r.headers['cache-status']!, /fwd=stale; fwd-status=200; stored/);
    const again = await h.get('/r');
    assert.equal(again.text, 'two');
    assert.match(again.headers['cache-status']!, /; hit/);
  } finally {
    await h.close();
  }
});

test('§4.3.3: a non-storable 4xx to a validation removes the stored entry, unless the status can be one client\'s own (429)', async () => {
  const status: Record<string, number> = {};
  const h = await startHarness((req, res) => {
    const path = req.url ?? '';
    if (req.headers['if-none-match'] === undefined && status[path] === undefined) {
      res.writeHead(200, { etag: '"a"', 'cache-control': 'max-age=10', 'content-length': 2 }).end('v1');
      return;
    }
    res.writeHead(status[path]!, { 'cache-control': 'no-store', 'content-length': 4 }).end('nope');
  });
  try {
    await h.get('/gone');
    await h.get('/busy');
    await h.stored(2);
    status['/gone'] = 404;
    status['/busy'] = 429;
    h.clock.advance(20_000);
    for (const path of ['/gone', '/busy']) {
      const r = await h.get(path);
      assert.equal(r.status, status[path]);
      assert.match(r.headers['cache-status']!, /fwd=stale/, `${path}: the stale entry was validated`);
    }
    // Nothing stored any more: a miss. A 429 can be one client's own: the entry stays for others, validated again.
    assert.match((await h.get('/gone')).headers['cache-status']!, /fwd=uri-miss; fwd-status=404/);
    assert.match((await h.get('/busy')).headers['cache-status']!, /fwd=stale; fwd-status=429/);
  } finally {
    await h.close();
  }
});

test('§4.2.1: s-maxage beats max-age in a shared cache, and Expires counts when no max-age', async () => {
  const h = await startHarness((req, res) => {
    const headers: Record<string, string> =
      req.url === '/smax' ? { 'cache-control': 'max-age=1000, s-maxage=5' } : { expires: new Date(Date.now() + 20_000).toUTCString(), date: new Date().toUTCString() };
    res.writeHead(200, { ...headers, 'content-length': '1' });
    res.end('x');
  });
  try {
    const s = await h.get('/smax');
    assert.match(s.headers['cache-status']!, /ttl=[45]\b/);
    const e = await h.get('/exp');
    assert.match(e.headers['cache-status']!, /ttl=(1[89]|20)\b/);
  } finally {
    await h.close();
  }
});

test('§4.2.2: heuristic freshness from Last-Modified (10%, capped), only for heuristically cacheable statuses', async () => {
  const h = await startHarness((req, res) => {
    const date = new Date();
    const lm = new Date(date.getTime() - 1000_000);
    res.writeHead(req.url === '/h302' ? 302 : 200, { date: date.toUTCString(), 'last-modified': lm.toUTCString(), 'content-length': '1', location: '/x' });
    res.end('x');
  });
  try {
    const a = await h.get('/h');
    assert.match(a.headers['cache-status']!, /stored; ttl=(99|100)\b/);
    const b = await h.get('/h302');
    assert.doesNotMatch(b.headers['cache-status']!, /stored/, '302 is not heuristically cacheable');
  } finally {
    await h.close();
  }
});

test('§5.2.2.4 no-cache: stored, but every reuse is validated', async () => {
  const h = await startHarness(validatingOrigin('no-cache'));
  try {
    await h.get('/nc');
    const b = await h.get('/nc');
    assert.match(b.headers['cache-status']!, /fwd=stale; fwd-status=304/);
    assert.equal(b.text, 'hello');
    assert.equal(h.origin.count('/nc'), 2);
  } finally {
    await h.close();
  }
});

test('must-revalidate: a fresh entry is a hit (PITFALLS 1); stale, it is validated, never served stale on max-stale', async () => {
  const h = await startHarness(validatingOrigin('max-age=10, must-revalidate'));
  try {
    await h.get('/mr');
    const fresh = await h.get('/mr');
    assert.match(fresh.headers['cache-status']!, /; hit/);
    h.clock.advance(20_000);
    const stale = await h.get('/mr', { 'cache-control': 'max-stale=3600' });
    assert.match(stale.headers['cache-status']!, /fwd=stale; fwd-status=304/);
  } finally {
    await h.close();
  }
});

test('§4.2.3: Age from upstream counts against freshness', async () => {
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=100', age: '90', 'content-length': '1' });
    res.end('x');
  });
  try {
    const a = await h.get('/age');
    assert.match(a.headers['cache-status']!, /ttl=(9|10)\b/);
    const b = await h.get('/age');
    assert.ok(Number(b.headers['age']) >= 90);
  } finally {
    await h.close();
  }
});

test('§5.1: two Age fields — the first one counts, so an entry older than its max-age is stale at once', async () => {
  const h = await startHarness((_req, res) => {
    res.setHeader('age', ['7200', '0']);
    res.writeHead(200, { 'cache-control': 'max-age=3600', etag: '"a"', 'content-length': '5' });
    res.end('hello');
  });
  try {
    await h.get('/two-ages');
    await h.stored(1);
    const again = await h.get('/two-ages');
    assert.match(again.headers['cache-status']!, /fwd=stale/);
    assert.equal(h.origin.count('/two-ages'), 2);
  } finally {
    await h.close();
  }
});

test('§4.3.4: a 304 that may not refresh the entry still answers its client with the 304\'s fields and age, never the old entry\'s', async () => {
  let n = 0;
  // The 304 says no-store, then (second object) carries a Set-Cookie: neither may be stored.
  const h = await startHarness((req, res) => {
    n++;
    const later = req.headers['if-none-match'] !== undefined;
    const path = req.url ?? '';
    if (!later) {
      res.writeHead(200, { 'cache-control': 'max-age=10', etag: '"a"', 'content-length': '2', date: new Date(h.clock.now()).toUTCString() });
      res.end('v1');
      return;
    }
    res.writeHead(304, path.startsWith('/nostore') ? { 'cache-control': 'no-store', etag: '"a"' } : { 'cache-control': 'max-age=300', etag: '"a"', 'set-cookie': 'sid=new' });
    res.end();
  });
  try {
    for (const path of ['/nostore', '/cookie']) {
      await h.get(path);
      await h.stored(path === '/nostore' ? 1 : 2);
      h.clock.advance(20_000);
      const r = await h.get(path);
      assert.equal(r.status, 200);
      assert.equal(r.text, 'v1', 'the stored body the 304 validated');
      assert.match(r.headers['cache-status']!, /fwd=stale; fwd-status=304; detail=no-longer-storable/);
      assert.equal(Number(r.headers['age']), 0, 'the age restarts from the 304, not the old entry\'s 20 s');
      if (path === '/nostore') assert.equal(r.headers['cache-control'], 'no-store', 'the 304\'s no-store reaches the client');
      else assert.equal(r.headers['set-cookie'], 'sid=new', 'the 304\'s Set-Cookie reaches the client that caused it');
      assert.ok(Math.abs(Date.parse(r.headers['date']!) - h.clock.now()) < 2_000, `Date is the 304's arrival, got ${r.headers['date']}`);
    }
    assert.equal(n, 4);
  } finally {
    await h.close();
  }
});

test('RFC 9110 §6.6.1: a response stored without Date is dated when it arrived; hits keep that Date and If-Modified-Since can match it', async () => {
  const h = await startHarness((_req, res) => {
    // The harness's origin stamps a Date of its own: this one sends none.
    res.sendDate = false;
    res.removeHeader('date');
    res.writeHead(200, { 'cache-control': 'max-age=100', 'content-length': '2' });
    res.end('v1');
  });
  try {
    // The node's clock when the response arrives (the miss's own Date is Node's, written at send).
    const sentAt = h.clock.now();
    await h.get('/dateless');
    await h.stored(1);
    h.clock.advance(30_000);
    const hit = await h.get('/dateless');
    assert.match(hit.headers['cache-status']!, /; hit/);
    const arrived = Date.parse(hit.headers['date']!);
    assert.ok(arrived >= Math.floor(sentAt / 1000) * 1000 && arrived <= sentAt + 1_000, `a hit carries the Date recorded at arrival, got ${hit.headers['date']}`);
    h.clock.advance(5_000);
    assert.equal((await h.get('/dateless')).headers['date'], hit.headers['date'], 'the same recorded Date on every hit, not the time of the hit');
    assert.equal(Number(hit.headers['age']), 30);
    const cond = await h.get('/dateless', { 'if-modified-since': new Date(arrived + 1_000).toUTCString() });
    assert.equal(cond.status, 304, 'not modified since a time after the recorded Date (RFC 9111 §4.3.2)');
  } finally {
    await h.close();
  }
});
