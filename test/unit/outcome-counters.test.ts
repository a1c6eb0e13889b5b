// The outcome counters (observability/stats.ts countOutcome) as a table: each
// request's one recorded outcome moves exactly the counters its name says, so
// /stats, the access line and Cache-Status agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CacheOutcome } from '../../src/cache/outcome.js';
import { countOutcome, Stats, type CounterName } from '../../src/observability/stats.js';

const cases: { name: string; o: CacheOutcome; want: Partial<Record<CounterName, number>> }[] = [
  { name: 'fresh hit', o: { result: 'hit', decision: 'hit', ttlS: 5 }, want: { hits: 1 } },
  { name: 'stale within max-stale: a hit', o: { result: 'stale-hit', decision: 'hit-stale', detail: 'max-stale' }, want: { hits: 1 } },
  { name: 'stale-while-revalidate', o: { result: 'stale-hit', decision: 'stale-while-revalidate', detail: 'stale-while-revalidate' }, want: { staleWhileRevalidate: 1 } },
  { name: 'stale-if-error after a validation failed', o: { result: 'stale-hit', decision: 'revalidate', fwd: 'stale', detail: 'stale-if-error' }, want: { stale: 1, staleIfError: 1 } },
  { name: 'a miss stored', o: { result: 'miss', decision: 'fetch', fwd: 'uri-miss', stored: true }, want: { misses: 1 } },
  { name: 'a miss answered from slices in cache: a hit, not a miss', o: { result: 'hit', decision: 'fetch', detail: 'slices' }, want: { hits: 1 } },
  { name: 'a follower answered from the fetch it joined: collapsed', o: { result: 'miss', decision: 'fetch', fwd: 'uri-miss', stored: true, collapsed: true }, want: { misses: 1, collapsed: 1 } },
  { name: 'a miss not storable', o: { result: 'bypass', decision: 'fetch', fwd: 'uri-miss', detail: 'private' }, want: { misses: 1, bypass: 1 } },
  { name: 'a range miss passed through', o: { result: 'bypass', decision: 'fetch', fwd: 'bypass', detail: 'range' }, want: { misses: 1, bypass: 1 } },
  { name: 'a miss whose origin failed', o: { result: 'error', decision: 'fetch', fwd: 'uri-miss' }, want: { misses: 1, errors: 1 } },
  { name: 'a validation answered 304', o: { result: 'revalidated', decision: 'revalidate', fwd: 'stale', fwdStatus: 304 }, want: { stale: 1 } },
  { name: 'a stale entry replaced', o: { result: 'refreshed', decision: 'revalidate', fwd: 'stale', stored: true }, want: { stale: 1 } },
  { name: 'only-if-cached refused: a miss, as /metrics labels it', o: { result: 'only-if-cached', decision: 'refuse', fwd: 'miss' }, want: { misses: 1 } },
  { name: 'only-if-cached answered from stored slices: a hit', o: { result: 'hit', decision: 'refuse', detail: 'slices' }, want: { hits: 1 } },
  { name: 'an uncacheable method passed through', o: { result: 'bypass', fwd: 'bypass' }, want: { bypass: 1 } },
  { name: 'PURGE (counted by the purge module)', o: { result: 'bypass', fwd: 'bypass', detail: 'purge' }, want: {} },
  { name: 'bad input', o: { result: 'error', fwd: 'bypass', detail: 'uri_too_long' }, want: { errors: 1 } },
  { name: 'a client gone before a cache decision: no outcome counter', o: { result: 'gone' }, want: {} },
  { name: 'a client gone while its miss was fetched: a miss, never collapsed', o: { result: 'gone', decision: 'fetch' }, want: { misses: 1 } },
];

for (const c of cases) {
  test(c.name, () => {
    const stats = new Stats();
    countOutcome(stats, c.o);
    const moved = Object.fromEntries(Object.entries(stats.counters).filter(([, v]) => v !== 0));
    assert.deepEqual(moved, c.want);
  });
}
