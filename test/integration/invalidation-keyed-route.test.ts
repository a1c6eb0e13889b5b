// RFC 9111 §4.4 on a route that keys by query options and a request field: an unsafe
// method's answer removes every keyed version and every variant of its URI in both
// tiers, and a fill begun before that answer is neither joined after it nor stored.
// All of it is an invalidation, not a purge: no purge listener hears of it (the disk
// tier's purge journal, the cluster's purge-times record and node.onPurged hooks are
// purge listeners; each of them used to run, with its fsyncs, before the POST's answer).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { startSites } from '../fixtures/sites.js';
import type { OriginHandler } from '../fixtures/harness.js';

test('a POST on a keyed route invalidates every keyed version and variant in both tiers, and a fill begun before it; no purge is made of it', async () => {
  let version = 'v1';
  const held: { res: ServerResponse; body: string }[] = [];
  const origin: OriginHandler = (req, res) => {
    if (req.method === 'POST') {
      version = 'v2';
      res.writeHead(201, { 'content-length': '0' });
      return res.end();
    }
    const body = `${version} ${req.headers['x-device'] ?? '-'} ${req.headers['accept-language'] ?? '-'}`;
    // The tablet's fetches are answered when the test says, with the version current when they arrived.
    if (req.headers['x-device'] === 'tablet') return void held.push({ res, body });
    res.writeHead(200, { 'cache-control': 'max-age=300', vary: 'accept-language', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const h = await startSites({ s: origin }, (u) => ({
    shop: { hosts: ['shop.example'], routes: { all: { path: '/', upstream: u['s'], cache: { ignoreQuery: ['utm'], keyHeaders: ['x-device'] } } } },
  }), { overrides: { logLevel: 'warn' } });
  const told: unknown[] = [];
  h.node.onPurged((sel) => void told.push(sel));
  try {
    const get = (headers: Record<string, string> = {}, path = '/p') => h.get(path, { host: 'shop.example', ...headers });
    // Two keyed versions (no device, a mobile), each with two variants (Vary: Accept-Language).
    const devices: Record<string, string>[] = [{}, { 'x-device': 'mobile' }];
    const versions = devices.flatMap((d) => ['en', 'fr'].map((l) => ({ ...d, 'accept-language': l })));
    for (const v of versions) assert.equal((await get(v)).status, 200);
    await h.stored(versions.length);
    for (const v of versions) assert.match((await get(v)).headers['cache-status']!, /; hit/, JSON.stringify(v));
    // On disk too, so that the invalidation has both tiers to empty.
    const store = h.node.store();
    await store.flush();
    assert.equal(store.stats().memory.items, versions.length);
    assert.equal(store.stats().disk.items, versions.length);

    // A third keyed version being fetched when the POST arrives.
    const before = get({ 'x-device': 'tablet' });
    // A failed assertion closes the node under it: its client's error must not hide the assertion's.
    before.catch(() => undefined);
    await h.until(() => held.length === 1, 'the tablet fill to reach the origin');

    const post = await h.get('/p?utm=mail', { host: 'shop.example' }, 'POST', 'order');
    assert.equal(post.status, 201);
    // Once answered: nothing of the URI is left in either tier.
    assert.equal(store.stats().memory.items, 0, 'memory: every keyed version and variant removed');
    assert.equal(store.stats().disk.items, 0, 'disk: every keyed version and variant removed');
    assert.equal(h.node.stats.counters.invalidations, versions.length);
    assert.deepEqual(told, [], 'an invalidation is not a purge: no purge listener ran (journal, purge times, hooks)');

    // A request after the answer makes its own fetch instead of joining the one begun before.
    const after = get({ 'x-device': 'tablet' });
    after.catch(() => undefined);
    await h.until(() => held.length === 2, 'the tablet request after the POST to make its own fetch');
    assert.equal(h.node.stats.counters.joined, 0);
    const answer = (i: number) => {
      const { res, body } = held[i]!;
      res.writeHead(200, { 'cache-control': 'max-age=300', vary: 'accept-language', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    answer(0);
    assert.equal((await before).text, 'v1 tablet -', 'begun before the write: its own answer');
    await h.logged((l) => l['msg'] === 'response not stored' && /superseded while being written/.test(String(l['err'])));
    answer(1);
    assert.equal((await after).text, 'v2 tablet -', 'begun after the write answered: the new version');
    await h.stored(versions.length + 1);
    const tablet = await get({ 'x-device': 'tablet' });
    assert.equal(tablet.text, 'v2 tablet -', 'the fill begun before the write stored nothing');
    assert.match(tablet.headers['cache-status']!, /; hit/);
    for (const v of versions) {
      const r = await get(v);
      // The second language of a device finds the first one's new variant: a Vary miss.
      assert.match(r.headers['cache-status']!, /fwd=(uri|vary)-miss/, JSON.stringify(v));
      assert.match(r.text, /^v2 /);
    }
    assert.deepEqual(told, []);
  } finally {
    await h.close();
  }
});
