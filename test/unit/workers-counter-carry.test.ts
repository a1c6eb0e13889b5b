// The node's counters on /metrics never fall while worker 0 runs (workers/counter-carry.ts):
// a worker's restart (its start time changed, or a series of it fell) and a worker
// silent in a scrape keep what it had counted in the node's value; gauges are untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CounterCarry } from '../../src/workers/counter-carry.js';
import { combineMetrics } from '../../src/workers/node-figures.js';

function text(start: number, requests: number, extra = ''): string {
  return [
    '# HELP strata_requests_total Requests.',
    '# TYPE strata_requests_total counter',
    `strata_requests_total{status="200"} ${requests}`,
    extra,
    '# HELP strata_tier_items Items.',
    '# TYPE strata_tier_items gauge',
    `strata_tier_items 3`,
    '# HELP process_start_time_seconds Start.',
    '# TYPE process_start_time_seconds gauge',
    `process_start_time_seconds ${start}`,
    '',
  ].join('\n');
}

const node = (out: string, series: string): number | undefined => {
  const line = out.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test('restart, silence, a series only a silent worker had, and a fall without a new start time', () => {
  const kept = { carry: new CounterCarry(), workers: ['w0', 'w1'] };
  const scrape = (w0: string, w1?: string) => combineMetrics([{ name: 'w0', text: w0 }, ...(w1 === undefined ? [] : [{ name: 'w1', text: w1 }])], kept);
  const R = 'strata_requests_total{status="200"}';
  const E = 'strata_requests_total{status="502"}';
  assert.equal(node(scrape(text(100, 10), text(101, 5, `${E} 2`)), R), 15);
  // w1 silent: its 5 (and its 502s, a series only it had) still count; gauges are the answering workers' only.
  const silent = scrape(text(100, 11));
  assert.equal(node(silent, R), 16);
  assert.equal(node(silent, E), 2);
  assert.equal(node(silent, 'strata_tier_items'), 3);
  assert.ok(silent.indexOf(E) > silent.indexOf('# TYPE strata_requests_total counter') && silent.indexOf(E) < silent.indexOf('# HELP strata_tier_items'), 'under its family');
  // w1 restarted (a new start time), counting again from zero.
  const restarted = scrape(text(100, 12), text(200, 1));
  assert.equal(node(restarted, R), 18);
  assert.equal(node(restarted, E), 2);
  assert.equal(node(restarted, `strata_requests_total{worker="w1",status="200"}`), 1, 'its own series: its own value');
  // A fall with no start time change (a series reset) is carried too.
  assert.equal(node(scrape(text(100, 13), text(200, 0)), R), 19);
  assert.equal(node(scrape(text(100, 13), text(200, 4)), R), 23);
});

test('without kept figures the node is the sum of the answers, as before', () => {
  const out = combineMetrics([{ name: 'w0', text: text(1, 2) }, { name: 'w1', text: text(2, 3) }]);
  assert.equal(node(out, 'strata_requests_total{status="200"}'), 5);
  assert.equal(node(out, 'process_start_time_seconds'), 1);
});
