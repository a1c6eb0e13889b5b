// README's metrics table names every /stats counter as its metric: a counter added
// without its line in the table is a metric operators cannot find.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { COUNTERS, type CounterName } from '../../src/observability/stats.js';
import { counterMetricName } from '../../src/observability/metrics.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
const row = readme.split('\n').find((l) => l.trimStart().startsWith('| `strata_<counter>_total`')) ?? '';

test('README lists every /stats counter in the metrics table', () => {
  assert.notEqual(row, '', 'the strata_<counter>_total row');
  const listed = new Set([...row.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]));
  for (const name of Object.keys(COUNTERS) as CounterName[]) {
    const short = counterMetricName(name).replace(/^strata_/, '').replace(/_total$/, '');
    assert.ok(listed.has(short), `${short} (${name}) missing from README's metrics table`);
  }
});
