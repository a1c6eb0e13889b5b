// The outcome label of strata_requests_total and strata_request_duration_seconds
// (observability/metrics.ts metricOutcome): one of hit, miss, stale, pass, from
// the decision the request was served by.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CacheOutcome } from '../../src/cache/outcome.js';
import { metricOutcome, type MetricOutcome } from '../../src/observability/metrics.js';

const cases: { name: string; o: CacheOutcome | undefined; want: MetricOutcome }[] = [
  { name: 'fresh hit', o: { result: 'hit', decision: 'hit' }, want: 'hit' },
  { name: 'stale within max-stale', o: { result: 'stale-hit', decision: 'hit-stale' }, want: 'hit' },
  { name: 'stale-while-revalidate', o: { result: 'stale-hit', decision: 'stale-while-revalidate' }, want: 'stale' },
  { name: 'validated 304', o: { result: 'revalidated', decision: 'revalidate', fwd: 'stale' }, want: 'stale' },
  { name: 'stale-if-error', o: { result: 'stale-hit', decision: 'revalidate', fwd: 'stale' }, want: 'stale' },
  { name: 'a miss stored', o: { result: 'miss', decision: 'fetch', fwd: 'uri-miss' }, want: 'miss' },
  { name: 'a miss not storable', o: { result: 'bypass', decision: 'fetch', fwd: 'uri-miss' }, want: 'miss' },
  { name: 'a miss whose origin failed', o: { result: 'error', decision: 'fetch', fwd: 'uri-miss' }, want: 'miss' },
  { name: 'a miss answered from stored slices', o: { result: 'hit', decision: 'fetch', detail: 'slices' }, want: 'hit' },
  { name: 'only-if-cached refused', o: { result: 'only-if-cached', decision: 'refuse', fwd: 'miss' }, want: 'miss' },
  { name: 'only-if-cached answered from stored slices', o: { result: 'hit', decision: 'refuse', detail: 'slices' }, want: 'hit' },
  { name: 'an uncacheable method', o: { result: 'bypass', fwd: 'bypass' }, want: 'pass' },
  { name: 'bad input', o: { result: 'error', fwd: 'bypass', detail: 'uri_too_long' }, want: 'pass' },
  { name: 'client gone before a cache decision', o: { result: 'gone' }, want: 'pass' },
  { name: 'client gone while its miss was fetched', o: { result: 'gone', decision: 'fetch' }, want: 'miss' },
  { name: 'no outcome', o: undefined, want: 'pass' },
];

for (const c of cases) test(c.name, () => assert.equal(metricOutcome(c.o), c.want));
