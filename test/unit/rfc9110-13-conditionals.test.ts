// RFC 9110 §13 (conditional requests) evaluated by the cache against a stored
// response (RFC 9111 §4.3.2): src/http/conditionals.ts; and the cache's own
// validation with the origin (RFC 9111 §4.3.1, §4.3.4): src/cache/revalidate.ts.
// Pure; fixed dates.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { entryMeta } from '../fixtures/entry-meta.js';
import { isNotModified, noneMatchHits, NOT_MODIFIED_FIELDS } from '../../src/http/conditionals.js';
import { PEER_AGE, type HeaderMap } from '../../src/http/headers.js';
import { canValidate, mayRefreshShared, mergeNotModified, notModifiedMatches, validatorHeaders } from '../../src/cache/revalidate.js';
import type { StoragePolicyOptions } from '../../src/cache/storable.js';
import type { EntryMeta } from '../../src/store/types.js';

const T0 = Date.UTC(2024, 0, 15, 12, 0, 0);
const httpDate = (ms: number) => new Date(ms).toUTCString();

describe('noneMatchHits (RFC 9110 §13.1.2, weak comparison §8.8.3.2)', () => {
  const cases: { name: string; inm: string; etag: string | undefined; want: boolean }[] = [
    { name: '§13.1.2 same strong tag', inm: '"abc"', etag: '"abc"', want: true },
    { name: '§13.1.2 different tag', inm: '"abc"', etag: '"xyz"', want: false },
    { name: '§8.8.3.2 weak comparison: W/ in the request matches a strong stored tag', inm: 'W/"abc"', etag: '"abc"', want: true },
    { name: '§8.8.3.2 weak comparison: strong request tag matches a weak stored tag', inm: '"abc"', etag: 'W/"abc"', want: true },
    { name: '§8.8.3.2 weak comparison: both weak', inm: 'W/"abc"', etag: 'W/"abc"', want: true },
    { name: '§13.1.2 any member of the list', inm: '"a", "b" ,W/"c"', etag: '"c"', want: true },
    { name: '§13.1.2 none of the list', inm: '"a", "b"', etag: '"c"', want: false },
    { name: '§8.8.3 opaque-tag comparison is case-sensitive', inm: '"ABC"', etag: '"abc"', want: false },
    { name: '§13.1.2 * matches a stored response with an ETag', inm: '*', etag: '"x"', want: true },
    { name: '§13.1.2 no stored ETag: a tag list never matches', inm: '"x"', etag: undefined, want: false },
    {
      // SUSPECTED BUG: the list is split on every comma, but etagc (RFC 9110 §8.8.3:
      // etagc = %x21 / %x23-7E / obs-text) includes "," (%x2C), so "a,b" is one valid entity-tag.
      name: '§8.8.3 an entity-tag may contain a comma',
      inm: '"a,b"',
      etag: '"a,b"',
      want: true,
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(noneMatchHits(c.inm, c.etag), c.want));
  }
});

describe('isNotModified (RFC 9110 §13.1.2, §13.1.3, §13.2.2; RFC 9111 §4.3.2)', () => {
  const stored: HeaderMap = { etag: '"v1"', 'last-modified': httpDate(T0 - 3600_000), date: httpDate(T0) };
  const cases: { name: string; req: HeaderMap; stored?: HeaderMap; want: boolean }[] = [
    { name: '§13.1 no conditional fields: 200', req: {}, want: false },
    { name: '§13.1.2 If-None-Match matches: 304', req: { 'if-none-match': '"v1"' }, want: true },
    { name: '§13.1.2 If-None-Match does not match: 200', req: { 'if-none-match': '"v0"' }, want: false },
    {
      name: '§13.1.3 If-Modified-Since is ignored when If-None-Match is present (§13.2.2 precedence)',
      req: { 'if-none-match': '"v0"', 'if-modified-since': httpDate(T0) },
      want: false,
    },
    {
      name: '§13.2.2 If-None-Match match wins over an older If-Modified-Since',
      req: { 'if-none-match': '"v1"', 'if-modified-since': httpDate(T0 - 7200_000) },
      want: true,
    },
    { name: '§13.1.3 Last-Modified equal to the date: 304', req: { 'if-modified-since': httpDate(T0 - 3600_000) }, want: true },
    { name: '§13.1.3 Last-Modified earlier than the date: 304', req: { 'if-modified-since': httpDate(T0) }, want: true },
    { name: '§13.1.3 Last-Modified later than the date: 200', req: { 'if-modified-since': httpDate(T0 - 7200_000) }, want: false },
    { name: '§13.1.3 invalid If-Modified-Since is ignored', req: { 'if-modified-since': 'not a date' }, want: false },
    {
      name: 'RFC 9111 §4.3.2: without Last-Modified the stored Date is used',
      req: { 'if-modified-since': httpDate(T0) },
      stored: { date: httpDate(T0 - 60_000) },
      want: true,
    },
    {
      name: 'RFC 9111 §4.3.2: without Last-Modified, a Date after the condition: 200',
      req: { 'if-modified-since': httpDate(T0 - 120_000) },
      stored: { date: httpDate(T0 - 60_000) },
      want: false,
    },
    { name: '§13.1.3 no Last-Modified and no Date: 200', req: { 'if-modified-since': httpDate(T0) }, stored: {}, want: false },
    { name: '§13.1.3 obsolete RFC 850 date form accepted', req: { 'if-modified-since': 'Monday, 15-Jan-24 12:00:00 GMT' }, want: true },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(isNotModified(c.req, c.stored ?? stored), c.want));
  }
});

describe('If-Modified-Since must be a valid HTTP-date (RFC 9110 §13.1.3, §5.6.7)', () => {
  const stored: HeaderMap = { 'last-modified': httpDate(T0 - 3600_000), date: httpDate(T0) };
  test('§13.1.3 IMF-fixdate is accepted', () => {
    assert.equal(isNotModified({ 'if-modified-since': httpDate(T0) }, stored), true);
  });
  test('§13.1.3 a field value that is not an HTTP-date ("2099") is ignored', () => {
    // SUSPECTED BUG: parseHttpDate (src/http/dates.ts) is Date.parse, which accepts "2099".
    // RFC 9110 §13.1.3: "A recipient MUST ignore If-Modified-Since if the received field value is
    // not a valid HTTP-date".
    assert.equal(isNotModified({ 'if-modified-since': '2099' }, stored), false);
  });
  test('§13.1.3 an ISO 8601 timestamp is not an HTTP-date: ignored', () => {
    assert.equal(isNotModified({ 'if-modified-since': '2099-01-01T00:00:00Z' }, stored), false);
  });
  for (const tz of ['UTC', 'America/New_York', 'Asia/Tokyo']) {
    // SUSPECTED BUG outside UTC: Date.parse reads an asctime-date as local time. RFC 9110 §5.6.7:
    // an HTTP-date "represents time as an instance of Coordinated Universal Time (UTC)".
    test(`§5.6.7 asctime If-Modified-Since is UTC (process TZ=${tz})`, () => {
      // Last-Modified is 11:00 GMT: 10:00 (asctime, GMT) is before it → 200; 11:00 → 304.
      const old = process.env['TZ'];
      process.env['TZ'] = tz;
      try {
        assert.equal(isNotModified({ 'if-modified-since': 'Mon Jan 15 10:00:00 2024' }, stored), false);
        assert.equal(isNotModified({ 'if-modified-since': 'Mon Jan 15 11:00:00 2024' }, stored), true);
      } finally {
        if (old === undefined) delete process.env['TZ'];
        else process.env['TZ'] = old;
      }
    });
  }
});

test('RFC 9110 §15.4.5: a 304 carries the fields a 200 would have (Cache-Control, Content-Location, Date, ETag, Expires, Vary)', () => {
  for (const f of ['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary']) assert.ok(NOT_MODIFIED_FIELDS.includes(f), f);
  // §15.4.5: representation metadata such as Content-Type / Content-Length must not be sent
  for (const f of ['content-type', 'content-length', 'content-encoding']) assert.ok(!NOT_MODIFIED_FIELDS.includes(f), f);
});

// ---------------------------------------------------------------------------
// RFC 9111 §4.3: the cache validating its own stored response with the origin
// (src/cache/revalidate.ts): conditional request fields and the 304 merge.

const OPTS: StoragePolicyOptions = { targetedField: 'strata-cache-control', storeSetCookie: false, heuristicFraction: 0.1, heuristicMaxS: 86400 };

function meta(over: Partial<EntryMeta> = {}): EntryMeta {
  return entryMeta('GET http://example.com/v', {
    headers: {
      date: httpDate(T0),
      'cache-control': 'max-age=60',
      etag: '"v1"',
      'last-modified': httpDate(T0 - 3600_000),
      'content-type': 'text/plain',
      'content-length': '4',
      'x-old': 'kept',
    },
    requestTimeMs: T0,
    responseTimeMs: T0,
    bodySize: 4,
    ...over,
  });
}

describe('validatorHeaders / canValidate (RFC 9111 §4.3.1)', () => {
  const cases: { name: string; headers: HeaderMap; want: HeaderMap; can: boolean }[] = [
    {
      name: '§4.3.1 ETag → If-None-Match, Last-Modified → If-Modified-Since',
      headers: { etag: '"v1"', 'last-modified': httpDate(T0) },
      want: { 'if-none-match': '"v1"', 'if-modified-since': httpDate(T0) },
      can: true,
    },
    { name: '§4.3.1 weak ETag is sent as is', headers: { etag: 'W/"v1"' }, want: { 'if-none-match': 'W/"v1"' }, can: true },
    { name: '§4.3.1 Last-Modified only', headers: { 'last-modified': httpDate(T0) }, want: { 'if-modified-since': httpDate(T0) }, can: true },
    { name: '§4.3.1 no validator: nothing to send', headers: { date: httpDate(T0) }, want: {}, can: false },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const m = meta({ headers: c.headers });
      assert.deepEqual(validatorHeaders(m), c.want);
      assert.equal(canValidate(m), c.can);
    });
  }
});

describe('notModifiedMatches (RFC 9111 §4.3.4 selecting the stored response)', () => {
  const cases: { name: string; stored: HeaderMap; res: HeaderMap; want: boolean }[] = [
    { name: '§4.3.4 same strong ETag: update', stored: { etag: '"v1"' }, res: { etag: '"v1"' }, want: true },
    { name: '§4.3.4 different ETag: do not update', stored: { etag: '"v1"' }, res: { etag: '"v2"' }, want: false },
    { name: '§4.3.4 weak 304 validator matching a stored tag: update', stored: { etag: '"v1"' }, res: { etag: 'W/"v1"' }, want: true },
    { name: '§4.3.4 weak validators on both sides: update', stored: { etag: 'W/"v1"' }, res: { etag: 'W/"v1"' }, want: true },
    { name: '§4.3.4 304 ETag but stored response has none: do not update', stored: { 'last-modified': httpDate(T0) }, res: { etag: '"v1"' }, want: false },
    { name: '§4.3.4 same Last-Modified (no ETag in the 304): update', stored: { 'last-modified': httpDate(T0) }, res: { 'last-modified': httpDate(T0) }, want: true },
    { name: '§4.3.4 different Last-Modified: do not update', stored: { 'last-modified': httpDate(T0) }, res: { 'last-modified': httpDate(T0 + 1000) }, want: false },
    { name: '§4.3.4 no validator in the 304 and none stored: update', stored: {}, res: {}, want: true },
    {
      // SUSPECTED BUG: stripWeak() makes the comparison weak in both directions. RFC 9111 §4.3.4: "If the
      // new response contains one or more strong validators ..., then each of those strong validators
      // identify the selected representation for update. ... If none of the stored responses contain at
      // least one of the same strong validators, then the cache MUST NOT use the new response to update
      // any stored responses." W/"v1" is not the strong validator "v1".
      name: '§4.3.4 strong 304 ETag vs weak stored ETag: MUST NOT update',
      stored: { etag: 'W/"v1"' },
      res: { etag: '"v1"' },
      want: false,
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(notModifiedMatches(meta({ headers: c.stored }), c.res), c.want));
  }
  test('RFC 9110 §7.7: a 304 saying no-transform does not refresh a body Strata transformed; the origin body it does', () => {
    const res = { etag: '"v1"', 'cache-control': 'max-age=60, No-Transform' };
    assert.equal(notModifiedMatches(meta({ headers: { etag: '"v1"' } }), res), true);
    assert.equal(notModifiedMatches(meta({ headers: { etag: '"v1"' }, transform: { coding: 'br', level: 'best', sourceBytes: 10 } }), res), false);
    assert.equal(notModifiedMatches(meta({ headers: { etag: '"v1"' }, transform: { coding: 'identity', level: 'decoded', sourceBytes: 10 } }), res), false);
    assert.equal(notModifiedMatches(meta({ headers: { etag: '"v1"' }, transform: { coding: 'br', level: 'fast', sourceBytes: 10 } }), { etag: '"v1"' }), true);
  });
});

describe('mergeNotModified (RFC 9111 §4.3.4 freshening, §3.2 updating stored header fields)', () => {
  const REQ_AT = T0 + 120_000;
  const RES_AT = T0 + 121_000;
  const merge = (res: HeaderMap, opts: Partial<StoragePolicyOptions> = {}, m: EntryMeta = meta()) =>
    mergeNotModified({ meta: m, responseHeaders: res, requestTimeMs: REQ_AT, responseTimeMs: RES_AT }, { ...OPTS, ...opts });

  test('a 304 from the origin restarts the time a peer\'s copy spent in the cluster; a peer\'s 304 brings its own', () => {
    const copy = meta({ headers: { ...meta().headers, [PEER_AGE]: '86400000' } });
    const fromOrigin = merge({ date: httpDate(RES_AT), etag: '"v1"', 'cache-control': 'max-age=300' }, {}, copy);
    assert.equal(fromOrigin?.headers[PEER_AGE], undefined);
    const fromPeer = merge({ date: httpDate(RES_AT), etag: '"v1"', 'cache-control': 'max-age=300', [PEER_AGE]: '1500' }, {}, copy);
    assert.equal(fromPeer?.headers[PEER_AGE], '1500');
  });

  test('PITFALLS 4 / §3.2: fields new in the 304 are added, present ones replaced, others kept', () => {
    const r = merge({ date: httpDate(RES_AT), etag: '"v1"', 'cache-control': 'max-age=300', 'x-new': 'added' });
    assert.ok(r);
    assert.equal(r.headers['x-new'], 'added');
    assert.equal(r.headers['cache-control'], 'max-age=300');
    assert.equal(r.headers['date'], httpDate(RES_AT));
    assert.equal(r.headers['x-old'], 'kept');
    assert.equal(r.headers['last-modified'], httpDate(T0 - 3600_000));
  });

  test('§4.3.4 the freshness lifetime and directives come from the merged response', () => {
    const r = merge({ date: httpDate(RES_AT), etag: '"v1"', 'cache-control': 'max-age=300, must-revalidate' });
    assert.ok(r);
    assert.equal(r.freshnessLifetimeS, 300);
    assert.equal(r.cacheControl, 'max-age=300, must-revalidate');
    assert.equal(r.staleForbidden, true);
    assert.equal(r.noCache, false);
  });

  test('§4.3.4 a 304 without Cache-Control keeps the stored directives', () => {
    const r = merge({ date: httpDate(RES_AT), etag: '"v1"' });
    assert.ok(r);
    assert.equal(r.freshnessLifetimeS, 60);
    assert.equal(r.headers['cache-control'], 'max-age=60');
  });

  test('PITFALLS 4 / §4.2.3: the age restarts from the 304 (old Age not kept)', () => {
    const r = merge({ date: httpDate(RES_AT), etag: '"v1"', age: '3' }, {}, meta({ initialAgeS: 500 }));
    assert.ok(r);
    assert.equal(r.requestTimeMs, REQ_AT);
    assert.equal(r.responseTimeMs, RES_AT);
    assert.equal(r.initialAgeS, 4); // Age 3 + response_delay 1
    assert.equal(r.headers['age'], undefined);
  });

  test('§4.3.4 the refreshed entry is fresh again (age reset, not stale early)', () => {
    const r = merge({ date: httpDate(RES_AT), etag: '"v1"', 'cache-control': 'max-age=60' });
    assert.ok(r);
    assert.equal(r.initialAgeS, 1);
    assert.ok(r.freshnessLifetimeS - r.initialAgeS > 0);
  });

  test('§3.2: Content-Length, Content-Type and Content-Encoding of the stored body are not overwritten', () => {
    const r = merge({ date: httpDate(RES_AT), etag: '"v1"', 'content-length': '0', 'content-type': 'text/html', 'content-encoding': 'gzip' });
    assert.ok(r);
    assert.equal(r.headers['content-length'], '4');
    assert.equal(r.headers['content-type'], 'text/plain');
    assert.equal(r.headers['content-encoding'], undefined);
  });

  test('§4.3.4 the body-related metadata (status, size, key, vary) is unchanged', () => {
    // Keyed by coding (transform/): Strata varies it on Accept-Encoding, the origin's fields do not say so.
    const m = meta({ varyNames: ['accept-encoding'], varyValues: { 'accept-encoding': 'gzip' }, byCoding: true });
    const r = merge({ date: httpDate(RES_AT), etag: '"v1"' }, {}, m);
    assert.ok(r);
    assert.equal(r.status, 200);
    assert.equal(r.bodySize, 4);
    assert.equal(r.key, m.key);
    assert.deepEqual(r.varyNames, ['accept-encoding']);
    assert.deepEqual(r.varyValues, { 'accept-encoding': 'gzip' });
  });

  test('the refreshed entry keeps what the decision does not give: integrity, slice, transform, coding key', () => {
    const slice = { index: 2, bytes: 1024, totalBytes: 4096, validator: '"v1"' };
    const transform = { coding: 'br', level: 'best' as const, sourceBytes: 9 };
    const m = meta({ integrity: 'sha256-abc', slice, transform, byCoding: true, varyNames: ['accept-encoding'], varyValues: { 'accept-encoding': 'br' } });
    const r = merge({ date: httpDate(RES_AT), etag: '"v1"' }, {}, m);
    assert.ok(r);
    assert.equal(r.integrity, 'sha256-abc');
    assert.deepEqual(r.slice, slice);
    assert.deepEqual(r.transform, transform);
    assert.equal(r.byCoding, true);
    // Every field of the entry is there (a new EntryMeta field must be carried by the one builder too).
    for (const k of Object.keys(m)) assert.ok(k in r, k);
  });

  test('§4.1 a 304 whose Vary names other fields than the entry was selected by: not refreshed (dropped)', () => {
    const m = meta({ headers: { ...meta().headers, vary: 'X-Foo' }, varyNames: ['x-foo'], varyValues: { 'x-foo': '1' } });
    assert.equal(merge({ date: httpDate(RES_AT), etag: '"v1"', vary: 'X-Bar' }, {}, m), undefined);
    assert.equal(merge({ date: httpDate(RES_AT), etag: '"v1"', vary: 'X-Foo, X-Bar' }, {}, m), undefined);
  });

  test('§4.1 a 304 that repeats the stored Vary (another spelling) or names none refreshes the entry', () => {
    const m = meta({ headers: { ...meta().headers, vary: 'X-Foo' }, varyNames: ['x-foo'], varyValues: { 'x-foo': '1' } });
    assert.deepEqual(merge({ date: httpDate(RES_AT), etag: '"v1"', vary: 'x-foo' }, {}, m)?.varyNames, ['x-foo']);
    assert.deepEqual(merge({ date: httpDate(RES_AT), etag: '"v1"' }, {}, m)?.varyNames, ['x-foo']);
  });

  test('§4.1 an entry keyed by coding is refreshed by a 304 whose Vary leaves Accept-Encoding out (Strata added it)', () => {
    const m = meta({ headers: { ...meta().headers, vary: 'Origin' }, varyNames: ['accept-encoding', 'origin'], varyValues: { 'accept-encoding': 'br', origin: 'a' }, byCoding: true });
    assert.deepEqual(merge({ date: httpDate(RES_AT), etag: '"v1"', vary: 'Origin' }, {}, m)?.varyNames, ['accept-encoding', 'origin']);
  });

  test('§5.2.2.5 a 304 that now says no-store: no longer storable', () => {
    assert.equal(merge({ date: httpDate(RES_AT), etag: '"v1"', 'cache-control': 'no-store' }), undefined);
  });

  test('§5.2.2.7 a 304 that now says private: no longer storable', () => {
    assert.equal(merge({ date: httpDate(RES_AT), etag: '"v1"', 'cache-control': 'private, max-age=60' }), undefined);
  });

  test('PITFALLS 2: a 304 carrying Set-Cookie is not stored by default', () => {
    assert.equal(merge({ date: httpDate(RES_AT), etag: '"v1"', 'set-cookie': 'sid=2' }), undefined);
  });

  test('PITFALLS 2: with storeSetCookie the 304 Set-Cookie is stripped before storing', () => {
    const r = merge({ date: httpDate(RES_AT), etag: '"v1"', 'set-cookie': 'sid=2' }, { storeSetCookie: true });
    assert.ok(r);
    assert.equal(r.headers['set-cookie'], undefined);
  });

  test('§3.5 the merge ignores who asked: only the 304\'s own directives can end the entry', () => {
    // Whoever's request revalidated it (an authenticated one included), a 304 refreshes the
    // shared entry; a request's Authorization must not evict what others share.
    const r = merge({ date: httpDate(RES_AT), etag: '"v1"', 'cache-control': 'max-age=60' });
    assert.ok(r);
    assert.equal(r.freshnessLifetimeS, 60);
    assert.equal(merge({ date: httpDate(RES_AT), etag: '"v1"', 'cache-control': 'private' }), undefined);
  });

  test('RFC 9213 §2.2: a targeted field in the 304 takes over', () => {
    const r = merge({ date: httpDate(RES_AT), etag: '"v1"', 'cdn-cache-control': 'max-age=900' });
    assert.ok(r);
    assert.equal(r.freshnessLifetimeS, 900);
    assert.equal(r.cacheControl, 'max-age=900');
  });
});

describe('mayRefreshShared (RFC 9111 §3.5: a 304 to a request with Authorization)', () => {
  const AUTH = { authorization: 'Bearer x' };
  const cases: { name: string; req: HeaderMap; cc: string | undefined; want: boolean }[] = [
    { name: 'no Authorization: the response decides alone', req: {}, cc: 'max-age=60', want: true },
    { name: 'Authorization, plain max-age: not for others', req: AUTH, cc: 'max-age=60', want: false },
    { name: 'Authorization, public', req: AUTH, cc: 'public, max-age=60', want: true },
    { name: 'Authorization, must-revalidate', req: AUTH, cc: 'max-age=60, must-revalidate', want: true },
    { name: 'Authorization, s-maxage', req: AUTH, cc: 's-maxage=60', want: true },
    { name: 'Authorization, proxy-revalidate is not a permission', req: AUTH, cc: 'max-age=60, proxy-revalidate', want: false },
    { name: 'Authorization, refreshed response not storable', req: AUTH, cc: undefined, want: false },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(mayRefreshShared(c.req, c.cc === undefined ? undefined : meta({ cacheControl: c.cc })), c.want));
  }
});
