// RFC 9111 §4.2 (freshness): lifetime (§4.2.1), heuristics (§4.2.2), age
// (§4.2.3) and reuse of fresh/stale responses (§4, §5.2.1 request directives).
// assessStorage/correctedInitialAge (src/cache/storable.ts) and
// decideReuse/requestDirectives/currentAge (src/cache/reuse.ts). Fixed timestamps.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { entryMeta } from '../fixtures/entry-meta.js';
import { assessStorage, correctedInitialAge, type StorageInput, type StoragePolicyOptions } from '../../src/cache/storable.js';
import { currentAge, decideReuse, requestDirectives } from '../../src/cache/reuse.js';
import type { HeaderMap } from '../../src/http/headers.js';
import type { EntryMeta } from '../../src/store/types.js';

const T0 = Date.UTC(2024, 0, 15, 12, 0, 0);
const S = 1000;
const DAY = 86400 * S;
const httpDate = (ms: number) => new Date(ms).toUTCString();

const OPTS: StoragePolicyOptions = { targetedField: 'strata-cache-control', storeSetCookie: false, heuristicFraction: 0.1, heuristicMaxS: 86400 };

function assess(responseHeaders: HeaderMap, over: Partial<StorageInput> = {}) {
  return assessStorage(
    {
      method: 'GET',
      url: 'http://example.com/f',
      requestHeaders: {},
      status: 200,
      requestTimeMs: T0,
      responseTimeMs: T0,
      ...over,
      responseHeaders,
    },
    OPTS,
  );
}

interface LifetimeCase {
  name: string;
  headers: HeaderMap;
  status?: number;
  /** Expected freshness lifetime in seconds, or a NotStoredReason. */
  want: number | string;
}

const D0 = httpDate(T0);

const lifetimeCases: LifetimeCase[] = [
  // §4.2.1 explicit
  { name: '§4.2.1 max-age gives the lifetime', headers: { date: D0, 'cache-control': 'max-age=60' }, want: 60 },
  { name: '§4.2.1 s-maxage overrides max-age in a shared cache', headers: { date: D0, 'cache-control': 'max-age=10, s-maxage=100' }, want: 100 },
  { name: '§4.2.1 s-maxage=0 overrides max-age', headers: { date: D0, 'cache-control': 'max-age=100, s-maxage=0', etag: '"a"' }, want: 0 },
  { name: '§4.2.1 Expires − Date', headers: { date: D0, expires: httpDate(T0 + 3600 * S) }, want: 3600 },
  { name: '§5.3 max-age overrides Expires', headers: { date: D0, expires: httpDate(T0 + 3600 * S), 'cache-control': 'max-age=60' }, want: 60 },
  { name: '§5.3 max-age overrides an earlier Expires', headers: { date: D0, expires: httpDate(T0 - 3600 * S), 'cache-control': 'max-age=60' }, want: 60 },
  { name: '§5.3 Expires in the past: stale (with validator)', headers: { date: D0, expires: httpDate(T0 - 60 * S), etag: '"a"' }, want: 0 },
  { name: '§5.3 invalid Expires ("0") means already expired', headers: { date: D0, expires: '0', etag: '"a"' }, want: 0 },
  {
    name: '§5.3 invalid Expires is stale, not a trigger for heuristic freshness',
    headers: { date: D0, expires: 'garbage', 'last-modified': httpDate(T0 - 10 * DAY) },
    want: 0,
  },
  { name: '§5.3 invalid Expires and no validator: not stored', headers: { date: D0, expires: 'garbage' }, want: 'not-reusable' },
  { name: '§5.2 directive names case-insensitive: MAX-AGE=60', headers: { date: D0, 'cache-control': 'MAX-AGE=60' }, want: 60 },
  { name: '§5.2.2.4 no-cache: zero lifetime', headers: { date: D0, 'cache-control': 'no-cache, max-age=60', etag: '"a"' }, want: 0 },
  { name: 'PITFALLS 1: must-revalidate does not shorten the lifetime', headers: { date: D0, 'cache-control': 'must-revalidate, max-age=60' }, want: 60 },
  { name: 'PITFALLS 1: proxy-revalidate does not zero freshness', headers: { date: D0, 'cache-control': 'proxy-revalidate, max-age=60' }, want: 60 },
  { name: '§5.2.2.3 must-understand + no-store keeps max-age', headers: { date: D0, 'cache-control': 'must-understand, no-store, max-age=60' }, want: 60 },
  { name: '§5.2.2.7 qualified private keeps max-age', headers: { date: D0, 'cache-control': 'private="x", max-age=60' }, want: 60 },
  { name: 'PITFALLS 7: 500 with max-age=30', headers: { date: D0, 'cache-control': 'max-age=30' }, status: 500, want: 30 },
  { name: 'PITFALLS 7: 504 with Expires', headers: { date: D0, expires: httpDate(T0 + 20 * S) }, status: 504, want: 20 },
  { name: 'RFC 7725: 451 with max-age', headers: { date: D0, 'cache-control': 'max-age=40' }, status: 451, want: 40 },

  // §4.2.1 invalid / conflicting information
  { name: '§4.2.1 conflicting duplicate max-age: stale', headers: { date: D0, 'cache-control': 'max-age=60, max-age=3600', etag: '"a"' }, want: 0 },
  { name: '§4.2.1 conflicting duplicate s-maxage: stale', headers: { date: D0, 'cache-control': 's-maxage=60, s-maxage=3600', etag: '"a"' }, want: 0 },
  { name: '§4.2.1 conflicting duplicate max-age and no validator: not stored', headers: { date: D0, 'cache-control': 'max-age=60, max-age=3600' }, want: 'not-reusable' },
  { name: '§4.2.1 identical duplicate max-age is fine', headers: { date: D0, 'cache-control': 'max-age=60, max-age=60' }, want: 60 },
  { name: '§4.2.1 negative max-age: stale', headers: { date: D0, 'cache-control': 'max-age=-5', etag: '"a"' }, want: 0 },
  { name: '§4.2.1 non-numeric max-age: stale', headers: { date: D0, 'cache-control': 'max-age=abc', etag: '"a"' }, want: 0 },
  {
    // SUSPECTED BUG: http-cache-semantics parseInt()s "1.5" to 1. RFC 9111 §4.2.1: "Caches are encouraged
    // to consider responses that have invalid freshness information (e.g., a max-age directive with
    // non-integer content) to be stale." deltaSeconds() already rejects this value.
    name: '§4.2.1 fractional max-age ("non-integer content") is treated as stale',
    headers: { date: D0, 'cache-control': 'max-age=1.5', etag: '"a"' },
    want: 0,
  },
  {
    // SUSPECTED BUG (same cause): "10abc" is not delta-seconds (§1.2.2: 1*DIGIT) yet yields 10 s.
    name: '§4.2.1 max-age with trailing garbage is treated as stale',
    headers: { date: D0, 'cache-control': 'max-age=10abc', etag: '"a"' },
    want: 0,
  },
  {
    // SUSPECTED BUG: storable.ts freshnessLifetime() re-serialises the directives for the library as
    // `${k}=${v}` without quoting, so a quoted extension argument containing a comma is re-parsed as
    // extra directives: this response gets 86400 s (heuristicMaxS) though it has no freshness
    // information, no Last-Modified and no validator (RFC 9111 §5.2: quoted-string arguments;
    // §4.2.2: heuristics need e.g. Last-Modified; PITFALLS 9: not reusable, must not be stored).
    name: '§5.2 a quoted extension argument "x, max-age=99999" is not a max-age directive',
    headers: { date: D0, 'cache-control': 'ext="x, max-age=99999"' },
    want: 'not-reusable',
  },
  {
    name: '§5.2 a quoted extension argument cannot inject max-age next to a validator',
    headers: { date: D0, 'cache-control': 'ext="x, max-age=99999"', etag: '"a"' },
    want: 0,
  },

  // §4.2.2 heuristic freshness
  { name: '§4.2.2 heuristic: 10% of (Date − Last-Modified)', headers: { date: D0, 'last-modified': httpDate(T0 - 1000 * S) }, want: 100 },
  { name: '§4.2.2 heuristic: 10% of 5 days = 12 h', headers: { date: D0, 'last-modified': httpDate(T0 - 5 * DAY) }, want: 43200 },
  { name: '§4.2.2 heuristic is capped by heuristicMaxS', headers: { date: D0, 'last-modified': httpDate(T0 - 100 * DAY) }, want: 86400 },
  { name: '§4.2.2 heuristic for a heuristically cacheable 404', headers: { date: D0, 'last-modified': httpDate(T0 - 1000 * S) }, status: 404, want: 100 },
  { name: '§4.2.2 heuristic for 302 only when public', headers: { date: D0, 'cache-control': 'public', 'last-modified': httpDate(T0 - 1000 * S) }, status: 302, want: 100 },
  { name: '§4.2.2 no heuristic for 302 without public', headers: { date: D0, 'last-modified': httpDate(T0 - 1000 * S) }, status: 302, want: 'status' },
  { name: '§4.2.2 no heuristic for 503', headers: { date: D0, 'last-modified': httpDate(T0 - 1000 * S) }, status: 503, want: 'status' },
  { name: '§4.2.2 Last-Modified after Date: no heuristic lifetime', headers: { date: D0, 'last-modified': httpDate(T0 + 1000 * S) }, want: 0 },
  { name: '§4.2.2 explicit max-age is not capped by heuristicMaxS', headers: { date: D0, 'cache-control': 'max-age=604800', 'last-modified': httpDate(T0 - 1000 * S) }, want: 604800 },
  { name: '§4.2.2 no Last-Modified: no heuristic, ETag only → stored stale', headers: { date: D0, etag: '"a"' }, want: 0 },
  {
    name: '§4.2.2 missing Date: heuristic uses the response time',
    headers: { 'last-modified': httpDate(T0 - 1000 * S) },
    want: 100,
  },

  // PITFALLS 8: immutable
  { name: 'PITFALLS 8: immutable without max-age gets no 1000-day lifetime (ETag → stale)', headers: { date: D0, 'cache-control': 'immutable', etag: '"a"' }, want: 0 },
  { name: 'PITFALLS 8: immutable without max-age or validator is not stored', headers: { date: D0, 'cache-control': 'immutable' }, want: 'not-reusable' },
  { name: 'PITFALLS 8: immutable with max-age uses max-age', headers: { date: D0, 'cache-control': 'max-age=31536000, immutable' }, want: 31536000 },

  // RFC 9213 targeted fields
  { name: 'RFC 9213 §2.2: CDN-Cache-Control max-age over Cache-Control max-age', headers: { date: D0, 'cache-control': 'max-age=10', 'cdn-cache-control': 'max-age=600' }, want: 600 },
  {
    name: 'RFC 9213 §2.2: node-specific field over CDN-Cache-Control and Cache-Control',
    headers: { date: D0, 'cache-control': 'max-age=10', 'cdn-cache-control': 'max-age=600', 'strata-cache-control': 'max-age=7' },
    want: 7,
  },
  { name: 'RFC 9213 §2.2: Expires ignored when a targeted field is present (past Expires)', headers: { date: D0, expires: httpDate(T0 - 60 * S), 'cdn-cache-control': 'max-age=60' }, want: 60 },
  {
    name: 'RFC 9213 §2.2: Expires ignored when a targeted field is present (future Expires, no max-age)',
    headers: { date: D0, expires: httpDate(T0 + 3600 * S), 'cdn-cache-control': 'public', etag: '"a"' },
    want: 0,
  },
  { name: 'RFC 9213 §2.2: Cache-Control no-cache ignored under a targeted max-age', headers: { date: D0, 'cache-control': 'no-cache', 'cdn-cache-control': 'max-age=60' }, want: 60 },
  { name: 'RFC 9213 §2.2: Cache-Control s-maxage ignored under a targeted max-age', headers: { date: D0, 'cache-control': 's-maxage=9999', 'strata-cache-control': 'max-age=60' }, want: 60 },
  // RFC 9213 §2.1: values of the wrong type are not consumed (cache-tests.fyi cdn-cc-invalid-sh-type-wrong); parameters are ignored.
  {
    name: 'RFC 9213 §2.1: a quoted CDN-Cache-Control max-age (a String) is not consumed, and Cache-Control no-store is not read either',
    headers: { date: D0, 'cache-control': 'no-store', 'cdn-cache-control': 'max-age="10000"' },
    want: 'not-reusable',
  },
  {
    name: 'RFC 9213 §2.1: a Decimal max-age in a targeted field is as if absent: the heuristic applies',
    headers: { date: D0, 'cdn-cache-control': 'max-age=600.5', 'last-modified': httpDate(T0 - 1000 * S) },
    want: 100,
  },
  { name: 'RFC 9213 §2.1: a bare s-maxage (Boolean) in a targeted field is not consumed', headers: { date: D0, 'strata-cache-control': 's-maxage, max-age=60' }, want: 60 },
  { name: 'RFC 9213 §2.1: parameters on a targeted directive are ignored', headers: { date: D0, 'cdn-cache-control': 'max-age=600;origin=x' }, want: 600 },
  { name: 'RFC 9213 §2.1: a false Boolean (no-store=?0) in a targeted field is no directive', headers: { date: D0, 'cdn-cache-control': 'no-store=?0, max-age=60' }, want: 60 },
  { name: 'RFC 9213 §2.1: a true Boolean (no-store=?1) in a targeted field is the directive', headers: { date: D0, 'cdn-cache-control': 'no-store=?1, max-age=60' }, want: 'no-store' },
];

describe('freshness lifetime (RFC 9111 §4.2.1, §4.2.2)', () => {
  for (const c of lifetimeCases) {
    test(c.name, () => {
      const v = assess(c.headers, c.status === undefined ? {} : { status: c.status });
      if (typeof c.want === 'number') {
        assert.ok(v.store, `expected stored, got ${JSON.stringify(v)}`);
        assert.equal(v.decision.freshnessLifetimeS, c.want);
      } else {
        assert.deepEqual(v, { store: false, reason: c.want });
      }
    });
  }
});

/** Run fn with the process time zone set to tz (Node re-reads TZ on change); HTTP-dates are UTC whatever the zone. */
function inTimeZone<T>(tz: string, fn: () => T): T {
  const old = process.env['TZ'];
  process.env['TZ'] = tz;
  try {
    return fn();
  } finally {
    if (old === undefined) delete process.env['TZ'];
    else process.env['TZ'] = old;
  }
}

describe('Expires and Date are HTTP-dates (RFC 9110 §5.6.7, RFC 9111 §5.3)', () => {
  const cases: { name: string; headers: HeaderMap; want: number | string }[] = [
    { name: 'RFC 9110 §5.6.7 IMF-fixdate Expires', headers: { date: D0, expires: 'Mon, 15 Jan 2024 13:00:00 GMT' }, want: 3600 },
    { name: 'RFC 9110 §5.6.7 obsolete RFC 850 Expires is accepted', headers: { date: D0, expires: 'Monday, 15-Jan-24 13:00:00 GMT' }, want: 3600 },
    {
      // SUSPECTED BUG: Expires is parsed with a lenient Date.parse (inside http-cache-semantics), which
      // accepts "2030" as 2030-01-01. RFC 9111 §5.3: "A cache recipient MUST interpret invalid date
      // formats, especially the value "0", as representing a time in the past (i.e., "already expired")."
      name: 'RFC 9111 §5.3 Expires "2030" is not an HTTP-date: already expired (not stored without validator)',
      headers: { date: D0, expires: '2030' },
      want: 'not-reusable',
    },
    { name: 'RFC 9111 §5.3 Expires in ISO 8601 form is not an HTTP-date: already expired', headers: { date: D0, expires: '2099-01-01T00:00:00Z', etag: '"a"' }, want: 0 },
    { name: 'RFC 9111 §5.3 Expires "12/31/2099" is not an HTTP-date: already expired', headers: { date: D0, expires: '12/31/2099', etag: '"a"' }, want: 0 },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const v = assess(c.headers);
      if (typeof c.want === 'number') {
        assert.ok(v.store, `expected stored, got ${JSON.stringify(v)}`);
        assert.equal(v.decision.freshnessLifetimeS, c.want);
      } else {
        assert.deepEqual(v, { store: false, reason: c.want });
      }
    });
  }

  for (const tz of ['UTC', 'America/New_York', 'Asia/Tokyo']) {
    // SUSPECTED BUG outside UTC: Date.parse reads an asctime-date as local time. RFC 9110 §5.6.7:
    // "An HTTP-date value represents time as an instance of Coordinated Universal Time (UTC)" and
    // recipients "MUST accept all three HTTP-date formats".
    test(`RFC 9110 §5.6.7 asctime Expires is UTC (process TZ=${tz})`, () => {
      const v = inTimeZone(tz, () => assess({ date: D0, expires: 'Mon Jan 15 13:00:00 2024' }));
      assert.ok(v.store, JSON.stringify(v));
      assert.equal(v.decision.freshnessLifetimeS, 3600);
    });
    test(`RFC 9110 §5.6.7 asctime Date is UTC in corrected_initial_age (process TZ=${tz})`, () => {
      const age = inTimeZone(tz, () => correctedInitialAge({ responseHeaders: { date: 'Mon Jan 15 12:00:00 2024' }, requestTimeMs: T0, responseTimeMs: T0 }));
      assert.equal(age, 0);
    });
  }
});

test('§1.2.2 a huge max-age is at least 2^31 (or the greatest integer conveniently represented)', () => {
  const v = assess({ date: D0, 'cache-control': 'max-age=99999999999' });
  assert.ok(v.store);
  assert.ok(v.decision.freshnessLifetimeS >= 2147483648);
  assert.ok(Number.isSafeInteger(v.decision.freshnessLifetimeS));
});

describe('corrected_initial_age (RFC 9111 §4.2.3)', () => {
  const cases: { name: string; headers: HeaderMap; reqMs: number; resMs: number; want: number }[] = [
    { name: '§4.2.3 no Age, Date = response time: 0', headers: { date: D0 }, reqMs: T0, resMs: T0, want: 0 },
    { name: '§4.2.3 apparent_age = response_time − date_value', headers: { date: D0 }, reqMs: T0 + 9 * S, resMs: T0 + 10 * S, want: 10 },
    { name: '§4.2.3 Age + response_delay', headers: { date: D0, age: '100' }, reqMs: T0 - 2 * S, resMs: T0, want: 102 },
    { name: '§4.2.3 the larger of apparent_age and corrected_age_value', headers: { date: httpDate(T0 - 300 * S), age: '100' }, reqMs: T0 - 2 * S, resMs: T0, want: 300 },
    { name: '§4.2.3 Date in the future (clock skew): apparent_age clamps to 0', headers: { date: httpDate(T0 + 600 * S) }, reqMs: T0, resMs: T0, want: 0 },
    { name: '§4.2.3 missing Date: only Age + delay', headers: { age: '7' }, reqMs: T0 - 3 * S, resMs: T0, want: 10 },
    { name: '§4.2.3 invalid Date is ignored', headers: { date: 'yesterday', age: '7' }, reqMs: T0, resMs: T0, want: 7 },
    { name: '§5.1 an invalid Age is ignored', headers: { date: D0, age: 'abc' }, reqMs: T0 - 1 * S, resMs: T0, want: 1 },
    { name: '§5.1 a negative Age is ignored', headers: { date: D0, age: '-50' }, reqMs: T0, resMs: T0, want: 0 },
    { name: '§5.1 a list-valued Age: the first member counts', headers: { date: D0, age: '7200, 0' }, reqMs: T0, resMs: T0, want: 7200 },
    { name: '§5.1 a list-valued Age without spaces: the first member counts', headers: { date: D0, age: '50,7200' }, reqMs: T0, resMs: T0, want: 50 },
    { name: '§5.1 a list whose first member is invalid is ignored', headers: { date: D0, age: 'x, 7200' }, reqMs: T0, resMs: T0, want: 0 },
    { name: '§1.2.2 an Age above 2^31 counts as 2^31 (never 1e+23 on the wire)', headers: { date: D0, age: '99999999999999999999999' }, reqMs: T0, resMs: T0, want: 2147483648 },
    { name: '§1.2.2 an Age of exactly 2^31 is kept', headers: { date: D0, age: '2147483648' }, reqMs: T0, resMs: T0, want: 2147483648 },
    { name: '§4.2.3 response_delay alone (slow origin)', headers: { date: D0 }, reqMs: T0 - 4 * S, resMs: T0, want: 4 },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(correctedInitialAge({ responseHeaders: c.headers, requestTimeMs: c.reqMs, responseTimeMs: c.resMs }), c.want);
    });
  }

  test('§4.2.3 assessStorage records corrected_initial_age from Age + response delay', () => {
    const v = assess({ date: D0, age: '30', 'cache-control': 'max-age=60' }, { requestTimeMs: T0 - 5 * S, responseTimeMs: T0 });
    assert.ok(v.store);
    assert.equal(v.decision.initialAgeS, 35);
    assert.equal(v.decision.freshnessLifetimeS, 60);
  });
});

function meta(over: Partial<EntryMeta> = {}): EntryMeta {
  return entryMeta('GET http://example.com/f', {
    headers: { date: D0, 'cache-control': 'max-age=100', etag: '"a"' },
    requestTimeMs: T0,
    responseTimeMs: T0,
    freshnessLifetimeS: 100,
    cacheControl: 'max-age=100',
    bodySize: 4,
    ...over,
  });
}

describe('current_age (RFC 9111 §4.2.3)', () => {
  test('§4.2.3 current_age = corrected_initial_age + resident_time', () => {
    assert.equal(currentAge(meta({ initialAgeS: 12 }), T0 + 30 * S), 42);
  });
  test('§4.2.3 resident_time never negative (clock going backwards)', () => {
    assert.equal(currentAge(meta({ initialAgeS: 5 }), T0 - 30 * S), 5);
  });
});

describe('requestDirectives (RFC 9111 §5.2.1, §5.4)', () => {
  const cases: { name: string; headers: HeaderMap; noCache: boolean; onlyIfCached: boolean }[] = [
    { name: '§5.2.1 no request directives', headers: {}, noCache: false, onlyIfCached: false },
    { name: '§5.2.1.4 no-cache', headers: { 'cache-control': 'no-cache' }, noCache: true, onlyIfCached: false },
    { name: '§5.2.1.4 No-Cache (case-insensitive)', headers: { 'cache-control': 'No-Cache' }, noCache: true, onlyIfCached: false },
    { name: '§5.2.1.7 only-if-cached', headers: { 'cache-control': 'only-if-cached' }, noCache: false, onlyIfCached: true },
    { name: '§5.4 Pragma: no-cache without Cache-Control', headers: { pragma: 'no-cache' }, noCache: true, onlyIfCached: false },
    { name: '§5.4 Pragma ignored when Cache-Control is present', headers: { pragma: 'no-cache', 'cache-control': 'max-age=60' }, noCache: false, onlyIfCached: false },
    { name: '§5.4 Pragma other than no-cache has no effect', headers: { pragma: 'no-cache-please' }, noCache: false, onlyIfCached: false },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = requestDirectives(c.headers);
      assert.equal(r.noCache, c.noCache);
      assert.equal(r.onlyIfCached, c.onlyIfCached);
    });
  }
});

describe('decideReuse (RFC 9111 §4.2, §5.2.1)', () => {
  interface ReuseCase {
    name: string;
    req: HeaderMap;
    entry?: Partial<EntryMeta>;
    /** seconds after the response was received */
    atS: number;
    want: { reuse: true; stale: boolean } | { reuse: false; why: string };
  }
  const FRESH = { reuse: true, stale: false } as const;
  const STALE_HIT = { reuse: true, stale: true } as const;
  const cases: ReuseCase[] = [
    { name: '§4.2 fresh: age < lifetime', req: {}, atS: 50, want: FRESH },
    { name: '§4.2 stale at age == lifetime (fresh only while lifetime > age)', req: {}, atS: 100, want: { reuse: false, why: 'stale' } },
    { name: '§4.2 stale after the lifetime', req: {}, atS: 101, want: { reuse: false, why: 'stale' } },
    { name: '§4.2.3 corrected_initial_age counts towards staleness', req: {}, entry: { initialAgeS: 90 }, atS: 20, want: { reuse: false, why: 'stale' } },
    { name: '§5.2.2.4 no-cache entry always validates, even fresh', req: {}, entry: { noCache: true, freshnessLifetimeS: 0 }, atS: 0, want: { reuse: false, why: 'no-cache' } },
    { name: 'PITFALLS 1: must-revalidate entry is a hit while fresh', req: {}, entry: { staleForbidden: true, cacheControl: 'must-revalidate, max-age=100' }, atS: 50, want: FRESH },
    { name: 'PITFALLS 1: proxy-revalidate entry is a hit while fresh', req: {}, entry: { staleForbidden: true, cacheControl: 'proxy-revalidate, max-age=100' }, atS: 99, want: FRESH },
    { name: '§5.2.1.4 request no-cache forces validation of a fresh entry', req: { 'cache-control': 'no-cache' }, atS: 1, want: { reuse: false, why: 'request-no-cache' } },
    { name: '§5.4 Pragma: no-cache forces validation', req: { pragma: 'no-cache' }, atS: 1, want: { reuse: false, why: 'request-no-cache' } },
    { name: '§5.2.1.1 request max-age: age ≤ max-age is reused', req: { 'cache-control': 'max-age=60' }, atS: 60, want: FRESH },
    { name: '§5.2.1.1 request max-age: age > max-age validates', req: { 'cache-control': 'max-age=60' }, atS: 61, want: { reuse: false, why: 'request-max-age' } },
    { name: '§5.2.1.1 request max-age=0 validates any aged entry', req: { 'cache-control': 'max-age=0' }, atS: 1, want: { reuse: false, why: 'request-max-age' } },
    { name: '§5.2.1.3 min-fresh satisfied', req: { 'cache-control': 'min-fresh=50' }, atS: 50, want: FRESH },
    { name: '§5.2.1.3 min-fresh not satisfied validates', req: { 'cache-control': 'min-fresh=50' }, atS: 51, want: { reuse: false, why: 'request-min-fresh' } },
    { name: '§5.2.1.2 max-stale=N serves stale within N', req: { 'cache-control': 'max-stale=60' }, atS: 160, want: STALE_HIT },
    { name: '§5.2.1.2 max-stale=N refuses beyond N', req: { 'cache-control': 'max-stale=60' }, atS: 161, want: { reuse: false, why: 'stale' } },
    { name: '§5.2.1.2 max-stale without a value accepts any staleness', req: { 'cache-control': 'max-stale' }, atS: 100000, want: STALE_HIT },
    { name: '§5.2.1.2 max-stale does not mark fresh responses stale', req: { 'cache-control': 'max-stale=60' }, atS: 10, want: FRESH },
    { name: '§5.2.1.2 invalid max-stale value is ignored', req: { 'cache-control': 'max-stale=soon' }, atS: 110, want: { reuse: false, why: 'stale' } },
    {
      name: 'PITFALLS 2/§5.2.2.4: max-stale never serves a no-cache entry without validation',
      req: { 'cache-control': 'max-stale' },
      entry: { noCache: true, freshnessLifetimeS: 0 },
      atS: 10,
      want: { reuse: false, why: 'no-cache' },
    },
    {
      name: 'PITFALLS 2/§5.2.2.2: max-stale never serves a must-revalidate entry stale',
      req: { 'cache-control': 'max-stale' },
      entry: { staleForbidden: true },
      atS: 150,
      want: { reuse: false, why: 'stale' },
    },
    {
      name: '§5.2.2.10: max-stale never serves an s-maxage (proxy-revalidate) entry stale',
      req: { 'cache-control': 'max-stale=1000' },
      entry: { staleForbidden: true, cacheControl: 's-maxage=100' },
      atS: 101,
      want: { reuse: false, why: 'stale' },
    },
    { name: '§5.2.1.7 only-if-cached alone does not change freshness', req: { 'cache-control': 'only-if-cached' }, atS: 150, want: { reuse: false, why: 'stale' } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const d = decideReuse(requestDirectives(c.req), meta(c.entry), T0 + c.atS * S);
      if (c.want.reuse) {
        assert.equal(d.reuse, true, JSON.stringify(d));
        if (d.reuse) assert.equal(d.stale, c.want.stale);
      } else {
        assert.equal(d.reuse, false, JSON.stringify(d));
        if (!d.reuse) assert.equal(d.why, c.want.why);
      }
    });
  }

  test('§4.2.3 decision reports age and remaining ttl', () => {
    const d = decideReuse(requestDirectives({}), meta({ initialAgeS: 10 }), T0 + 30 * S);
    assert.equal(d.ageS, 40);
    assert.equal(d.ttlS, 60);
  });

  test('§4.2 stored then reused: assessStorage → decideReuse end to end', () => {
    const v = assess({ date: D0, age: '20', 'cache-control': 'max-age=60' }, { requestTimeMs: T0 - 1 * S, responseTimeMs: T0 });
    assert.ok(v.store);
    const m = meta({ freshnessLifetimeS: v.decision.freshnessLifetimeS, initialAgeS: v.decision.initialAgeS });
    assert.equal(decideReuse(requestDirectives({}), m, T0 + 38 * S).reuse, true); // age 59
    assert.equal(decideReuse(requestDirectives({}), m, T0 + 39 * S).reuse, false); // age 60
  });
});
