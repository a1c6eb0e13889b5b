// Three rules of the miss path, each once broken: a client's If-Match never decides
// what is stored (RFC 9111 §4.3.2); every client of a response being stored gets its
// own Age (§4.2.3), followers too; and an unsafe method's invalidation (§4.4) reaches
// a fetch already in flight, so a request after the write never gets the old version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { request as undiciRequest } from 'undici';
import { startHarness } from '../fixtures/harness.js';

test('If-Match and If-Unmodified-Since never reach the origin on a fill: one client\'s precondition decides nothing stored for everyone', async () => {
  const h = await startHarness((req, res) => {
    // An origin that answers preconditions, with a 412 it marks cacheable (as a view wrapped in a cache decorator does).
    if (req.headers['if-match'] !== undefined || req.headers['if-unmodified-since'] !== undefined) {
      res.writeHead(412, { 'cache-control': 'public, max-age=60', 'content-length': '2' });
      return res.end('no');
    }
    res.writeHead(200, { 'cache-control': 'public, max-age=60', etag: '"v1"', 'content-length': '3' });
    res.end('yes');
  });
  try {
    const a = await h.get('/a', { 'if-match': '"zzz"' });
    assert.equal(a.status, 200, 'not applicable to a cache: the stored answer, as a hit would give');
    const b = await h.get('/b', { 'if-unmodified-since': 'Sat, 01 Jan 2000 00:00:00 GMT' });
    assert.equal(b.status, 200);
    for (const p of ['/a', '/b']) {
      const r = await h.get(p);
      assert.equal(r.status, 200, `${p}: nobody else gets a 412`);
      assert.equal(r.text, 'yes');
      assert.match(r.headers['cache-status']!, /; hit/);
    }
    for (const r of h.origin.requests) {
      assert.equal(r.headers['if-match'], undefined);
      assert.equal(r.headers['if-unmodified-since'], undefined);
    }
  } finally {
    await h.close();
  }
});

test('a response being stored: the leader and a collapsed follower each get the Age of their own moment, not none and not the origin\'s', async () => {
  const held: ServerResponse[] = [];
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=300', age: '250', 'content-length': '4' });
    res.write('ab');
    held.push(res);
  });
  try {
    // The leader's head is read as it arrives: its Age is fixed when Strata writes it, before the clock moves.
    const leaderHead = undiciRequest(`${h.base}/aged`);
    const leaderRes = await leaderHead;
    const leader = leaderRes.body.text().then((text) => ({ text, headers: leaderRes.headers as Record<string, string> }));
    // The follower joins 20 s later (fake clock), while the body is still arriving.
    h.clock.advance(20_000);
    const follower = h.get('/aged');
    await h.until(() => h.node.stats.counters.joined === 1, 'the follower to join');
    held[0]!.end('cd');
    const [l, f] = await Promise.all([leader, follower]);
    assert.equal(l.text, 'abcd');
    assert.equal(f.text, 'abcd');
    assert.equal(l.headers['age'], '250', 'the leader: the origin\'s age at arrival');
    assert.equal(f.headers['age'], '270', 'the follower: 20 s later, as a hit then would say');
    assert.equal(h.origin.count('/aged'), 1);
  } finally {
    await h.close();
  }
});

test('an unsafe method invalidates a fetch already in flight: a GET after the POST answered neither joins it nor finds its old version stored', async () => {
  let version = 'v1';
  const held: { res: ServerResponse; body: string }[] = [];
  const h = await startHarness((req, res) => {
    if (req.method === 'POST') {
      version = 'v2';
      res.writeHead(204);
      return res.end();
    }
    // The GET's answer is the version current when the origin got it, sent when the test says.
    held.push({ res, body: version });
  });
  try {
    const first = h.get('/x');
    await h.until(() => held.length === 1, 'the first GET to reach the origin');
    assert.equal((await h.get('/x', {}, 'POST', 'change')).status, 204);
    const after = h.get('/x');
    await h.until(() => held.length === 2, 'the GET after the POST to make its own fetch');
    for (const { res, body } of held) {
      res.writeHead(200, { 'cache-control': 'max-age=300', 'content-length': '2' });
      res.end(body);
    }
    assert.equal((await first).text, 'v1', 'begun before the write: its own answer');
    assert.equal((await after).text, 'v2', 'begun after the write answered: the new version');
    await h.stored(1);
    const later = await h.get('/x');
    assert.equal(later.text, 'v2', 'the fetch begun before the write stored nothing');
    assert.match(later.headers['cache-status']!, /; hit/);
  } finally {
    await h.close();
  }
});

test('an origin cannot set the time a copy spent in the cluster nor mark it soft-purged: strata-peer-age-ms and strata-peer-soft-purged-ms from the origin are not stored', async () => {
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=300', 'content-length': '2', 'strata-peer-age-ms': '-86400000', 'strata-peer-soft-purged-ms': '1' });
    res.end('ok');
  });
  try {
    assert.equal((await h.get('/aged-by-origin')).status, 200);
    await h.stored(1);
    const stored = h.node.store().peek(`GET http://${new URL(h.base).host}/aged-by-origin`);
    assert.ok(stored, 'stored under its key');
    assert.equal(stored.meta.headers['strata-peer-age-ms'], undefined);
    assert.equal(stored.meta.headers['strata-peer-soft-purged-ms'], undefined);
  } finally {
    await h.close();
  }
});
