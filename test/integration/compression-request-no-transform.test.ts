// A request's own Cache-Control: no-transform (RFC 9110 §7.7, RFC 9111 §5.2.1.6): no
// intermediary may transform the answer to it. Such a client never gets a coding Strata
// made (encoded from identity, or identity decoded from the origin's coding): it gets the
// origin's bytes as they are, identity or the origin's own coding, stored or fetched.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startHarness } from '../fixtures/harness.js';

function page(n: number): string {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `<dd class="d${i % 5}">definition ${i}</dd>\n`;
  return s.slice(0, n);
}

const BODY = page(20_000);
const GZ = zlib.gzipSync(BODY);
const NT = { 'cache-control': 'no-transform' };

test('no-transform: identity, never a br made for it, on a miss and beside a stored br variant', async () => {
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=600', etag: '"v1"', 'content-length': BODY.length }).end(BODY);
  });
  try {
    const miss = await h.get('/m', { ...NT, 'accept-encoding': 'br' });
    assert.equal(miss.headers['content-encoding'], undefined, 'a miss: the origin body as it came');
    assert.equal(miss.headers['etag'], '"v1"');
    assert.equal(miss.text, BODY);
    await h.stored(1);
    assert.equal(h.node.stats.counters.compressed, 0, 'nothing made for it');
    const hit = await h.get('/m', { ...NT, 'accept-encoding': 'br' });
    assert.match(hit.headers['cache-status']!, /; hit; ttl=\d+$/);
    assert.equal(hit.headers['content-encoding'], undefined);
    assert.equal(h.node.stats.counters.compressed, 0);

    // Another client has the br variant made and stored; a no-transform br client still gets identity.
    assert.match((await h.get('/m', { 'accept-encoding': 'br' })).headers['cache-status']!, /detail=compress-br$/);
    await h.stored(2);
    for (const extra of [{}, { 'cache-control': 'max-age=60, No-Transform' }]) {
      const r = await h.get('/m', { ...NT, ...extra, 'accept-encoding': 'br' });
      assert.match(r.headers['cache-status']!, /; hit; ttl=\d+$/);
      assert.equal(r.headers['content-encoding'], undefined, 'the stored identity body, not the made br');
      assert.equal(r.headers['etag'], '"v1"');
      assert.equal(r.text, BODY);
    }
    const head = await h.get('/m', { ...NT, 'accept-encoding': 'br' }, 'HEAD');
    assert.equal(head.headers['content-encoding'], undefined, 'HEAD: the fields its GET gets');
    assert.equal(h.origin.count('/m'), 1);
  } finally {
    await h.close();
  }
});

test("no-transform: the origin's gzip as it is, never a copy decoded from it, stored or fetched", async () => {
  const h = await startHarness((_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=600', etag: '"g1"', 'content-encoding': 'gzip', 'content-length': GZ.length }).end(GZ);
  });
  try {
    // A miss for a client without gzip: not decoded for it.
    const miss = await h.get('/g', NT);
    assert.equal(miss.headers['content-encoding'], 'gzip', "the origin's bytes as they came");
    assert.deepEqual(miss.body, GZ);
    await h.stored(1);
    assert.equal(h.node.stats.counters.decoded, 0, 'nothing decoded for it');

    // Stored: an identity copy is decoded for a client without gzip; br made for a br client.
    assert.match((await h.get('/g')).headers['cache-status']!, /detail=decode-gzip$/);
    await h.stored(2);
    assert.match((await h.get('/g', { 'accept-encoding': 'br' })).headers['cache-status']!, /detail=compress-br$/);
    await h.stored(3);
    for (const ae of [undefined, 'br', 'gzip']) {
      const r = await h.get('/g', ae === undefined ? NT : { ...NT, 'accept-encoding': ae });
      assert.match(r.headers['cache-status']!, /; hit; ttl=\d+$/, `${ae}`);
      assert.equal(r.headers['content-encoding'], 'gzip', `${ae}: the origin's gzip, not a made variant`);
      assert.equal(r.headers['etag'], '"g1"');
      assert.deepEqual(r.body, GZ);
    }
    assert.equal(h.origin.count('/g'), 1);
  } finally {
    await h.close();
  }
});

test("no-transform joining another client's miss does not get the copy decoded for that client", async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let asked = 0;
  const h = await startHarness((_req, res) => {
    asked++;
    void released.then(() => res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=600', etag: '"j1"', 'content-encoding': 'gzip', 'content-length': GZ.length }).end(GZ));
  });
  try {
    const leader = h.get('/j');
    await h.until(() => asked === 1, 'the miss at the origin');
    const joined = h.node.stats.counters.joined;
    const follower = h.get('/j', NT);
    await h.until(() => h.node.stats.counters.joined > joined, 'the no-transform client joined');
    release();
    const [a, b] = await Promise.all([leader, follower]);
    assert.equal(a.headers['content-encoding'], undefined);
    assert.equal(a.text, BODY);
    assert.equal(b.headers['content-encoding'], 'gzip', "the origin's gzip, not the leader's decoded copy");
    assert.deepEqual(b.body, GZ);
  } finally {
    release();
    await h.close();
  }
});
