// What the node's counters on /metrics keep of its workers' (node-figures.ts
// combineMetrics, asked by worker 0 at every scrape: admin-view.ts).
//
// A node's counter is the sum of its workers'. Two things would make that sum
// fall while the node runs, which Prometheus reads as a reset of the node's series
// (its process_start_time_seconds, the oldest worker's, does not move) and so
// counts the whole remaining sum again as new (a spike in rate() and increase()):
// - a worker restarted after a crash starts its counters from zero;
// - a worker that does not answer in time (busy, stopped) is left out of a scrape.
// So for each monotonic series (a counter, or a histogram's buckets, sum and
// count) this keeps, per worker, the value of its last answer and what its earlier
// lives counted: a worker's share of the node's value is what its earlier lives
// counted plus its current value, or plus its last value while it does not answer.
// A worker's new life is seen by its start time (process_start_time_seconds), or a
// series of it that fell. What a worker counted after the last scrape before it
// died is lost; the per-worker series (`worker` label) are each worker's own, and
// reset with it. Kept by worker 0: its own restart is the node's reset.
// The same holds for the counters of the node's /stats (observability/stats.ts
// COUNTERS; a new life seen there by a counter that fell), which the dashboard
// turns into rates.

import { COUNTERS } from '../observability/stats.js';

/** One worker's answer: its monotonic series and its start time. */
export interface WorkerCounters {
  values: Map<string, number>;
  startS: number | undefined;
}

interface Kept {
  startS: number | undefined;
  last: Map<string, number>;
  /** What its earlier lives (and its series since gone) counted, by series. */
  carried: Map<string, number>;
}

export class CounterCarry {
  private readonly byWorker = new Map<string, Kept>();

  /**
   * This scrape's answers (`answered`, by worker name) among `workers` → what to add
   * to the node's value of each series beyond the answering workers' current values.
   */
  settle(workers: readonly string[], answered: ReadonlyMap<string, WorkerCounters>): Map<string, number> {
    const add = new Map<string, number>();
    const plus = (series: string, v: number): void => {
      if (v !== 0) add.set(series, (add.get(series) ?? 0) + v);
    };
    for (const name of workers) {
      const now = answered.get(name);
      let kept = this.byWorker.get(name);
      if (!now) {
        // Silent: what it counted so far still counts.
        if (kept) for (const [series, v] of kept.last) plus(series, v);
      } else {
        if (!kept) this.byWorker.set(name, (kept = { startS: now.startS, last: new Map(), carried: new Map() }));
        const newLife = kept.startS !== undefined && now.startS !== undefined && now.startS !== kept.startS;
        for (const [series, v] of kept.last) {
          const current = now.values.get(series);
          if (newLife || current === undefined || current < v) kept.carried.set(series, (kept.carried.get(series) ?? 0) + v);
        }
        kept.last = now.values;
        kept.startS = now.startS ?? kept.startS;
      }
      if (kept) for (const [series, v] of kept.carried) plus(series, v);
    }
    return add;
  }
}

/** The counters of each worker's /stats answer (by worker name), for CounterCarry. */
export function statsCounters(answers: ReadonlyMap<string, Record<string, unknown>>): Map<string, WorkerCounters> {
  const out = new Map<string, WorkerCounters>();
  for (const [name, o] of answers) {
    const values = new Map<string, number>();
    for (const k of Object.keys(COUNTERS)) {
      const v = o[k];
      if (typeof v === 'number') values.set(k, v);
    }
    out.set(name, { values, startS: undefined });
  }
  return out;
}
