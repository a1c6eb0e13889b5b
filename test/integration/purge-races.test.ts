// Purges racing fills in flight and joins, across a restart, of disk-only and sliced
// entries, with stale windows, logged and hooked, and one the store cannot make durable.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rmdir } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { startHarness } from '../fixtures/harness.js';
import type { PurgeSelector } from '../../src/store/types.js';
import { TOKEN, withToken, site, purge, json, taggedOrigin, warm, isHit } from './purge-node.js';

test('a purge during a fill in flight: the fill does not land, the next request fetches anew', async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let arrived!: () => void;
  const fillStarted = new Promise<void>((r) => (arrived = r));
  let served = 0;
  const h = await startHarness((_req, res) => {
    served++;
    const body = `version ${served}`;
    res.writeHead(200, { 'cache-control': 'max-age=600', 'surrogate-key': 'slow', 'content-length': Buffer.byteLength(body) });
    if (served > 1) return void res.end(body);
    res.write(body.slice(0, 3));
    arrived();
    void released.then(() => res.end(body.slice(3)));
  }, { ...withToken, logLevel: 'warn' });
  try {
    const first = h.get('/slow', site);
    await fillStarted;
    const r = await purge(h, { tags: ['slow'] });
    assert.equal(r.status, 200);
    assert.equal(json(r)['purged'], 0, 'nothing stored yet');
    release();
    assert.equal((await first).text, 'version 1', 'the client of the fill still gets its whole answer');
    await h.logged((l) => l['msg'] === 'response not stored' && /superseded while being written/.test(String(l['err'])));
    const next = await h.get('/slow', site);
    assert.equal(next.text, 'version 2');
    assert.match(next.headers['cache-status']!, /fwd=uri-miss/);
    await h.stored(1);
    await h.node.store().flush();
    assert.equal(h.node.store().stats()['disk']!.items, 1, 'only the fill that started after the purge');
  } finally {
    await h.close();
  }
});

test('purges survive a restart: hard-purged entries stay gone, soft-purged ones stay stale', async () => {
  const h = await startHarness(taggedOrigin, withToken);
  try {
    await warm(h, ['/keep', '/hard', '/soft']);
    assert.equal(json(await purge(h, { urls: ['/hard'] }))['purged'], 1);
    assert.equal(json(await purge(h, { urls: ['http://site.example/soft'], soft: true }))['purged'], 1);
    await h.restart();
    assert.equal(await isHit(h, '/keep'), true);
    const hard = await h.get('/hard', site);
    assert.match(hard.headers['cache-status']!, /fwd=uri-miss/);
    const soft = await h.get('/soft', site);
    assert.match(soft.headers['cache-status']!, /fwd=stale; fwd-status=304/, 'still stale after the restart: revalidated');
  } finally {
    await h.close();
  }
});

test('tags of entries only the disk holds are indexed, also after a restart', async () => {
  const big = (path: string) => `body of ${path}` + ' '.repeat(4096);
  const h = await startHarness((req, res) => {
    const body = big(req.url!);
    res.writeHead(200, { 'cache-control': 'max-age=600', 'surrogate-key': `k${req.url!.slice(-1)} all-large`, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }, { ...withToken, cache: { memoryMaxObjectBytes: 1024 } });
  try {
    for (const p of ['/large1', '/large2']) await h.get(p, site);
    await h.stored(2);
    assert.equal(h.node.store().stats()['memory']!.items, 0, 'disk only');
    assert.equal(json(await purge(h, { tags: ['k1'] }))['purged'], 1);
    await h.restart();
    assert.equal(h.node.store().stats()['disk']!.items, 1);
    assert.equal(json(await purge(h, { tags: ['all-large'] }))['purged'], 1, 'index rebuilt from the stored metadata');
    const r = await h.get('/large2', site);
    assert.match(r.headers['cache-status']!, /fwd=uri-miss/);
  } finally {
    await h.close();
  }
});

test('every purge is logged with who asked, what and how many; refusals too; hooks are told', async () => {
  const h = await startHarness(taggedOrigin, { ...withToken, logLevel: 'info' });
  const told: [PurgeSelector, boolean][] = [];
  h.node.onPurged((sel, soft) => told.push([sel, soft]));
  try {
    await warm(h, ['/p/5', '/p/6']);
    await purge(h, { tags: ['catalog'], prefixes: ['/x/'], soft: true });
    const [line] = await h.logged((l) => l['msg'] === 'purge');
    assert.deepEqual(line!['purge'], {
      by: '127.0.0.1',
      via: 'POST /purge',
      soft: true,
      prefixes: ['/x/'],
      prefixesCount: 1,
      tags: ['catalog'],
      tagsCount: 1,
      purged: 2,
      ms: (line!['purge'] as { ms: number }).ms,
    });
    assert.equal(told.length, 1);
    assert.deepEqual(told[0]![0].tags, ['catalog']);
    assert.deepEqual(told[0]![0].pathPrefixes, ['/x/']);
    assert.equal(told[0]![1], true);

    await h.get('/p/5', { ...site, authorization: 'Bearer wrong' }, 'PURGE');
    const [refusal] = await h.logged((l) => /^purge refused/.test(String(l['msg'])));
    assert.deepEqual(refusal!['purge'], { by: '127.0.0.1', via: 'PURGE', refused: 'UNAUTHORIZED' });
    assert.equal(refusal!['level'], 40);
    assert.equal(told.length, 1, 'a refused purge is not executed');
  } finally {
    await h.close();
  }
});

test('a request after a purge does not join a fetch that began before it; that fetch is not stored (by URL and by tag)', async () => {
  for (const body of [{ urls: ['/c'] }, { tags: ['grp'] }]) {
    const waiting: ServerResponse[] = [];
    const h = await startHarness((_req, res) => void waiting.push(res), { ...withToken, logLevel: 'warn' });
    const answer = (res: ServerResponse, text: string) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'surrogate-key': 'grp', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    try {
      const early = [h.get('/c', site), h.get('/c', site)];
      await h.until(() => waiting.length === 1 && h.node.stats.counters.joined >= 1, 'a fetch with a follower on it');
      assert.equal((await purge(h, body)).status, 200);
      const late = h.get('/c', site);
      await h.until(() => waiting.length === 2, 'a fetch of its own for the request after the purge');
      answer(waiting[1]!, 'after the purge');
      assert.equal((await late).text, 'after the purge');
      answer(waiting[0]!, 'before the purge');
      for (const r of await Promise.all(early)) assert.equal(r.text, 'before the purge', 'clients already on the old fetch still get it');
      await h.logged((l) => l['msg'] === 'response not stored' && /superseded while being written/.test(String(l['err'])));
      const next = await h.get('/c', site);
      assert.match(next.headers['cache-status']!, /; hit/);
      assert.equal(next.text, 'after the purge', JSON.stringify(body));
      assert.equal(h.origin.count('/c'), 2);
    } finally {
      await h.close();
    }
  }
});

test('soft purge with stale-if-error: origin failing → the soft-purged entry, its window counted from the purge; a hard purge leaves nothing', async () => {
  let status = 200;
  const h = await startHarness((req, res) => {
    const body = status === 200 ? `good ${req.url}` : 'broken';
    res.writeHead(status, { etag: '"e"', 'cache-control': 'max-age=600, stale-if-error=60', 'surrogate-key': 'sie', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }, withToken);
  try {
    await warm(h, ['/soft', '/hard']);
    h.clock.advance(100_000);
    assert.equal(json(await purge(h, { urls: ['/soft'], soft: true }))['purged'], 1);
    assert.equal(json(await purge(h, { urls: ['/hard'] }))['purged'], 1);
    status = 503;
    h.clock.advance(30_000);
    const soft = await h.get('/soft', site);
    assert.equal(soft.status, 200);
    assert.equal(soft.text, 'good /soft');
    // Stale for 30 s since the purge, not for the 100 s of freshness it had left.
    assert.match(soft.headers['cache-status']!, /fwd=stale; fwd-status=503; ttl=-3[01]; detail=stale-if-error/);
    const hard = await h.get('/hard', site);
    assert.equal(hard.status, 503, 'hard-purged: nothing to fall back on');
    h.clock.advance(40_000);
    assert.equal((await h.get('/soft', site)).status, 503, 'past the stale-if-error window counted from the purge');
  } finally {
    await h.close();
  }
});

test('soft purge with stale-while-revalidate: the stale entry answers at once while one revalidation runs', async () => {
  const revalidations: ServerResponse[] = [];
  const h = await startHarness((req, res) => {
    if (req.headers['if-none-match']) return void revalidations.push(res);
    res.writeHead(200, { etag: '"w"', 'cache-control': 'max-age=600, stale-while-revalidate=60', 'cache-tag': 'swr', 'content-length': 3 }).end('old');
  }, withToken);
  try {
    await warm(h, ['/swr']);
    assert.equal(json(await purge(h, { tags: ['swr'], soft: true }))['purged'], 1);
    const r = await h.get('/swr', site);
    assert.equal(r.text, 'old');
    assert.match(r.headers['cache-status']!, /; hit; ttl=(0|-1); detail=stale-while-revalidate/);
    await h.until(() => revalidations.length === 1, 'the background revalidation');
    revalidations[0]!.writeHead(304, { etag: '"w"', 'cache-control': 'max-age=600, stale-while-revalidate=60' }).end();
    await h.until(() => h.node.stats.counters.revalidated === 1, 'the 304 merged');
    assert.match((await h.get('/swr', site)).headers['cache-status']!, /; hit; ttl=(599|600)$/, 'fresh again after the 304');
  } finally {
    await h.close();
  }
});

test('an object stored in slices is purged whole, by URL and by tag', async () => {
  const size = 1024 * 1024;
  const body = Buffer.alloc(size, 'm');
  const ranges: string[] = [];
  const h = await startHarness((req, res) => {
    ranges.push(req.headers.range ?? '');
    const headers = { etag: '"s1"', 'cache-control': 'max-age=600', 'surrogate-key': 'movies', 'accept-ranges': 'bytes' };
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (!m) return void res.writeHead(200, { ...headers, 'content-length': size }).end(body);
    const start = Number(m[1]);
    const end = Math.min(Number(m[2]), size - 1);
    res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1 }).end(body.subarray(start, end + 1));
  }, { ...withToken, slices: { thresholdBytes: 256 * 1024, sliceBytes: 64 * 1024 } });
  try {
    const get = () => h.get('/movie.mp4', { ...site, range: 'bytes=0-99' });
    const first = await get();
    assert.match(first.headers['cache-status']!, /fwd=uri-miss; fwd-status=206; stored;.*detail=slices/);
    let stored = 1;
    await h.stored(stored);
    for (const purgeBody of [{ urls: ['/movie.mp4'] }, { tags: ['movies'] }]) {
      assert.match((await get()).headers['cache-status']!, /; hit;.*detail=slices/);
      const fetched = ranges.length;
      assert.equal(json(await purge(h, purgeBody))['purged'], 1, JSON.stringify(purgeBody));
      const after = await get();
      assert.equal(after.status, 206);
      assert.equal(after.text, 'm'.repeat(100));
      assert.doesNotMatch(after.headers['cache-status']!, /; hit;/);
      assert.equal(ranges.length, fetched + 1, 'the slice was fetched again');
      await h.stored(++stored);
    }
  } finally {
    await h.close();
  }
});

test('a purge the store cannot make durable answers 500 STORE_FAILED, is logged, and can be retried', async () => {
  const h = await startHarness(taggedOrigin, { ...withToken, logLevel: 'error' });
  const journal = join(h.cacheDir, 'purge-journal.jsonl');
  try {
    await warm(h, ['/p/1', '/p/2']);
    await h.node.store().flush();
    // A directory where the journal file goes: the append fails.
    await mkdir(journal);
    const r = await purge(h, { tags: ['product-1'] });
    assert.equal(r.status, 500);
    assert.equal(json(r)['error'], 'STORE_FAILED');
    // The catalog's line, never the filesystem error with the cache path (CACHING.md, Errors).
    assert.equal(json(r)['message'], 'cache storage failed');
    assert.ok(!r.text.includes(h.cacheDir), r.text);
    const id = json(r)['id'];
    assert.equal(typeof id, 'number', 'the answer names the id of its log line');
    const [line] = await h.logged((l) => /purge failed/.test(String(l['msg'])) && l['id'] === id);
    assert.match(JSON.stringify(line), /purge-journal/, 'the cause is in the log line');
    // PURGE on the main listener: likewise, its log line carrying the request's id.
    const m = await h.get('/p/2', { ...site, authorization: `Bearer ${TOKEN}` }, 'PURGE');
    assert.equal(m.status, 500, m.text);
    assert.equal(json(m)['message'], 'cache storage failed');
    assert.ok(!m.text.includes(h.cacheDir), m.text);
    await h.logged((l) => /purge failed/.test(String(l['msg'])) && l['id'] === json(m)['id']);
    assert.equal(h.node.stats.counters.purges, 0);
    await rmdir(journal);
    const again = await purge(h, { tags: ['catalog'] });
    assert.equal(again.status, 200);
    assert.equal(await isHit(h, '/p/1'), false, 'purged (the failed attempt already kept it from being served)');
  } finally {
    await h.close();
  }
});
