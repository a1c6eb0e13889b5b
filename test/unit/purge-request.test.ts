// The request side of purging: body shape, URLs to selectors, the bearer token,
// tag fields, and what a soft purge does to an entry's freshness.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkBearer, parsePurgeBody, selectorFor, type PurgeRequest } from '../../src/admin/purge.js';
import { decideReuse, requestDirectives } from '../../src/cache/reuse.js';
import { expiredAt } from '../../src/cache/soft-purge.js';
import { tagsOf } from '../../src/cache/tags.js';
import { StrataError } from '../../src/errors.js';
import { entryMeta } from '../fixtures/entry-meta.js';

function refused(r: unknown, code: string, mention: RegExp): void {
  assert.ok(r instanceof StrataError, `expected ${code}, got ${JSON.stringify(r)}`);
  assert.equal(r.code, code);
  assert.match(r.message, mention);
}

test('a valid body: every field, defaults for the rest', () => {
  assert.deepEqual(parsePurgeBody('{"urls": ["/a"], "soft": true}'), { urls: ['/a'], prefixes: [], tags: [], all: false, soft: true });
  assert.deepEqual(parsePurgeBody('{"urls":["http://h/x"],"prefixes":["/v/"],"tags":["t"],"all":true,"soft":false}'), {
    urls: ['http://h/x'],
    prefixes: ['/v/'],
    tags: ['t'],
    all: true,
    soft: false,
  });
  assert.deepEqual(parsePurgeBody('{"all": true}'), { urls: [], prefixes: [], tags: [], all: true, soft: false });
});

test('a bad body is refused with the problem named', () => {
  const cases: [string, RegExp][] = [
    ['{"urls": ["/a"]', /not valid JSON/],
    ['', /not valid JSON/],
    ['[]', /must be a JSON object/],
    ['"x"', /must be a JSON object/],
    ['null', /must be a JSON object/],
    ['{"url": ["/a"]}', /unknown field "url" \(expected urls, prefixes, tags, all, soft\)/],
    ['{"urls": "/a"}', /field "urls" must be an array of strings, not a string/],
    ['{"urls": ["/a", 3]}', /urls\[1\] must be a non-empty string, not number 3/],
    ['{"tags": [""]}', /tags\[0\] must be a non-empty string, not an empty string/],
    ['{"prefixes": [null]}', /prefixes\[0\] must be a non-empty string, not null/],
    ['{"all": "yes"}', /field "all" must be true or false, not a string/],
    ['{"urls": ["/a"], "soft": 1}', /field "soft" must be true or false, not number 1/],
    ['{}', /nothing to purge/],
    ['{"all": false, "urls": []}', /nothing to purge/],
    ['{"soft": true}', /nothing to purge/],
  ];
  for (const [body, why] of cases) refused(parsePurgeBody(body), 'PURGE_BAD_REQUEST', why);
});

test('names inherited from Object.prototype are unknown fields, not accepted ones', () => {
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
    for (const value of ['["/a"]', 'true']) {
      const body = `{"urls": ["/a"], "${name}": ${value}}`;
      refused(parsePurgeBody(body), 'PURGE_BAD_REQUEST', new RegExp(`unknown field "${name}" \\(expected urls, prefixes, tags, all, soft\\)`));
    }
  }
});

const req = (over: Partial<PurgeRequest>): PurgeRequest => ({ urls: [], prefixes: [], tags: [], all: false, soft: false, ...over });

test('absolute URLs become primary keys (host normalised like the cache key); paths match any host', () => {
  const sel = selectorFor(req({ urls: ['http://Site.Example:80/a?b=1#frag', 'https://site.example', 'http://h:8080?q', '/p?x#y'], prefixes: ['/videos/2024/', 'HTTP://CDN.example/img/'], tags: ['t'] }));
  assert.ok(!(sel instanceof StrataError));
  assert.deepEqual(sel.primaryKeys, ['GET http://site.example/a?b=1', 'GET http://site.example/', 'GET http://h:8080/?q']);
  assert.deepEqual(sel.paths, ['/p?x']);
  assert.deepEqual(sel.pathPrefixes, ['/videos/2024/']);
  assert.deepEqual(sel.urlPrefixes, ['http://cdn.example/img/']);
  assert.deepEqual(sel.tags, ['t']);
  assert.equal(sel.all, false);
});

test('a URL that is neither absolute http(s) nor a path is refused, naming where it is', () => {
  refused(selectorFor(req({ urls: ['/ok', 'videos/a.mp4'] })), 'PURGE_BAD_REQUEST', /urls\[1\]: "videos\/a.mp4" is neither/);
  refused(selectorFor(req({ prefixes: ['ftp://h/x'] })), 'PURGE_BAD_REQUEST', /prefixes\[0\]/);
  refused(selectorFor(req({ urls: ['http:///nohost'] })), 'PURGE_BAD_REQUEST', /urls\[0\]/);
});

test('bearer token: off when none is configured; missing, malformed or wrong is 401; right is accepted', () => {
  refused(checkBearer('Bearer anything', ''), 'PURGE_DISABLED', /no admin token/);
  refused(checkBearer(undefined, 's3cret'), 'UNAUTHORIZED', /Bearer/);
  refused(checkBearer('Basic czNjcmV0', 's3cret'), 'UNAUTHORIZED', /Bearer/);
  refused(checkBearer('Bearer', 's3cret'), 'UNAUTHORIZED', /Bearer/);
  refused(checkBearer('Bearer s3cre', 's3cret'), 'UNAUTHORIZED', /wrong admin token/);
  refused(checkBearer('Bearer s3cret-and-more', 's3cret'), 'UNAUTHORIZED', /wrong admin token/);
  assert.equal(checkBearer('Bearer s3cret', 's3cret'), undefined);
  assert.equal(checkBearer('bearer   s3cret ', 's3cret'), undefined, 'the scheme is case-insensitive (RFC 9110 §11.1)');
});

test('tags: Surrogate-Key is space-separated, Cache-Tag comma-separated; both read, de-duplicated', () => {
  assert.deepEqual(tagsOf({ 'surrogate-key': 'a  b\tc' }), ['a', 'b', 'c']);
  assert.deepEqual(tagsOf({ 'cache-tag': 'x, y ,,z' }), ['x', 'y', 'z']);
  assert.deepEqual(tagsOf({ 'surrogate-key': 'a b, c', 'cache-tag': 'b,d' }), ['a', 'b', 'c', 'd'], 'repeated fields are joined with ", "');
  assert.deepEqual(tagsOf({}), []);
  assert.deepEqual(tagsOf({ 'surrogate-key': '  ' }), []);
});

test('soft purge: the entry is stale from the purge instant and its stale windows count from then', () => {
  const t0 = Date.UTC(2026, 0, 1);
  const meta = entryMeta('GET http://h/a', { responseTimeMs: t0, initialAgeS: 5, freshnessLifetimeS: 600, staleWhileRevalidateS: 30 });
  const purgeAt = t0 + 100_000;
  const soft = expiredAt(meta, purgeAt);
  assert.equal(soft.freshnessLifetimeS, 105, 'cut to its age at the purge');
  assert.equal(meta.freshnessLifetimeS, 600, 'the stored object is not changed in place');
  const none = requestDirectives({});
  assert.equal(decideReuse(none, meta, purgeAt).reuse, true, 'fresh before');
  const d = decideReuse(none, soft, purgeAt);
  assert.equal(d.reuse, false);
  assert.equal(d.reuse === false && d.why, 'stale');
  assert.ok(d.ttlS <= 0 && d.ttlS > -1);
  // A client's max-stale does not reach a soft-purged entry (CACHING.md, Purging: guarantees).
  const maxStale = requestDirectives({ 'cache-control': 'max-stale' });
  assert.equal(decideReuse(maxStale, meta, purgeAt + 3600_000).reuse, true, 'unpurged: max-stale serves it');
  assert.equal(decideReuse(maxStale, soft, purgeAt + 3600_000).reuse, false, 'soft-purged: revalidated');
  assert.equal(soft.softPurgedAtMs, purgeAt);
  // An entry already stale keeps its lifetime but is stamped too; a second soft purge changes nothing.
  const stale = entryMeta('GET http://h/b', { responseTimeMs: t0, freshnessLifetimeS: 10 });
  assert.deepEqual(expiredAt(stale, purgeAt), { ...stale, softPurgedAtMs: purgeAt });
  assert.equal(decideReuse(maxStale, expiredAt(stale, purgeAt), purgeAt).reuse, false);
  assert.deepEqual(expiredAt(soft, purgeAt + 50_000), soft);
});

test('purge URLs lose their dot segments as request targets do, so they name the key a request stored; climbing above the root is refused', () => {
  const sel = selectorFor(req({ urls: ['/a/./b', 'http://h.example/x/../y'], prefixes: ['/v/%2e/img/'] }));
  assert.ok(!(sel instanceof Error));
  assert.deepEqual(sel.paths, ['/a/b']);
  assert.deepEqual(sel.primaryKeys, ['GET http://h.example/y']);
  assert.deepEqual(sel.pathPrefixes, ['/v/img/']);
  refused(selectorFor(req({ urls: ['/../etc'] })), 'PURGE_BAD_REQUEST', /urls\[0\]/);
});

test('an https URL with its default port names the key a TLS request stored (keys keep the http scheme; :443 goes)', () => {
  const sel = selectorFor(req({ urls: ['https://Site.Example:443/a', 'https://site.example:8443/b'] }));
  assert.ok(!(sel instanceof StrataError));
  assert.deepEqual(sel.primaryKeys, ['GET http://site.example/a', 'GET http://site.example:8443/b']);
});
