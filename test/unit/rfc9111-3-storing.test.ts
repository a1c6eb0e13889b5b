// RFC 9111 §3 (storing responses in a shared cache) and the storage-related
// http-cache-semantics pitfalls Strata corrects (PITFALLS.md): assessStorage in
// src/cache/storable.ts. Fixed timestamps; no clock.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assessStorage, effectiveDirectives, type StorageInput, type StoragePolicyOptions } from '../../src/cache/storable.js';
import type { HeaderMap } from '../../src/http/headers.js';

const T0 = Date.UTC(2024, 0, 15, 12, 0, 0);
const httpDate = (ms: number) => new Date(ms).toUTCString();

const OPTS: StoragePolicyOptions = { targetedField: 'strata-cache-control', storeSetCookie: false, heuristicFraction: 0.1, heuristicMaxS: 86400 };

function input(over: Partial<StorageInput> & { responseHeaders?: HeaderMap }): StorageInput {
  return {
    method: 'GET',
    url: 'http://example.com/r',
    requestHeaders: {},
    status: 200,
    requestTimeMs: T0,
    responseTimeMs: T0,
    ...over,
    responseHeaders: { date: httpDate(T0), ...over.responseHeaders },
  };
}

interface Case {
  name: string;
  in: Partial<StorageInput>;
  opts?: Partial<StoragePolicyOptions>;
  /** true: stored; otherwise the NotStoredReason. */
  want: true | string;
}

const cases: Case[] = [
  // §3: basic conditions
  { name: '§3 GET 200 with max-age is stored', in: { responseHeaders: { 'cache-control': 'max-age=60' } }, want: true },
  { name: '§3 method must be understood and cacheable: POST is not stored', in: { method: 'POST', responseHeaders: { 'cache-control': 'max-age=60' } }, want: 'method' },
  { name: '§3 HEAD responses are not stored (GET fills the cache)', in: { method: 'HEAD', responseHeaders: { 'cache-control': 'max-age=60' } }, want: 'method' },
  { name: '§3.3 a 206 is not stored whole (PITFALLS 7)', in: { status: 206, responseHeaders: { 'cache-control': 'max-age=60' } }, want: 'partial-content' },
  { name: '§5.2.1.5 request no-store: not stored', in: { requestHeaders: { 'cache-control': 'no-store' }, responseHeaders: { 'cache-control': 'max-age=60' } }, want: 'request-no-store' },
  { name: '§5.2.1.5 request directive names are case-insensitive', in: { requestHeaders: { 'cache-control': 'No-Store' }, responseHeaders: { 'cache-control': 'max-age=60' } }, want: 'request-no-store' },

  // §5.2.2.5 no-store, §5.2.2.3 must-understand
  { name: '§5.2.2.5 no-store: not stored', in: { responseHeaders: { 'cache-control': 'no-store, max-age=60' } }, want: 'no-store' },
  { name: '§5.2 response directive names are case-insensitive (PITFALLS 5)', in: { responseHeaders: { 'cache-control': 'NO-STORE, max-age=60' } }, want: 'no-store' },
  { name: '§5.2.2.3 must-understand + no-store with an understood status (200) is stored', in: { responseHeaders: { 'cache-control': 'must-understand, no-store, max-age=60' } }, want: true },
  { name: '§5.2.2.3 must-understand + no-store with an unknown status (299) is not stored', in: { status: 299, responseHeaders: { 'cache-control': 'must-understand, no-store, max-age=60' } }, want: 'status' },
  { name: '§3 unknown status 299 with max-age is stored (explicit freshness)', in: { status: 299, responseHeaders: { 'cache-control': 'max-age=60' } }, want: true },
  { name: '§3 unknown statuses 400, 499, 599 with s-maxage or Expires are stored', in: { status: 499, responseHeaders: { 'cache-control': 's-maxage=60' } }, want: true },
  { name: '§3 unknown status 599 with Expires is stored', in: { status: 599, responseHeaders: { expires: 'Thu, 01 Jan 2099 00:00:00 GMT' } }, want: true },
  { name: '§5.2.2.3 unknown status 400 with must-understand and max-age is not stored', in: { status: 400, responseHeaders: { 'cache-control': 'must-understand, max-age=60' } }, want: 'status' },
  { name: '§4.2.2 unknown status 299 without explicit freshness (public, Last-Modified) is not stored: no heuristics', in: { status: 299, responseHeaders: { 'cache-control': 'public', 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT' } }, want: 'status' },
  { name: '1xx and 304 are never stored, even with max-age', in: { status: 304, responseHeaders: { 'cache-control': 'max-age=60' } }, want: 'status' },

  // §5.2.2.7 private
  { name: '§5.2.2.7 unqualified private: a shared cache does not store', in: { responseHeaders: { 'cache-control': 'private, max-age=60' } }, want: 'private' },
  { name: '§5.2.2.7 qualified private="x" is stored (the field is dropped)', in: { responseHeaders: { 'cache-control': 'private="x-user", max-age=60', 'x-user': 'u1' } }, want: true },
  {
    // SUSPECTED BUG: the duplicate-conflict rule of parseCacheControl turns `private` into '' and the
    // unqualified form is then missed. RFC 9111 §5.2.2.7: "a shared cache MUST NOT store the response"
    // when the unqualified private directive is present.
    name: '§5.2.2.7 unqualified private alongside a qualified private="x" still forbids storing',
    in: { responseHeaders: { 'cache-control': 'private="x-user", private, max-age=60' } },
    want: 'private',
  },

  // §3.5 Authorization
  { name: '§3.5 request Authorization without permission: not stored', in: { requestHeaders: { authorization: 'Bearer t' }, responseHeaders: { 'cache-control': 'max-age=60' } }, want: 'authorization' },
  { name: '§3.5 Authorization + public: stored', in: { requestHeaders: { authorization: 'Bearer t' }, responseHeaders: { 'cache-control': 'public, max-age=60' } }, want: true },
  { name: '§3.5 Authorization + s-maxage: stored', in: { requestHeaders: { authorization: 'Bearer t' }, responseHeaders: { 'cache-control': 's-maxage=60' } }, want: true },
  { name: '§3.5 Authorization + must-revalidate: stored', in: { requestHeaders: { authorization: 'Bearer t' }, responseHeaders: { 'cache-control': 'must-revalidate, max-age=60' } }, want: true },
  { name: '§3.5 Authorization + proxy-revalidate alone does not permit storing', in: { requestHeaders: { authorization: 'Bearer t' }, responseHeaders: { 'cache-control': 'proxy-revalidate, max-age=60' } }, want: 'authorization' },

  // Set-Cookie (PITFALLS 2)
  { name: 'PITFALLS 2: Set-Cookie responses are not stored by default', in: { responseHeaders: { 'cache-control': 'public, max-age=60', 'set-cookie': 'sid=1' } }, want: 'set-cookie' },
  { name: 'PITFALLS 2: Set-Cookie response stored when storeSetCookie (header stripped)', in: { responseHeaders: { 'cache-control': 'max-age=60', 'set-cookie': 'sid=1' } }, opts: { storeSetCookie: true }, want: true },

  // §4.1 Vary
  { name: '§4.1 Vary: * is never stored', in: { responseHeaders: { 'cache-control': 'max-age=60', vary: '*' } }, want: 'vary-star' },
  { name: '§4.1 Vary listing * among other names is never stored', in: { responseHeaders: { 'cache-control': 'max-age=60', vary: 'accept-encoding, *' } }, want: 'vary-star' },
  { name: '§4.1 Vary on named fields is stored', in: { responseHeaders: { 'cache-control': 'max-age=60', vary: 'Accept-Encoding' } }, want: true },

  // Status codes: §3 + RFC 9110 §15.1 (heuristically cacheable) + PITFALLS 7 (5xx)
  { name: 'PITFALLS 7: 500 with explicit max-age is stored', in: { status: 500, responseHeaders: { 'cache-control': 'max-age=10' } }, want: true },
  { name: 'PITFALLS 7: 503 with explicit s-maxage is stored', in: { status: 503, responseHeaders: { 'cache-control': 's-maxage=10' } }, want: true },
  { name: 'PITFALLS 7: 502 with a future Expires is stored', in: { status: 502, responseHeaders: { expires: httpDate(T0 + 60_000) } }, want: true },
  { name: 'RFC 9110 §15.1: 500 without explicit freshness is not stored', in: { status: 500, responseHeaders: { 'last-modified': httpDate(T0 - 86400_000) } }, want: 'status' },
  { name: 'RFC 9110 §15.1: 302 without explicit freshness is not heuristically cacheable', in: { status: 302, responseHeaders: { 'last-modified': httpDate(T0 - 86400_000), etag: '"a"' } }, want: 'status' },
  { name: '§3 302 with max-age is stored', in: { status: 302, responseHeaders: { 'cache-control': 'max-age=60', location: '/x' } }, want: true },
  { name: '§4.2.2 302 marked public may be stored with heuristic freshness', in: { status: 302, responseHeaders: { 'cache-control': 'public', 'last-modified': httpDate(T0 - 86400_000) } }, want: true },
  { name: 'RFC 9110 §15.1: 404 is heuristically cacheable', in: { status: 404, responseHeaders: { 'last-modified': httpDate(T0 - 86400_000) } }, want: true },
  { name: 'RFC 9110 §15.1: 301 is heuristically cacheable', in: { status: 301, responseHeaders: { 'last-modified': httpDate(T0 - 86400_000) } }, want: true },

  // Deviation (CACHING.md): a Cookie request's response needs explicit freshness or public (cache deception)
  { name: 'Deviation: Cookie request + only Last-Modified (heuristic) is not stored', in: { requestHeaders: { cookie: 'sid=1' }, responseHeaders: { 'last-modified': httpDate(T0 - 86400_000) } }, want: 'cookie-heuristic' },
  { name: 'Deviation: Cookie request + no-cache and a validator only is not stored', in: { requestHeaders: { cookie: 'sid=1' }, responseHeaders: { 'cache-control': 'no-cache', etag: '"u1"' } }, want: 'cookie-heuristic' },
  { name: 'Deviation: Cookie request + max-age is stored', in: { requestHeaders: { cookie: 'sid=1' }, responseHeaders: { 'cache-control': 'max-age=60' } }, want: true },
  { name: 'Deviation: Cookie request + Expires is stored', in: { requestHeaders: { cookie: 'sid=1' }, responseHeaders: { expires: httpDate(T0 + 60_000) } }, want: true },
  { name: 'Deviation: Cookie request + public and Last-Modified is stored', in: { requestHeaders: { cookie: 'sid=1' }, responseHeaders: { 'cache-control': 'public', 'last-modified': httpDate(T0 - 86400_000) } }, want: true },
  { name: 'Deviation: Cookie request + Vary: Cookie and Last-Modified is stored (keyed by the cookie)', in: { requestHeaders: { cookie: 'sid=1' }, responseHeaders: { vary: 'Accept-Encoding, cookie', 'last-modified': httpDate(T0 - 86400_000) } }, want: true },
  { name: 'Deviation: no Cookie + only Last-Modified is stored (RFC 9111 §4.2.2)', in: { responseHeaders: { 'last-modified': httpDate(T0 - 86400_000) } }, want: true },
  { name: 'storeCookieHeuristic restores RFC 9111 §4.2.2 for Cookie requests', in: { requestHeaders: { cookie: 'sid=1' }, responseHeaders: { 'last-modified': httpDate(T0 - 86400_000) } }, opts: { storeCookieHeuristic: true }, want: true },

  // PITFALLS 9: must be reusable somehow
  { name: 'PITFALLS 9: zero freshness and no validator is not stored', in: { responseHeaders: {} }, want: 'not-reusable' },
  { name: 'PITFALLS 9: max-age=0 and no validator is not stored', in: { responseHeaders: { 'cache-control': 'max-age=0' } }, want: 'not-reusable' },
  { name: 'PITFALLS 9: no-cache without a validator is not stored (every reuse needs validation)', in: { responseHeaders: { 'cache-control': 'no-cache, max-age=60' } }, want: 'not-reusable' },
  { name: '§4.3 zero freshness with an ETag is stored (can be validated)', in: { responseHeaders: { 'cache-control': 'max-age=0', etag: '"v1"' } }, want: true },
  { name: '§4.3 zero freshness with Last-Modified is stored (can be validated)', in: { responseHeaders: { 'cache-control': 'no-cache', 'last-modified': httpDate(T0 - 1000) } }, want: true },

  // RFC 9213 targeted fields decide storage too
  { name: 'RFC 9213 §2.2: CDN-Cache-Control no-store overrides Cache-Control max-age', in: { responseHeaders: { 'cache-control': 'max-age=60', 'cdn-cache-control': 'no-store' } }, want: 'no-store' },
  { name: 'RFC 9213 §2.2: CDN-Cache-Control max-age overrides Cache-Control no-store', in: { responseHeaders: { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=60' } }, want: true },
  { name: 'RFC 9213 §2.2: the node-specific field overrides CDN-Cache-Control', in: { responseHeaders: { 'cdn-cache-control': 'max-age=60', 'strata-cache-control': 'no-store' } }, want: 'no-store' },
  { name: 'RFC 9213 §2.2: Cache-Control private ignored when a targeted field is present', in: { responseHeaders: { 'cache-control': 'private', 'cdn-cache-control': 'max-age=60' } }, want: true },
];

describe('assessStorage: store or not (RFC 9111 §3)', () => {
  for (const c of cases) {
    test(c.name, () => {
      const v = assessStorage(input(c.in), { ...OPTS, ...c.opts });
      if (c.want === true) assert.equal(v.store, true, `expected stored, got ${JSON.stringify(v)}`);
      else assert.deepEqual(v, { store: false, reason: c.want });
    });
  }
});

describe('assessStorage: what is stored', () => {
  test('§3 an unknown status stored on explicit freshness is never reused stale', () => {
    const v = assessStorage(input({ status: 299, responseHeaders: { 'cache-control': 'max-age=60, stale-while-revalidate=600' } }), OPTS);
    assert.ok(v.store);
    assert.equal(v.decision.freshnessLifetimeS, 60);
    assert.equal(v.decision.staleForbidden, true);
  });

  test('§5.2.2.7 private="a, b" drops the named fields (case-insensitively) from the stored headers', () => {
    const v = assessStorage(
      input({ responseHeaders: { 'cache-control': 'private="X-User, x-token", max-age=60', 'x-user': 'u', 'x-token': 't', 'x-keep': 'k' } }),
      OPTS,
    );
    assert.ok(v.store);
    assert.equal(v.decision.headers['x-user'], undefined);
    assert.equal(v.decision.headers['x-token'], undefined);
    assert.equal(v.decision.headers['x-keep'], 'k');
  });

  test('PITFALLS 2: with storeSetCookie the Set-Cookie field is stripped before storing', () => {
    const v = assessStorage(input({ responseHeaders: { 'cache-control': 'max-age=60', 'set-cookie': 'sid=secret' } }), { ...OPTS, storeSetCookie: true });
    assert.ok(v.store);
    assert.equal(v.decision.headers['set-cookie'], undefined);
    assert.equal(v.decision.freshnessLifetimeS, 60);
  });

  test('§5.1 Age is not stored (recomputed on every answer); Date is kept', () => {
    const v = assessStorage(input({ responseHeaders: { 'cache-control': 'max-age=60', age: '5' } }), OPTS);
    assert.ok(v.store);
    assert.equal(v.decision.headers['age'], undefined);
    assert.equal(v.decision.headers['date'], httpDate(T0));
  });

  test('§4.1 varied names are lower-cased, de-duplicated and sorted', () => {
    const v = assessStorage(input({ responseHeaders: { 'cache-control': 'max-age=60', vary: 'Accept-Language, accept-encoding, Accept-Language' } }), OPTS);
    assert.ok(v.store);
    assert.deepEqual(v.decision.varyNames, ['accept-encoding', 'accept-language']);
  });

  test('RFC 9213 §2.2: cacheControl records the effective (targeted) field value', () => {
    const v = assessStorage(input({ responseHeaders: { 'cache-control': 'max-age=5', 'cdn-cache-control': 'max-age=600' } }), OPTS);
    assert.ok(v.store);
    assert.equal(v.decision.cacheControl, 'max-age=600');
    assert.equal(v.decision.freshnessLifetimeS, 600);
  });

  const flagCases: { name: string; cc: string; noCache: boolean; staleForbidden: boolean; swr: number; sie: number }[] = [
    { name: '§5.2.2.4 no-cache sets noCache', cc: 'no-cache', noCache: true, staleForbidden: false, swr: 0, sie: 0 },
    { name: '§5.2.2.4 qualified no-cache="x" is treated as unqualified', cc: 'no-cache="set-cookie", max-age=60', noCache: true, staleForbidden: false, swr: 0, sie: 0 },
    { name: '§5.2.2.2 must-revalidate forbids stale use', cc: 'must-revalidate, max-age=60', noCache: false, staleForbidden: true, swr: 0, sie: 0 },
    { name: '§5.2.2.8 proxy-revalidate forbids stale use in a shared cache', cc: 'proxy-revalidate, max-age=60', noCache: false, staleForbidden: true, swr: 0, sie: 0 },
    { name: '§5.2.2.10 s-maxage implies proxy-revalidate (PITFALLS 3: s-maxage=0 + swr)', cc: 's-maxage=0, stale-while-revalidate=30', noCache: false, staleForbidden: true, swr: 30, sie: 0 },
    { name: 'RFC 5861: stale-while-revalidate and stale-if-error are recorded', cc: 'max-age=60, stale-while-revalidate=30, stale-if-error=300', noCache: false, staleForbidden: false, swr: 30, sie: 300 },
    { name: 'PITFALLS 3: must-revalidate marks stale-if-error entries as never stale-servable', cc: 'max-age=60, must-revalidate, stale-if-error=300', noCache: false, staleForbidden: true, swr: 0, sie: 300 },
    { name: 'PITFALLS 3: no-cache + stale-while-revalidate always validates', cc: 'no-cache, stale-while-revalidate=30', noCache: true, staleForbidden: false, swr: 30, sie: 0 },
  ];
  for (const c of flagCases) {
    test(c.name, () => {
      const v = assessStorage(input({ responseHeaders: { 'cache-control': c.cc, etag: '"v"' } }), OPTS);
      assert.ok(v.store, JSON.stringify(v));
      assert.equal(v.decision.noCache, c.noCache, 'noCache');
      assert.equal(v.decision.staleForbidden, c.staleForbidden, 'staleForbidden');
      assert.equal(v.decision.staleWhileRevalidateS, c.swr, 'stale-while-revalidate');
      assert.equal(v.decision.staleIfErrorS, c.sie, 'stale-if-error');
    });
  }
});

describe('effectiveDirectives (RFC 9213 §2.2 precedence)', () => {
  const cases: { name: string; headers: HeaderMap; want: { value: string; targeted: boolean } }[] = [
    { name: 'RFC 9213 §2.2: no targeted field: Cache-Control', headers: { 'cache-control': 'max-age=1' }, want: { value: 'max-age=1', targeted: false } },
    { name: 'RFC 9213 §2.2: no fields at all', headers: {}, want: { value: '', targeted: false } },
    { name: 'RFC 9213 §3: CDN-Cache-Control over Cache-Control', headers: { 'cache-control': 'max-age=1', 'cdn-cache-control': 'max-age=2' }, want: { value: 'max-age=2', targeted: true } },
    {
      name: 'RFC 9213 §2.2: the node-specific targeted field over both',
      headers: { 'cache-control': 'max-age=1', 'cdn-cache-control': 'max-age=2', 'strata-cache-control': 'max-age=3' },
      want: { value: 'max-age=3', targeted: true },
    },
    { name: 'RFC 9213 §2.2: an empty targeted field is ignored', headers: { 'cache-control': 'max-age=1', 'strata-cache-control': '  ', 'cdn-cache-control': '' }, want: { value: 'max-age=1', targeted: false } },
    { name: 'RFC 9213 §2.1: a CDN-Cache-Control that is no sf-dictionary (upper-case key) is ignored whole', headers: { 'cache-control': 'no-store', 'cdn-cache-control': 'Max-Age=3600' }, want: { value: 'no-store', targeted: false } },
    { name: 'RFC 9213 §2.1: a CDN-Cache-Control with a trailing comma is ignored whole', headers: { 'cache-control': 'max-age=1', 'cdn-cache-control': 'max-age=3600,' }, want: { value: 'max-age=1', targeted: false } },
    { name: 'RFC 9213 §2.1: an invalid node-specific field falls back to a valid CDN-Cache-Control', headers: { 'cdn-cache-control': 'max-age=2', 'strata-cache-control': 'max-age=3, private="a' }, want: { value: 'max-age=2', targeted: true } },
    {
      name: 'RFC 9213 §2.1: a valid dictionary with a quoted list and a parameter is used, the parameter ignored',
      headers: { 'cache-control': 'max-age=1', 'cdn-cache-control': 'max-age=60, no-cache="set-cookie";x=1' },
      want: { value: 'max-age=60, no-cache="set-cookie"', targeted: true },
    },
    { name: 'RFC 9213 §2.1: a valid dictionary is kept as written when every directive is consumed', headers: { 'cdn-cache-control': 'max-age=60,  must-revalidate' }, want: { value: 'max-age=60,  must-revalidate', targeted: true } },
    {
      name: 'RFC 9213 §2.1: a directive of the wrong type is left out, the field still used',
      headers: { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age="10000", stale-if-error=1.5, public' },
      want: { value: 'public', targeted: true },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(effectiveDirectives(c.headers, 'strata-cache-control'), c.want);
    });
  }
});

describe('stored fields', () => {
  test('RFC 9110 §7.6.1: hop-by-hop fields and fields named in Connection are not stored', () => {
    const v = assessStorage(
      input({ responseHeaders: { 'cache-control': 'max-age=60', connection: 'x-hop', 'x-hop': '1', 'keep-alive': 'timeout=5', 'x-end': 'kept' } }),
      OPTS,
    );
    assert.ok(v.store);
    if (!v.store) return;
    assert.equal(v.decision.headers['connection'], undefined);
    assert.equal(v.decision.headers['keep-alive'], undefined);
    assert.equal(v.decision.headers['x-hop'], undefined);
    assert.equal(v.decision.headers['x-end'], 'kept');
  });
});
