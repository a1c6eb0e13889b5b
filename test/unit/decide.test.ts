// The cache decision (src/cache/decide.ts) as a table: RFC 9111 §4 reuse,
// §5.2.1 request directives, RFC 5861 stale windows. A fake clock moves time;
// every entry is stored at the clock's start with a 60 s lifetime unless a case
// says otherwise.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { entryMeta } from '../fixtures/entry-meta.js';
import { decide, requestFacts, staleIfErrorAllows, staleIfErrorCovers, staleOnFailure, type DecisionKind, type OriginFailure, type StaleOnFailure, type GraceWindows, type MissReason } from '../../src/cache/decide.js';
import type { HeaderMap } from '../../src/http/headers.js';
import type { EntryMeta } from '../../src/store/types.js';
import { FakeClock } from '../../src/util/clock.js';

const S = 1000;
const NO_GRACE: GraceWindows = { staleWhileRevalidateS: 0, staleIfErrorS: 0, staleIfDisconnectedS: 0 };

interface Case {
  name: string;
  request?: HeaderMap;
  /** Overrides of the stored entry; null: nothing stored. */
  stored?: Partial<EntryMeta> | null;
  miss?: MissReason;
  /** Seconds after the entry was stored. */
  afterS?: number;
  grace?: GraceWindows;
  want: DecisionKind;
  /** Fields of the Decision to check besides its kind. */
  also?: Record<string, unknown>;
}

const cases: Case[] = [
  { name: '§4.2 fresh: hit', afterS: 10, want: 'hit', also: { ageS: 10, ttlS: 50 } },
  { name: '§4.2 stale, no grace: revalidate (fwd=stale)', afterS: 61, want: 'revalidate', also: { fwd: 'stale', why: 'stale', alone: false } },
  { name: '§4.2 stale by exactly 0 s (age = lifetime), no grace: revalidate, not stale-while-revalidate', afterS: 60, want: 'revalidate', also: { fwd: 'stale', why: 'stale' } },
  { name: '§5.2.2.4 response no-cache: revalidate even when fresh (fwd=stale)', stored: { noCache: true }, afterS: 1, want: 'revalidate', also: { fwd: 'stale', why: 'no-cache' } },
  { name: '§5.2.1.4 request no-cache: revalidate (fwd=request)', request: { 'cache-control': 'no-cache' }, afterS: 1, want: 'revalidate', also: { fwd: 'request', why: 'request-no-cache' } },
  { name: '§5.4 Pragma: no-cache without Cache-Control: revalidate', request: { pragma: 'no-cache' }, afterS: 1, want: 'revalidate', also: { fwd: 'request' } },
  { name: '§5.2.1.1 request max-age below the age: revalidate', request: { 'cache-control': 'max-age=5' }, afterS: 10, want: 'revalidate', also: { why: 'request-max-age' } },
  { name: '§5.2.1.3 request min-fresh above the ttl: revalidate', request: { 'cache-control': 'min-fresh=55' }, afterS: 10, want: 'revalidate', also: { why: 'request-min-fresh' } },
  { name: '§5.2.1.2 max-stale covers the staleness: hit-stale', request: { 'cache-control': 'max-stale=30' }, afterS: 80, want: 'hit-stale', also: { ttlS: -20 } },
  { name: '§5.2.1.2 max-stale without a value: any staleness', request: { 'cache-control': 'max-stale' }, afterS: 5000, want: 'hit-stale' },
  { name: '§5.2.1.2 max-stale too short: revalidate', request: { 'cache-control': 'max-stale=10' }, afterS: 80, want: 'revalidate' },
  { name: '§5.2.2.2 must-revalidate forbids max-stale', request: { 'cache-control': 'max-stale' }, stored: { staleForbidden: true }, afterS: 80, want: 'revalidate' },
  { name: 'RFC 5861 §3 within the response stale-while-revalidate', stored: { staleWhileRevalidateS: 30 }, afterS: 80, want: 'stale-while-revalidate', also: { ageS: 80 } },
  { name: 'RFC 5861 §3 past the stale-while-revalidate window: revalidate', stored: { staleWhileRevalidateS: 30 }, afterS: 91, want: 'revalidate' },
  { name: 'RFC 5861 §3 the operator default applies when the response names none', grace: { ...NO_GRACE, staleWhileRevalidateS: 30 }, afterS: 80, want: 'stale-while-revalidate' },
  { name: 'RFC 5861 §3 the response window wins over the default', stored: { staleWhileRevalidateS: 5 }, grace: { ...NO_GRACE, staleWhileRevalidateS: 300 }, afterS: 80, want: 'revalidate' },
  {
    name: 'RFC 5861 §3 an explicit stale-while-revalidate=0 wins over the default: revalidate',
    stored: { cacheControl: 'max-age=60, stale-while-revalidate=0', staleWhileRevalidateS: 0 },
    grace: { ...NO_GRACE, staleWhileRevalidateS: 300 },
    afterS: 80,
    want: 'revalidate',
  },
  { name: 'RFC 5861 §3 not for a response that forbids stale use', stored: { staleWhileRevalidateS: 30, staleForbidden: true }, afterS: 80, want: 'revalidate' },
  { name: 'RFC 5861 §3 not when the client asked for validation', request: { 'cache-control': 'no-cache' }, stored: { staleWhileRevalidateS: 30 }, afterS: 80, want: 'revalidate' },
  {
    name: '§5.2.1.1 request max-age at or above the age of a stale entry: no stale-while-revalidate (the client wants fresh)',
    request: { 'cache-control': 'max-age=600' },
    stored: { staleWhileRevalidateS: 300 },
    afterS: 80,
    want: 'revalidate',
    also: { why: 'request-max-age', fwd: 'request' },
  },
  { name: '§5.2.1.1 request max-age with max-stale: the max-stale window decides', request: { 'cache-control': 'max-age=600, max-stale=30' }, afterS: 80, want: 'hit-stale' },
  { name: '§5.2.1.1 request max-age at or above the age of a fresh entry: hit', request: { 'cache-control': 'max-age=600' }, afterS: 10, want: 'hit' },
  { name: 'RFC 5861 §4 within stale-if-error the entry is still validated first', stored: { staleIfErrorS: 60 }, afterS: 80, want: 'revalidate' },
  { name: '§5.2.1.7 only-if-cached with a fresh entry: hit', request: { 'cache-control': 'only-if-cached' }, afterS: 1, want: 'hit' },
  { name: '§5.2.1.7 only-if-cached with a stale entry: refuse', request: { 'cache-control': 'only-if-cached' }, afterS: 80, want: 'refuse' },
  { name: '§5.2.1.7 only-if-cached before stale-while-revalidate', request: { 'cache-control': 'only-if-cached' }, stored: { staleWhileRevalidateS: 30 }, afterS: 80, want: 'refuse' },
  { name: '§5.2.1.7 only-if-cached and nothing stored: refuse', request: { 'cache-control': 'only-if-cached' }, stored: null, want: 'refuse' },
  { name: 'nothing stored: fetch (uri-miss)', stored: null, want: 'fetch', also: { fwd: 'uri-miss', alone: false } },
  { name: 'no stored variant matches: fetch (vary-miss)', stored: null, miss: 'vary-miss', want: 'fetch', also: { fwd: 'vary-miss' } },
  { name: '§3.5 Authorization: the fetch is the request’s own', request: { authorization: 'Bearer x' }, stored: null, want: 'fetch', also: { alone: true } },
  { name: '§5.2.1.5 request no-store: the fetch is the request’s own', request: { 'cache-control': 'no-store' }, stored: null, want: 'fetch', also: { alone: true } },
  { name: '§5.2.1.5 request no-store on a stale entry: revalidated alone', request: { 'cache-control': 'no-store' }, afterS: 80, want: 'revalidate', also: { alone: true } },
];

for (const c of cases) {
  test(c.name, () => {
    const clock = new FakeClock();
    const stored = c.stored === null ? undefined : entryMeta('GET http://a/x', { responseTimeMs: clock.now(), requestTimeMs: clock.now(), ...c.stored });
    clock.advance((c.afterS ?? 0) * S);
    const d = decide({ request: requestFacts(c.request ?? {}), stored, miss: c.miss ?? 'uri-miss', nowMs: clock.now(), grace: c.grace ?? NO_GRACE });
    assert.equal(d.kind, c.want);
    for (const [k, v] of Object.entries(c.also ?? {})) assert.equal((d as unknown as Record<string, unknown>)[k], v, `${k} of ${JSON.stringify(d)}`);
  });
}

test('RFC 5861 §4 staleIfErrorAllows is judged at the time of the failure', () => {
  const clock = new FakeClock();
  const meta = entryMeta('GET http://a/x', { responseTimeMs: clock.now(), staleIfErrorS: 30 });
  const req = requestFacts({});
  clock.advance(70 * S);
  assert.equal(staleIfErrorAllows(req, meta, clock.now(), NO_GRACE), true);
  clock.advance(30 * S);
  assert.equal(staleIfErrorAllows(req, meta, clock.now(), NO_GRACE), false, 'past the window');
  assert.equal(staleIfErrorAllows(requestFacts({ 'cache-control': 'no-cache' }), meta, clock.now() - 30 * S, NO_GRACE), false, 'not when the client asked for validation');
  assert.equal(staleIfErrorAllows(req, { ...meta, staleForbidden: true }, clock.now() - 30 * S, NO_GRACE), false, 'not when the response forbids stale use');
  assert.equal(staleIfErrorAllows(req, meta, clock.now(), { ...NO_GRACE, staleIfErrorS: 3600 }), false, 'the response window wins over the default');
  assert.equal(staleIfErrorAllows(req, { ...meta, staleIfErrorS: 0 }, clock.now(), { ...NO_GRACE, staleIfErrorS: 3600 }), true);
});

test('RFC 5861 §4 staleIfErrorCovers judges the entry alone: fresh or within its window, never when stale use is forbidden', () => {
  const clock = new FakeClock();
  const meta = entryMeta('GET http://a/x', { responseTimeMs: clock.now(), staleIfErrorS: 30 });
  clock.advance(10 * S);
  assert.equal(staleIfErrorCovers(meta, clock.now(), NO_GRACE), true, 'fresh: served once stale');
  clock.advance(80 * S);
  assert.equal(staleIfErrorCovers(meta, clock.now(), NO_GRACE), true, 'stale by 30 s');
  assert.equal(staleIfErrorCovers({ ...meta, staleForbidden: true }, clock.now(), NO_GRACE), false);
  assert.equal(staleIfErrorCovers({ ...meta, noCache: true }, clock.now(), NO_GRACE), false);
  assert.equal(staleIfErrorCovers({ ...meta, staleIfErrorS: 0 }, clock.now(), NO_GRACE), false, 'no window');
  assert.equal(staleIfErrorCovers({ ...meta, staleIfErrorS: 0 }, clock.now(), { ...NO_GRACE, staleIfErrorS: 60 }), true, 'the operator default');
  clock.advance(1 * S);
  assert.equal(staleIfErrorCovers(meta, clock.now(), NO_GRACE), false, 'past the window');
});

describe('staleOnFailure: stale-if-error (RFC 5861 §4) and stale-if-disconnected (RFC 9111 §4.2.4)', () => {
  // Entries stored at T with a 60 s lifetime; `afterS` seconds later the origin fails.
  const DISCONNECTED: GraceWindows = { ...NO_GRACE, staleIfDisconnectedS: 3600 };
  const cases: { name: string; failure: OriginFailure; afterS: number; stored?: Partial<EntryMeta>; request?: HeaderMap; grace?: GraceWindows; want: StaleOnFailure | undefined }[] = [
    { name: 'disconnected, stale within the window: served', failure: 'disconnected', afterS: 600, grace: DISCONNECTED, want: 'stale-if-disconnected' },
    { name: 'disconnected, stale past the window: error', failure: 'disconnected', afterS: 60 + 3601, grace: DISCONNECTED, want: undefined },
    { name: 'disconnected, window 0: error', failure: 'disconnected', afterS: 600, want: undefined },
    { name: 'stale by exactly 0 s with every window 0: error', failure: 'error', afterS: 60, want: undefined },
    { name: 'a 5xx is not disconnected: error', failure: 'error', afterS: 600, grace: DISCONNECTED, want: undefined },
    { name: 'a 5xx within stale-if-error: served as stale-if-error', failure: 'error', afterS: 600, stored: { staleIfErrorS: 3600 }, grace: DISCONNECTED, want: 'stale-if-error' },
    { name: 'disconnected within stale-if-error: named stale-if-error', failure: 'disconnected', afterS: 600, stored: { staleIfErrorS: 3600 }, grace: DISCONNECTED, want: 'stale-if-error' },
    { name: 'RFC 5861 §4 the operator default applies when the response names no stale-if-error', failure: 'error', afterS: 600, grace: { ...NO_GRACE, staleIfErrorS: 3600 }, want: 'stale-if-error' },
    {
      name: 'RFC 5861 §4 an explicit stale-if-error=0 wins over the default: error',
      failure: 'error',
      afterS: 600,
      stored: { cacheControl: 'max-age=60, stale-if-error=0', staleIfErrorS: 0 },
      grace: { ...NO_GRACE, staleIfErrorS: 3600 },
      want: undefined,
    },
    {
      name: 'RFC 5861 §4 an explicit stale-if-error=0 in the targeted field (CDN-Cache-Control) wins too',
      failure: 'error',
      afterS: 600,
      stored: { cacheControl: 'max-age=60, stale-if-error=0', headers: { 'cache-control': 'max-age=60, stale-if-error=600', 'cdn-cache-control': 'max-age=60, stale-if-error=0' }, staleIfErrorS: 0 },
      grace: { ...NO_GRACE, staleIfErrorS: 3600 },
      want: undefined,
    },
    { name: 'disconnected past stale-if-error, within the disconnected window', failure: 'disconnected', afterS: 600, stored: { staleIfErrorS: 10 }, grace: DISCONNECTED, want: 'stale-if-disconnected' },
    { name: '§4.2.4 must-revalidate / proxy-revalidate / s-maxage forbid it', failure: 'disconnected', afterS: 600, stored: { staleForbidden: true }, grace: DISCONNECTED, want: undefined },
    { name: '§4.2.4 no-cache forbids it', failure: 'disconnected', afterS: 600, stored: { noCache: true }, grace: DISCONNECTED, want: undefined },
    { name: 'the client asking for validation (no-cache) forbids it', failure: 'disconnected', afterS: 600, request: { 'cache-control': 'no-cache' }, grace: DISCONNECTED, want: undefined },
    { name: '§5.2.1.1 a request max-age at or above the age forbids stale-if-error', failure: 'error', afterS: 100, request: { 'cache-control': 'max-age=600' }, stored: { staleIfErrorS: 300 }, want: undefined },
    { name: '§5.2.1.1 a request max-age at or above the age forbids stale-if-disconnected', failure: 'disconnected', afterS: 100, request: { 'cache-control': 'max-age=600' }, grace: DISCONNECTED, want: undefined },
    { name: 'a fresh entry is not served by this rule', failure: 'disconnected', afterS: 10, grace: DISCONNECTED, want: undefined },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const clock = new FakeClock(Date.UTC(2024, 0, 15));
      const meta = entryMeta('GET http://a/x', { responseTimeMs: clock.now(), requestTimeMs: clock.now(), ...c.stored });
      clock.advance(c.afterS * S);
      assert.equal(staleOnFailure(requestFacts(c.request ?? {}), meta, clock.now(), c.grace ?? NO_GRACE, c.failure), c.want);
    });
  }
});
