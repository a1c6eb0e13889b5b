// Which coded variant answers, and what is made and stored from it (issue 11,
// review): a variant made from a decoded body is selected on later hits; a client
// joining another coding's revalidation never stores a made copy over the origin's
// body, and costs the origin no 304 of its own; x-gzip is gzip; a purge during a
// hit's look-up keeps its made variant out.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { fetchReply, startHarness, type Harness } from '../fixtures/harness.js';

/** A text body of `n` bytes that compresses like real markup. */
function page(n: number): string {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `<div class="row r${i % 17}"><span>item ${i}</span></div>\n`;
  return s.slice(0, n);
}

const BODY = page(20_000);
const GZ = zlib.gzipSync(BODY);

function variantsOf(h: Harness, path: string) {
  return h.node.store().variants(`GET http://${new URL(h.base).host}${path}`);
}

test('a br variant made from a decoded body is the one later br requests get: compressed once, not on every hit', async () => {
  const h = await startHarness((req, res) => {
    const fields = { 'content-type': 'text/html', 'cache-control': 'max-age=600', etag: '"v1"', vary: 'Origin' };
    if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304, fields).end();
    res.writeHead(200, { ...fields, 'content-encoding': 'gzip', 'content-length': GZ.length });
    res.end(GZ);
  });
  try {
    const o = { origin: 'https://a.example' };
    await h.get('/d', { ...o, 'accept-encoding': 'gzip' });
    await h.stored(1);
    const plain = await h.get('/d', o);
    assert.match(plain.headers['cache-status']!, /; hit; ttl=\d+; detail=decode-gzip$/);
    await h.stored(2);
    const first = await h.get('/d', { ...o, 'accept-encoding': 'br' });
    assert.match(first.headers['cache-status']!, /detail=compress-br$/);
    await h.stored(3);
    const made = h.node.stats.counters.compressed;
    for (let i = 0; i < 3; i++) {
      const r = await h.get('/d', { ...o, 'accept-encoding': 'br' });
      assert.match(r.headers['cache-status']!, /; hit; ttl=\d+$/, 'the stored br variant, sent as it is');
      assert.equal(r.headers['content-encoding'], 'br');
      assert.equal(zlib.brotliDecompressSync(r.body).toString(), BODY);
    }
    assert.equal(h.node.stats.counters.compressed, made, 'no compression on a hit');
    assert.equal(variantsOf(h, '/d').length, 3);
    assert.equal(h.origin.count('/d'), 1);

    // A 304 refreshes the gzip source and every coding of it (RFC 9111 §4.3.4). The br variant is
    // still judged by the decoded body it was made from, and still answers.
    h.clock.advance(700_000);
    const validated = await h.get('/d', { ...o, 'accept-encoding': 'gzip' });
    assert.match(validated.headers['cache-status']!, /fwd=stale; fwd-status=304; stored; ttl=\d+$/);
    const after = await h.get('/d', { ...o, 'accept-encoding': 'br' });
    assert.match(after.headers['cache-status']!, /; hit; ttl=\d+$/);
    assert.equal(zlib.brotliDecompressSync(after.body).toString(), BODY);
    assert.equal(h.node.stats.counters.compressed, made);
    assert.equal(h.origin.count('/d'), 2);
  } finally {
    await h.close();
  }
});

test("an identity client joining a br client's revalidation gets the origin's identity body; no decoded copy is stored over it", async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let held = 0;
  const h = await startHarness((req, res) => {
    const fields = { 'content-type': 'text/html', 'cache-control': 'max-age=10', etag: '"v1"' };
    if (req.headers['if-none-match'] !== '"v1"') return void res.writeHead(200, { ...fields, 'content-length': BODY.length }).end(BODY);
    held++;
    void released.then(() => res.writeHead(304, fields).end());
  });
  try {
    await h.get('/r');
    await h.stored(1);
    assert.match((await h.get('/r', { 'accept-encoding': 'br' })).headers['cache-status']!, /detail=compress-br$/);
    await h.stored(2);
    h.clock.advance(20_000);
    const leader = h.get('/r', { 'accept-encoding': 'br' });
    await h.until(() => held === 1, 'the br revalidation at the origin');
    const joined = h.node.stats.counters.joined;
    const follower = h.get('/r');
    await h.until(() => h.node.stats.counters.joined > joined, 'the identity client joined the revalidation');
    release();
    const [a, b] = await Promise.all([leader, follower]);
    assert.match(a.headers['cache-status']!, /fwd=stale; fwd-status=304; stored/);
    assert.equal(a.headers['etag'], 'W/"v1-br"');
    assert.equal(b.headers['content-encoding'], undefined);
    assert.equal(b.headers['etag'], '"v1"', "the origin's identity body, not a copy decoded from br");
    assert.equal(b.text, BODY);

    const cond = await h.get('/r', { 'if-none-match': '"v1"' });
    assert.equal(cond.status, 304, "If-None-Match with the origin's ETag still matches the identity variant");
    const identity = variantsOf(h, '/r').find((m) => m.varyValues['accept-encoding'] === 'identity');
    assert.equal(identity?.transform, undefined, "the identity entry is still the origin's");
  } finally {
    release();
    await h.close();
  }
});

test("an origin's x-gzip is gzip: a gzip client gets the origin's bytes, stored as the gzip variant, decoded for others", async () => {
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=600', etag: '"v1"', 'content-encoding': 'x-gzip', 'content-length': GZ.length });
    res.end(GZ);
  });
  try {
    const first = await h.get('/x', { 'accept-encoding': 'gzip' });
    assert.match(first.headers['cache-status']!, /fwd=uri-miss; fwd-status=200; stored; ttl=\d+$/);
    assert.equal(first.headers['etag'], '"v1"');
    assert.deepEqual(first.body, GZ, "the origin's bytes as they came, not decoded");
    assert.equal(h.node.stats.counters.decoded, 0);
    await h.stored(1);
    assert.deepEqual(variantsOf(h, '/x').map((m) => [m.varyValues['accept-encoding'], m.transform]), [['gzip', undefined]]);
    const hit = await h.get('/x', { 'accept-encoding': 'gzip, br' });
    assert.match(hit.headers['cache-status']!, /; hit; ttl=\d+$/);
    assert.deepEqual(hit.body, GZ);
    const plain = await h.get('/x');
    assert.match(plain.headers['cache-status']!, /; hit; ttl=\d+; detail=decode-gzip$/);
    assert.equal(plain.text, BODY);
    assert.equal(h.origin.count('/x'), 1);
  } finally {
    await h.close();
  }
});

test("an origin's Content-Encoding listing identity beside gzip ('gzip, identity', any case) is gzip: decoded for a client without gzip, never sent to it as gzip", async () => {
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=600', etag: '"v1"', 'content-encoding': 'GZIP, Identity', 'content-length': GZ.length });
    res.end(GZ);
  });
  try {
    const first = await h.get('/gi', { 'accept-encoding': 'gzip' });
    assert.deepEqual(first.body, GZ, "the origin's bytes to a gzip client");
    assert.equal(first.headers['vary'], 'Accept-Encoding');
    await h.stored(1);
    assert.deepEqual(variantsOf(h, '/gi').map((m) => m.varyValues['accept-encoding']), ['gzip']);
    const plain = await h.get('/gi');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.text, BODY);
    assert.match(plain.headers['cache-status']!, /; hit; ttl=\d+; detail=decode-gzip$/);
    const br = await h.get('/gi', { 'accept-encoding': 'br' });
    assert.equal(zlib.brotliDecompressSync(br.body).toString(), BODY);
    assert.equal(h.origin.count('/gi'), 1);
  } finally {
    await h.close();
  }
});

test('a 304 that adds no-transform never refreshes a variant Strata made: the body is fetched whole, and no client gets transformed bytes under no-transform (RFC 9110 §7.7)', async () => {
  let cc = 'max-age=1';
  const h = await startHarness((req, res) => {
    if (req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, { 'cache-control': cc, etag: '"v1"' });
      return res.end();
    }
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': cc, etag: '"v1"', 'content-length': Buffer.byteLength(BODY) });
    res.end(BODY);
  });
  try {
    const made = await h.get('/nt', { 'accept-encoding': 'br' });
    assert.equal(made.headers['content-encoding'], 'br');
    await h.stored(2);
    h.clock.advance(5000);
    cc = 'max-age=600, no-transform';
    for (const when of ['revalidated', 'hit']) {
      const r = await h.get('/nt', { 'accept-encoding': 'br' });
      assert.equal(r.headers['cache-control'], 'max-age=600, no-transform', when);
      assert.equal(r.headers['content-encoding'], undefined, `${when}: no transformed body under no-transform`);
      assert.equal(r.headers['etag'], '"v1"', when);
      assert.equal(r.text, BODY, when);
    }
    assert.deepEqual(
      variantsOf(h, '/nt').map((m) => [m.varyValues['accept-encoding'], m.transform]),
      [[undefined, undefined]],
      'the made variants are gone: the origin body alone, no longer keyed by coding',
    );
    assert.equal(h.origin.count('/nt'), 3, 'the first fill, the 304, the whole body');
  } finally {
    await h.close();
  }
});

test('a soft purge while a hit is being looked up keeps the variant made for it out of the store', async () => {
  const token = 'variants-token';
  const h = await startHarness((req, res) => {
    const fields = { 'content-type': 'text/html', 'cache-control': 'max-age=600', etag: '"v1"' };
    if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304, fields).end();
    res.writeHead(200, { ...fields, 'content-length': BODY.length }).end(BODY);
  }, { admin: { token }, cache: { memoryMaxObjectBytes: 1024 }, logLevel: 'warn' });
  try {
    await h.get('/sp');
    await h.stored(1);
    await h.node.store().flush();
    assert.equal(h.node.store().stats()['memory']!.items, 0, 'the identity body on disk only: a look-up reads it');
    // The hook: the disk look-up of the stored body resolves only after a soft purge of the URL,
    // as a read that takes its time would.
    const store = h.node.store();
    const find = store.find.bind(store);
    let armed = true;
    store.find = (key: string) => {
      const found = find(key);
      if (!armed) return found;
      armed = false;
      return (async () => {
        const entry = await found;
        const r = await fetchReply(h.admin + '/purge', { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, 'POST', JSON.stringify({ urls: [h.base + '/sp'], soft: true }));
        assert.equal(r.status, 200, r.text);
        return entry;
      })();
    };
    const during = await h.get('/sp', { 'accept-encoding': 'br' });
    assert.equal(armed, false, 'the hook ran');
    assert.match(during.headers['cache-status']!, /; hit; ttl=\d+; detail=compress-br$/, 'answered from the entry as it was looked up');
    assert.equal(zlib.brotliDecompressSync(during.body).toString(), BODY);
    // A stored variant is committed before its client gets its end.
    assert.deepEqual(variantsOf(h, '/sp').map((m) => m.varyValues['accept-encoding']), ['identity'], 'the variant made from the purged entry did not land');
    await h.logged((l) => l['msg'] === 'variant not stored' && /superseded while being written/.test(String(l['err'])));

    const after = await h.get('/sp', { 'accept-encoding': 'br' });
    assert.match(after.headers['cache-status']!, /fwd=stale; fwd-status=304/, 'stale after the purge: revalidated, not a fresh-looking made variant');
  } finally {
    await h.close();
  }
});

test('a soft purge while a revalidation is being stored keeps the variant made from the revalidated entry out of the store', async () => {
  const token = 'variants-token';
  const h = await startHarness((req, res) => {
    const fields = { 'content-type': 'text/html', 'cache-control': 'max-age=600', etag: '"v1"' };
    if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304, fields).end();
    res.writeHead(200, { ...fields, 'content-length': BODY.length }).end(BODY);
  }, { admin: { token }, logLevel: 'warn' });
  try {
    await h.get('/rv');
    await h.stored(1);
    h.clock.advance(700_000);
    // The hook: the 304's metadata update resolves only after a soft purge of the URL.
    const store = h.node.store();
    const update = store.update.bind(store);
    let armed = true;
    store.update = async (meta, opts) => {
      await update(meta, opts);
      if (!armed) return;
      armed = false;
      const r = await fetchReply(h.admin + '/purge', { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, 'POST', JSON.stringify({ urls: [h.base + '/rv'], soft: true }));
      assert.equal(r.status, 200, r.text);
    };
    const during = await h.get('/rv', { 'accept-encoding': 'br' });
    assert.equal(armed, false, 'the hook ran');
    assert.match(during.headers['cache-status']!, /fwd=stale; fwd-status=304; stored; ttl=\d+; detail=compress-br$/);
    assert.equal(zlib.brotliDecompressSync(during.body).toString(), BODY);
    assert.deepEqual(variantsOf(h, '/rv').map((m) => m.varyValues['accept-encoding']), ['identity'], 'the variant made from the revalidated entry did not land');
    const after = await h.get('/rv', { 'accept-encoding': 'br' });
    assert.match(after.headers['cache-status']!, /fwd=stale; fwd-status=304/, 'stale after the purge');
  } finally {
    await h.close();
  }
});

/** An origin answering `etag` with BODY, and a conditional request for it with a 304 held until `release()`. */
function heldRevalidation(etag: string) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const state = { held: 0 };
  const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const fields = { 'content-type': 'text/html', 'cache-control': 'max-age=10', etag };
    if (req.headers['if-none-match'] !== etag) return void res.writeHead(200, { ...fields, 'content-length': BODY.length }).end(BODY);
    state.held++;
    void released.then(() => res.writeHead(304, fields).end());
  };
  return { handler, state, release: () => release() };
}

test('a herd in another coding joining one revalidation of a made variant costs the origin one 304: each client gets its coding made from its own variant, refreshed by it (RFC 9111 §4.3.4)', async () => {
  const o = heldRevalidation('"v1"');
  const h = await startHarness(o.handler);
  try {
    await h.get('/herd');
    await h.stored(1);
    assert.match((await h.get('/herd', { 'accept-encoding': 'br' })).headers['cache-status']!, /detail=compress-br$/);
    await h.stored(2);
    h.clock.advance(20_000);
    const leader = h.get('/herd', { 'accept-encoding': 'br' });
    await h.until(() => o.state.held === 1, 'the br revalidation at the origin');
    const joined = h.node.stats.counters.joined;
    const followers = Array.from({ length: 6 }, () => h.get('/herd', { 'accept-encoding': 'gzip' }));
    await h.until(() => h.node.stats.counters.joined === joined + 6, 'the gzip clients joined the revalidation');
    o.release();
    const [l, ...f] = await Promise.all([leader, ...followers]);
    assert.equal(o.state.held, 1, 'one revalidation at the origin for the whole herd');
    assert.equal(h.origin.count('/herd'), 2);
    assert.equal(l.headers['etag'], 'W/"v1-br"');
    for (const r of f) {
      assert.match(r.headers['cache-status']!, /fwd=stale; fwd-status=304; stored; collapsed; ttl=\d+; detail=compress-gzip$/);
      assert.equal(r.headers['content-encoding'], 'gzip');
      assert.equal(zlib.gunzipSync(r.body).toString(), BODY);
    }
    // The same 304 refreshed the identity variant the gzip one was made from: a hit now, still the origin's.
    const plain = await h.get('/herd');
    assert.match(plain.headers['cache-status']!, /; hit; ttl=\d+$/);
    assert.equal(plain.headers['etag'], '"v1"');
    assert.equal(plain.text, BODY);
    assert.equal(h.origin.count('/herd'), 2);
  } finally {
    o.release();
    await h.close();
  }
});

test('a client joining a revalidation of a made variant whose own variant the 304 does not select (a weak ETag) gets it decoded for it alone: no 304 of its own, nothing stored over the origin body', async () => {
  const o = heldRevalidation('W/"w1"');
  const h = await startHarness(o.handler);
  try {
    await h.get('/weak');
    await h.stored(1);
    assert.match((await h.get('/weak', { 'accept-encoding': 'br' })).headers['cache-status']!, /detail=compress-br$/);
    await h.stored(2);
    h.clock.advance(20_000);
    const leader = h.get('/weak', { 'accept-encoding': 'br' });
    await h.until(() => o.state.held === 1, 'the br revalidation at the origin');
    const joined = h.node.stats.counters.joined;
    const follower = h.get('/weak');
    await h.until(() => h.node.stats.counters.joined === joined + 1, 'the identity client joined the revalidation');
    o.release();
    const [, b] = await Promise.all([leader, follower]);
    assert.equal(o.state.held, 1, 'no revalidation of its own');
    assert.match(b.headers['cache-status']!, /fwd=stale; fwd-status=304; stored; collapsed; ttl=\d+; detail=decode-br$/);
    assert.equal(b.headers['content-encoding'], undefined);
    assert.equal(b.text, BODY);
    const identity = variantsOf(h, '/weak').filter((m) => m.varyValues['accept-encoding'] === 'identity');
    assert.equal(identity.length, 1);
    assert.equal(identity[0]!.transform, undefined, "the identity entry is still the origin's: the decoded copy was not stored");
  } finally {
    o.release();
    await h.close();
  }
});
