// Purge bans (src/store/purge-bans.ts) and selector matching (purge-match.ts): an
// entry is checked against newer bans when read, entries stored after a ban are
// not, the walk applies bans to entries nobody reads and retires them, and the
// bounded purge log (purge-log.ts) errs towards "purged"; counting a purge's
// matches, shared by both tiers, in slices that yield.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PurgeBans, type BanChecked } from '../../src/store/purge/purge-bans.js';
import { PurgeLog } from '../../src/store/purge/purge-log.js';
import { countMatching, eachInSlices, emptySelector, pathOfUrl, selectorMatcher, type CountedTier } from '../../src/store/purge/purge-match.js';
import { TierIndex } from '../../src/store/tier-index.js';
import type { PurgeSelector } from '../../src/store/types.js';
import { entryMeta } from '../fixtures/entry-meta.js';

const sel = (over: Partial<PurgeSelector>): PurgeSelector => ({ ...emptySelector(), ...over });
const meta = (url: string, tags: string[] = []) => entryMeta(`GET ${url}`, { url, tags });

test('selector matching: keys, tags, URL prefixes, paths and path prefixes on any host, all', () => {
  const a = meta('http://one.example/videos/2024/a.mp4?x=1', ['v']);
  assert.equal(pathOfUrl(a.url), '/videos/2024/a.mp4?x=1');
  assert.equal(pathOfUrl('http://h'), '/');
  assert.equal(selectorMatcher(sel({ primaryKeys: [a.primaryKey] }))(a), true);
  assert.equal(selectorMatcher(sel({ tags: ['w', 'v'] }))(a), true);
  assert.equal(selectorMatcher(sel({ tags: ['w'] }))(a), false);
  assert.equal(selectorMatcher(sel({ urlPrefixes: ['http://one.example/videos/'] }))(a), true);
  assert.equal(selectorMatcher(sel({ urlPrefixes: ['http://two.example/videos/'] }))(a), false);
  assert.equal(selectorMatcher(sel({ paths: ['/videos/2024/a.mp4?x=1'] }))(a), true);
  assert.equal(selectorMatcher(sel({ paths: ['/videos/2024/a.mp4'] }))(a), false, 'the query is part of the path');
  assert.equal(selectorMatcher(sel({ pathPrefixes: ['/videos/2024/'] }))(a), true);
  assert.equal(selectorMatcher(sel({ pathPrefixes: ['/one.example'] }))(a), false, 'the authority is not part of the path');
  assert.equal(selectorMatcher(sel({ all: true }))(a), true);
  assert.equal(selectorMatcher(emptySelector())(a), false);
});

test('selector matching of keyed versions: a URL prefix ending at "#" takes that URL\'s versions alone; a path takes its versions on any host', () => {
  const keyed = meta('http://shop.example/a#lang=en');
  const longer = meta('http://shop.example/ab#lang=en');
  const plain = meta('http://shop.example/a');
  const other = meta('http://shop.example/b?x=2#side=canary');
  // Many URLs at once, as a purge of 20k keyed URLs sends them: a set, not a list walked per entry.
  const prefixes = Array.from({ length: 1000 }, (_, i) => `http://shop.example/u${i}#`);
  const m = selectorMatcher(sel({ urlPrefixes: [...prefixes, 'http://shop.example/a#'] }));
  assert.equal(m(keyed), true);
  assert.equal(m(longer), false, '"/a#" does not take "/ab#…"');
  assert.equal(m(plain), false, 'the unkeyed URL is its primary key\'s, not the prefix\'s');
  assert.equal(m(meta('http://shop.example/u999#lang=de')), true);
  assert.equal(m(other), false);
  // Mixed with ordinary URL prefixes, each still applies.
  const mixed = selectorMatcher(sel({ urlPrefixes: ['http://shop.example/b', 'http://shop.example/a#'] }));
  assert.equal(mixed(other), true);
  assert.equal(mixed(keyed), true);
  assert.equal(mixed(longer), false);
  // A path: every version under it, on any host; the query still exact.
  const path = selectorMatcher(sel({ paths: ['/a', '/b?x=2'] }));
  assert.equal(path(keyed), true);
  assert.equal(path(plain), true);
  assert.equal(path(meta('http://blog.example/a#side=canary')), true);
  assert.equal(path(longer), false);
  assert.equal(path(other), true);
  assert.equal(path(meta('http://shop.example/b?x=2&y=1#lang=en')), false, 'the query is part of the path');
});

test('bans: checked on read, not applied to newer entries, applied by the walk, then retired', async () => {
  const entries = new Map<string, BanChecked>();
  const removed: string[] = [];
  const softened: string[] = [];
  const retired: number[] = [];
  const bans = new PurgeBans<BanChecked>({
    entries: () => entries.values(),
    byKey: (k) => entries.get(k),
    remove: (e) => {
      entries.delete(e.meta.key);
      removed.push(e.meta.key);
    },
    soften: (e) => softened.push(e.meta.key),
    retired: (bs) => retired.push(...bs.map((b) => b.seq)),
  });
  const put = (url: string, tags: string[]) => {
    const e = { meta: meta(url, tags), bansChecked: bans.seq };
    entries.set(e.meta.key, e);
    return e;
  };
  const read = put('http://h/read', ['x']);
  put('http://h/unread', ['x']);
  const other = put('http://h/other', ['y']);
  bans.add(sel({ tags: ['x'] }));
  assert.equal(bans.alive(read), false, 'counting sees the pending ban');
  assert.equal(bans.refresh(read), false, 'a read applies the ban at once');
  assert.deepEqual(removed, ['GET http://h/read']);
  const newer = put('http://h/newer', ['x']);
  assert.equal(bans.refresh(newer), true, 'stored after the ban: untouched');
  bans.add(sel({ tags: ['y'] }), 1000);
  await bans.idle();
  assert.deepEqual(removed, ['GET http://h/read', 'GET http://h/unread'], 'the walk took the entry nobody read');
  assert.deepEqual(softened, ['GET http://h/other']);
  assert.equal(other.bansChecked, bans.seq);
  assert.deepEqual(retired, [1, 2]);
  assert.equal(bans.active, 0);
  assert.ok(entries.has('GET http://h/newer'));
});

test('purge log: a write whose fetch began before a covering purge is refused; too old a mark counts as purged', () => {
  const log = new PurgeLog();
  const m0 = log.mark;
  log.add(sel({ tags: ['t'] }));
  assert.equal(log.purgedSince(m0, meta('http://h/a', ['t'])), true);
  assert.equal(log.purgedSince(m0, meta('http://h/b', ['u'])), false);
  assert.equal(log.purgedSince(log.mark, meta('http://h/a', ['t'])), false, 'a fetch begun after the purge');
  for (let i = 0; i < 300; i++) log.add(sel({ tags: [`z${i}`] }));
  assert.equal(log.purgedSince(m0, meta('http://h/b', ['u'])), true, 'beyond what the log keeps');
});

test('purge log: bounded by the items of the selectors it keeps, not only by their number', () => {
  const log = new PurgeLog();
  const m0 = log.mark;
  const big = sel({ paths: Array.from({ length: 150_000 }, (_, i) => `/p/${i}`) });
  log.add(big);
  assert.equal(log.purgedSince(m0, meta('http://h/p/7')), true);
  assert.equal(log.purgedSince(m0, meta('http://h/q')), false);
  const m1 = log.mark;
  log.add(big);
  // The first large purge was let go: a fetch older than it counts as purged.
  assert.equal(log.purgedSince(m0, meta('http://h/q')), true);
  assert.equal(log.purgedSince(m1, meta('http://h/q')), false);
  assert.equal(log.purgedSince(m1, meta('http://h/p/9')), true);
});

test('counting a purge\'s matches (countMatching, both tiers): index sizes with no ban pending, live keys with one, a scan, and countIf', async () => {
  const entries = new Map<string, { meta: ReturnType<typeof meta>; dead?: boolean }>();
  const indexes = new TierIndex();
  for (const [url, tags] of [['http://h/a/1', ['t']], ['http://h/a/2', ['t']], ['http://h/b/1', []]] as const) {
    const m = meta(url, [...tags]);
    entries.set(m.key, { meta: m });
    indexes.add(m);
  }
  let active = 0;
  const tier: CountedTier<{ meta: ReturnType<typeof meta>; dead?: boolean }> = {
    indexes,
    bans: { alive: (e) => !e.dead, get active() { return active; } },
    byKey: (k) => entries.get(k),
    entries: () => entries.values(),
  };
  const selectors = [sel({ tags: ['t'] }), sel({ urlPrefixes: ['http://h/a/'] }), sel({ paths: ['/a/1', '/b/1'] }), sel({ all: true })];
  assert.deepEqual(await Promise.all(selectors.map((s) => countMatching(s, tier))), [2, 2, 2, 3]);
  // A ban pending that took /a/1: the sizes no longer count, the live keys do.
  entries.get('GET http://h/a/1')!.dead = true;
  active = 1;
  assert.deepEqual(await Promise.all(selectors.map((s) => countMatching(s, tier, undefined, true))), [1, 1, 1, 2]);
  // countIf: only the keys it accepts (the tiered store's "not on disk too").
  const notB = (k: string) => !k.includes('/b/');
  active = 0;
  assert.deepEqual(await Promise.all(selectors.map((s) => countMatching(s, tier, notB))), [1, 1, 0, 1]);
});

test('a pass in slices visits every item in order and yields to other work; without slices it does not', async () => {
  const items = Array.from({ length: 20_000 }, (_, i) => i);
  for (const inSlices of [true, false]) {
    let yielded = false;
    setImmediate(() => (yielded = true));
    const seen: number[] = [];
    await eachInSlices(items, (item, index) => {
      assert.equal(item, index);
      seen.push(item);
      const until = performance.now() + 0.002;
      while (performance.now() < until); // ~40 ms in all: several slices of SLICE_MS
    }, inSlices);
    assert.equal(seen.length, items.length);
    assert.equal(yielded, inSlices, inSlices ? 'other work ran between slices' : 'one go');
    await new Promise((r) => setImmediate(r));
  }
});

test('purge log: an invalidation refuses fetches of its key begun before it, not others, and 10,000 of them are judged by key', () => {
  const log = new PurgeLog();
  const m0 = log.mark;
  const a = meta('http://h/a');
  log.invalidate(a.primaryKey);
  assert.equal(log.purgedSince(m0, a), true, 'begun before the invalidation');
  assert.equal(log.purgedSince(m0, meta('http://h/b')), false, 'another key');
  assert.equal(log.purgedSince(log.mark, a), false, 'begun after it');
  const m1 = log.mark;
  for (let i = 0; i < 9_999; i++) log.invalidate(meta(`http://h/w${i}`).primaryKey);
  assert.equal(log.purgedSince(m1, meta('http://h/b')), false, '9,999 writes to other keys since: still judged by key');
  for (let i = 0; i < 300; i++) log.invalidate(meta(`http://h/y${i}`).primaryKey);
  assert.equal(log.purgedSince(m1, meta('http://h/b')), true, 'beyond what is kept: refused (one refetch)');
});
