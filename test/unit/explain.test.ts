// GET /explain's pure function (cache/explain.ts): which field gave the freshness,
// the TTL arithmetic, stale windows, refusals to store and hit-for-pass, as JSON
// fields and as sentences; and how the asked URL becomes a primary key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explain, type ExplainInput } from '../../src/cache/explain.js';
import { explainTarget } from '../../src/admin/explain.js';
import { parsePurgeBody, selectorFor, type PurgeRequest } from '../../src/admin/purge.js';
import { StrataError } from '../../src/errors.js';
import { formatHttpDate } from '../../src/http/dates.js';
import type { EntryMeta } from '../../src/store/types.js';
import { NotStoredLog } from '../../src/observability/not-stored.js';
import { entryMeta } from '../fixtures/entry-meta.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const KEY = 'GET http://site.example/a';

function input(metas: Partial<EntryMeta>[], over: Partial<ExplainInput> = {}): ExplainInput {
  return {
    url: 'http://site.example/a',
    hostRule: 'absolute URL',
    primaryKey: KEY,
    variants: metas.map((m, i) => ({ meta: entryMeta(`${KEY}#${i}`, { primaryKey: KEY, ...m }), tier: 'both' as const })),
    notStored: undefined,
    hitForPass: false,
    diskLoading: false,
    nowMs: NOW,
    targetedField: 'strata-cache-control',
    defaults: { staleWhileRevalidateS: 0, staleIfErrorS: 0 },
    ...over,
  };
}

/** Stored 100 s ago with the given lifetime and fields. */
const stored = (lifetimeS: number, headers: Record<string, string>, over: Partial<EntryMeta> = {}): Partial<EntryMeta> => ({
  headers,
  freshnessLifetimeS: lifetimeS,
  requestTimeMs: NOW - 100_000,
  responseTimeMs: NOW - 100_000,
  ...over,
});

const table: { name: string; meta: Partial<EntryMeta>; source: string; field: string | null; value: string | null; ttlS: number; fresh: boolean; words: RegExp }[] = [
  {
    name: 'fresh from Cache-Control max-age',
    meta: stored(600, { 'cache-control': 'public, max-age=600' }),
    source: 'cache-control', field: 'cache-control', value: 'max-age=600', ttlS: 500, fresh: true,
    words: /lifetime of 600 s comes from cache-control: max-age=600\./,
  },
  {
    name: 'CDN-Cache-Control beats Cache-Control',
    meta: stored(300, { 'cache-control': 'max-age=10', 'cdn-cache-control': 'max-age=300' }),
    source: 'cdn-cache-control', field: 'cdn-cache-control', value: 'max-age=300', ttlS: 200, fresh: true,
    words: /from cdn-cache-control: max-age=300 \(which beats Cache-Control\)/,
  },
  {
    name: 'the node-specific Strata-Cache-Control beats both',
    meta: stored(900, { 'cache-control': 'max-age=10', 'cdn-cache-control': 'max-age=300', 'strata-cache-control': 'max-age=900' }),
    source: 'targeted-field', field: 'strata-cache-control', value: 'max-age=900', ttlS: 800, fresh: true,
    words: /from strata-cache-control: max-age=900 \(the node-specific targeted field/,
  },
  {
    name: 's-maxage before max-age',
    meta: stored(120, { 'cache-control': 'max-age=10, s-maxage=120' }, { staleForbidden: true, cacheControl: 'max-age=10, s-maxage=120' }),
    source: 'cache-control', field: 'cache-control', value: 's-maxage=120', ttlS: 20, fresh: true,
    words: /never served stale \(s-maxage\)/,
  },
  {
    name: 'fresh from Expires',
    meta: stored(3600, { date: formatHttpDate(NOW - 100_000), expires: formatHttpDate(NOW + 3_500_000) }),
    source: 'expires', field: 'expires', value: formatHttpDate(NOW + 3_500_000), ttlS: 3500, fresh: true,
    words: /comes from Expires: .* GMT \(Cache-Control has no max-age or s-maxage\)/,
  },
  {
    name: 'heuristic from Last-Modified',
    meta: stored(8640, { 'last-modified': formatHttpDate(NOW - 86_500_000) }),
    source: 'heuristic', field: 'last-modified', value: formatHttpDate(NOW - 86_500_000), ttlS: 8540, fresh: true,
    words: /is heuristic: a fraction of the time since Last-Modified/,
  },
  {
    name: 'no freshness, no Last-Modified (an ETag only)',
    meta: stored(0, { etag: '"x"' }),
    source: 'none', field: null, value: null, ttlS: -100, fresh: false,
    words: /no explicit freshness and no Last-Modified/,
  },
];

for (const row of table) {
  test(`explain: ${row.name}`, () => {
    const e = explain(input([row.meta]));
    assert.equal(e.cached, true);
    const v = e.variants[0]!;
    assert.equal(v.freshness.source, row.source);
    assert.equal(v.freshness.field, row.field);
    assert.equal(v.freshness.value, row.value);
    assert.equal(v.ttlS, row.ttlS);
    assert.equal(v.ageS, 100);
    assert.equal(v.fresh, row.fresh);
    assert.equal(v.tier, 'both');
    assert.match(e.why.join(' '), row.words);
    assert.match(e.why[0]!, /^Cached: 1 variant stored under GET http:\/\/site\.example\/a/);
  });
}

test('explain: stale within the response\'s stale-while-revalidate window; the operator default when it names none', () => {
  let e = explain(input([stored(60, { 'cache-control': 'max-age=60, stale-while-revalidate=90' }, { staleWhileRevalidateS: 90, initialAgeS: 5 })]));
  let v = e.variants[0]!;
  assert.equal(v.ageS, 105);
  assert.equal(v.initialAgeS, 5);
  assert.equal(v.ttlS, -45);
  assert.equal(v.fresh, false);
  assert.equal(v.state, 'stale-while-revalidate');
  assert.deepEqual(v.staleWhileRevalidate, { seconds: 90, from: 'response' });
  assert.match(e.why.join(' '), /has been stale for 45 s/);
  assert.match(e.why.join(' '), /served stale while a background fetch revalidates it/);

  e = explain(input([stored(60, { 'cache-control': 'max-age=60' })], { defaults: { staleWhileRevalidateS: 10, staleIfErrorS: 600 } }));
  v = e.variants[0]!;
  assert.equal(v.state, 'stale');
  assert.deepEqual(v.staleWhileRevalidate, { seconds: 10, from: 'default' });
  assert.deepEqual(v.staleIfError, { seconds: 600, from: 'default' });
  assert.match(e.why.join(' '), /for 10 s \(cache\.staleWhileRevalidateS\) and when the origin fails for 600 s \(cache\.staleIfErrorS\)/);
  assert.match(e.why.join(' '), /next request for it is revalidated/);
});

test('explain: no-cache, must-revalidate, tags and variants by Vary', () => {
  const e = explain(
    input([
      stored(0, { 'cache-control': 'no-cache, must-revalidate' }, { noCache: true, staleForbidden: true, cacheControl: 'no-cache, must-revalidate', varyNames: ['accept-encoding'], varyValues: { 'accept-encoding': 'gzip' }, tags: ['t1', 't2'] }),
      stored(600, { 'cache-control': 'max-age=600' }, { varyNames: ['accept-encoding'], varyValues: { 'accept-encoding': '\u0000' } }),
    ]),
  );
  assert.equal(e.variants.length, 2);
  assert.equal(e.variants[0]!.state, 'no-cache');
  assert.deepEqual(e.variants[0]!.staleForbiddenBy, ['must-revalidate']);
  assert.deepEqual(e.variants[0]!.tags, ['t1', 't2']);
  assert.deepEqual(e.variants[1]!.vary, { names: ['accept-encoding'], values: { 'accept-encoding': null } });
  const words = e.why.join(' ');
  assert.match(e.why[0]!, /2 variants .* 1 fresh now/);
  assert.match(words, /variant for accept-encoding=gzip/);
  assert.match(words, /variant for accept-encoding=\(absent\)/);
  assert.match(words, /every use is validated with the origin first/);
  assert.match(words, /Tags: t1, t2\./);
});

test('explain: a refusal to store is reported with its reason, status and age; hit-for-pass; the disk index loading', () => {
  const e = explain(input([], { notStored: { reason: 'no-store', status: 200, atMs: NOW - 5000 }, hitForPass: true }));
  assert.equal(e.cached, false);
  assert.deepEqual(e.lastNotStored, { reason: 'no-store', meaning: 'the response said no-store', status: 200, at: new Date(NOW - 5000).toISOString(), agoS: 5 });
  assert.equal(e.hitForPass, true);
  assert.match(e.why[0]!, /^Not cached: nothing is stored under GET http:\/\/site\.example\/a\./);
  assert.match(e.why[1]!, /last response not stored \(status 200, 5 s ago\) was refused: no-store — the response said no-store/);
  assert.match(e.why[2]!, /hit-for-pass now/);

  const loading = explain(input([], { diskLoading: true }));
  assert.equal(loading.diskLoading, true);
  assert.match(loading.why.join(' '), /disk index is still loading: an entry on disk may not be loaded yet/);

  const unknown = explain(input([]));
  assert.match(unknown.why.join(' '), /No refusal to store it is remembered/);
});

test('explain target: an absolute URL keys by its host and port, a path by the origin host; dot segments as a request; nonsense is 400', () => {
  const abs = explainTarget('http://Site.Example:80/a/../b?x=1', 'origin.example');
  assert.ok(!(abs instanceof StrataError));
  assert.equal(abs.key, 'GET http://site.example/b?x=1');
  const path = explainTarget('/p?q', 'origin.example:8080');
  assert.ok(!(path instanceof StrataError));
  assert.equal(path.key, 'GET http://origin.example:8080/p?q');
  assert.match(path.hostRule, /origin host origin\.example:8080/);
  for (const bad of [null, '', 'nota url', 'ftp://x/y']) {
    const r = explainTarget(bad, 'origin.example');
    assert.ok(r instanceof StrataError, String(bad));
    assert.equal(r.status, 400);
  }
});

test('explain and purge key a URL alike, on its target as written (no percent-encoding added)', () => {
  const urls = ['http://site.example/search?q="x"', "http://site.example/it's?a='b'", 'http://site.example/a{b}|c^d', 'http://site.example/a`b',
    'http://EXAMPLE.com:80/x?y=<z>', 'https://site.example:443/a\\b', 'http://site.example/\u00e4', 'http://site.example/a%7e', 'http://site.example/a/./b#frag'];
  for (const url of urls) {
    const e = explainTarget(url, 'origin.example');
    assert.ok(!(e instanceof StrataError), url);
    const sel = selectorFor(parsePurgeBody(JSON.stringify({ urls: [url] })) as PurgeRequest);
    assert.ok(!(sel instanceof StrataError), url);
    assert.deepEqual(sel.primaryKeys, [e.key], url);
  }
  const raw = explainTarget('http://site.example/search?q="x"', 'origin.example');
  assert.ok(!(raw instanceof StrataError));
  assert.equal(raw.key, 'GET http://site.example/search?q="x"');
});

test('the not-stored log keeps the last refusal per URL, at most maxUrls of them, the least recently refused going first', () => {
  const log = new NotStoredLog({ maxKeys: 2, maxKeyBytes: 2 ** 20 });
  log.record('a', { reason: 'private', status: 200, atMs: 1 });
  log.record('b', { reason: 'no-store', status: 200, atMs: 2 });
  log.record('a', { reason: 'set-cookie', status: 200, atMs: 3 });
  log.record('c', { reason: 'status', status: 418, atMs: 4 });
  assert.equal(log.size, 2);
  assert.equal(log.get('b'), undefined);
  assert.equal(log.get('a')!.reason, 'set-cookie');
  assert.equal(log.get('c')!.status, 418);
});

test('explain: the slices of an object are named by their bytes and counted apart from variants (not as variants with an empty Vary)', () => {
  const slice = (index: number) => stored(600, { 'cache-control': 'max-age=600' }, { slice: { index, bytes: 65536, totalBytes: 1048576, validator: '"v1"' } });
  const e = explain(input([slice(0), slice(15)]));
  assert.equal(e.why[0], `Cached: 2 slices stored under ${KEY}, 2 fresh now.`);
  const words = e.why.join(' ');
  assert.match(words, /The slice 0, bytes 0–65535 of 1048576 \(status 200\)/);
  assert.match(words, /The slice 15, bytes 983040–1048575 of 1048576 \(status 200\)/);
  assert.doesNotMatch(words, /variant/);
  const mixed = explain(input([stored(600, { 'cache-control': 'max-age=600' }), slice(1)]));
  assert.equal(mixed.why[0], `Cached: 1 variant and 1 slice stored under ${KEY}, 2 fresh now.`);
  assert.match(mixed.why.join(' '), /The stored response \(status 200\).*The slice 1, bytes 65536–131071 of 1048576/);
});
