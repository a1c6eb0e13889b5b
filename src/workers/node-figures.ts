// The node's figures from its workers' (GET /stats and GET /metrics on the node's
// admin address, workers/admin-view.ts). A client request is counted once, by the
// worker its connection reached: what a worker answers another over the worker link
// is counted apart (`workerLink`, strata_worker_link_*), so the workers' figures add
// up without counting a request twice.
//
// What adds up is summed: counters, histograms, and the gauges of what the workers
// hold or do now (items, bytes, budgets, queues, requests in flight, memory).
// What does not is never summed: an uptime or a start time (the node is up since its
// oldest worker started: uptimeS the largest, process_start_time_seconds the
// smallest), and every other gauge — availability, health state, latency EWMA,
// event-loop percentiles, version info — is the largest of the workers' (each
// worker's own value stays beside it, labelled `worker`, and under `workers`).

import type { CounterCarry, WorkerCounters } from './counter-carry.js';

/** The parts of a worker's /stats combined by rules of their own (not summed as they are). */
interface WorkerStats extends Record<string, unknown> {
  uptimeS?: number;
  origin?: Record<string, unknown>;
  peers?: { workerMisses?: Record<string, unknown> };
  topMisses?: unknown;
  descriptions?: unknown;
}

/**
 * Sum numbers found at the same place in every object (nested objects too); a
 * yes/no true when it is on any of them (tiers.disk.loading); other values from the first.
 */
export function sumFigures(objects: Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const o of objects) {
    for (const [k, v] of Object.entries(o)) {
      // Own fields only: a pool may be labelled after a site named `constructor`.
      const have = Object.hasOwn(out, k) ? out[k] : undefined;
      if (typeof v === 'number') out[k] = (typeof have === 'number' ? have : 0) + v;
      else if (typeof v === 'boolean') out[k] = have === true || v;
      else if (v && typeof v === 'object' && !Array.isArray(v)) out[k] = sumFigures([...(have && typeof have === 'object' && !Array.isArray(have) ? [have as Record<string, unknown>] : []), v as Record<string, unknown>]);
      else if (!Object.hasOwn(out, k)) out[k] = v;
    }
  }
  return out;
}

/** An upstream row's figures that add up over the workers (each has its own pool and connections). */
const UPSTREAM_SUMMED = new Set(['requests', 'failures', 'inFlight', 'ejections', 'transitions']);
/** Those where the node reports the worst worker's. */
const UPSTREAM_MAX = new Set(['ewmaMs', 'consecutiveFailures']);

/**
 * The upstream rows of every worker, one per upstream (per pool and name): the
 * counts summed, the latency and failure run the worst worker's, `available` when
 * some worker may choose it; its health state and settings worker 0's.
 */
function mergeUpstreams(lists: unknown[][]): Record<string, unknown>[] {
  const rows = new Map<string, Record<string, unknown>>();
  for (const list of lists) {
    for (const item of list) {
      if (!item || typeof item !== 'object') continue;
      const u = item as Record<string, unknown>;
      const id = `${String(u.pool ?? '')} ${String(u.name)}`;
      const row = rows.get(id);
      if (!row) {
        rows.set(id, { ...u });
        continue;
      }
      for (const [k, v] of Object.entries(u)) {
        const have = row[k];
        if (typeof v === 'number' && typeof have === 'number') {
          if (UPSTREAM_SUMMED.has(k)) row[k] = have + v;
          else if (UPSTREAM_MAX.has(k)) row[k] = Math.max(have, v);
        } else if (k === 'available') row[k] = have === true || v === true;
        else if (!Object.hasOwn(row, k)) row[k] = v;
      }
    }
  }
  return [...rows.values()];
}

/** /stats `origin` of the node: top-level counts summed, upstream rows merged by name (every pool's too). */
export function mergeOrigin(origins: Record<string, unknown>[]): Record<string, unknown> | undefined {
  const first = origins[0];
  if (!first) return undefined;
  const out: Record<string, unknown> = { ...first };
  for (const [k, v] of Object.entries(first)) {
    if (typeof v === 'number') out[k] = origins.reduce((n, o) => n + (typeof o[k] === 'number' ? (o[k] as number) : 0), 0);
  }
  if (Array.isArray(first.upstreams)) out.upstreams = mergeUpstreams(origins.map((o) => (Array.isArray(o.upstreams) ? o.upstreams : [])));
  const pools = first.pools;
  if (pools && typeof pools === 'object') {
    out.pools = Object.fromEntries(
      Object.keys(pools).map((label) => [label, mergeOrigin(origins.map((o) => (o.pools as Record<string, Record<string, unknown>> | undefined)?.[label]).filter((p): p is Record<string, unknown> => p !== undefined))]),
    );
  }
  return out;
}

/**
 * The node's /stats from its workers' (those that answered 200): counters and
 * tier figures summed (the worker link's apart, under `workerLink`), uptimeS the
 * largest, origin merged per upstream, each worker's miss path (`workerMisses`)
 * summed; topMisses is worker 0's.
 */
export function combineStats(figures: WorkerStats[]): Record<string, unknown> {
  const summed = sumFigures(figures.map(({ descriptions: _d, topMisses: _t, peers: _p, origin: _o, node: _n, uptimeS: _u, ...c }) => c));
  const workerMisses = figures.flatMap((f) => (f.peers?.workerMisses ? [f.peers.workerMisses] : []));
  return {
    uptimeS: Math.max(0, ...figures.map((f) => f.uptimeS ?? 0)),
    ...summed,
    origin: mergeOrigin(figures.flatMap((f) => (f.origin ? [f.origin] : []))),
    ...(workerMisses.length > 0 ? { workerMisses: sumFigures(workerMisses) } : {}),
    topMisses: figures[0]?.topMisses,
    descriptions: figures[0]?.descriptions,
  };
}

/** Gauges of what the workers hold or do now: they add up to the node's. */
const ADDITIVE_GAUGES = new Set([
  'strata_tier_items',
  'strata_tier_bytes',
  'strata_tier_max_bytes',
  'strata_disk_writes_queued',
  'strata_disk_bytes_queued',
  'strata_disk_dead_bytes',
  'strata_disk_index_bytes',
  'strata_upstream_in_flight',
  'strata_coalesce_flights',
  'strata_hit_for_pass_keys',
  'strata_peer_purges_owed',
  'process_resident_memory_bytes',
  'process_virtual_memory_bytes',
  'process_heap_bytes',
  'process_open_fds',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_requests',
  'nodejs_active_requests_total',
  'nodejs_heap_size_total_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_external_memory_bytes',
  'nodejs_heap_space_size_total_bytes',
  'nodejs_heap_space_size_used_bytes',
  'nodejs_heap_space_size_available_bytes',
]);
/** Gauges whose node value is the smallest: a start time (the node is up since its oldest worker started). */
const EARLIEST_GAUGES = new Set(['process_start_time_seconds']);

export type Combine = 'sum' | 'min' | 'max';

/** How the node's value of a family is made from its workers': by its TYPE and name. */
export function combineOf(family: string, type: string | undefined): Combine {
  if (type === 'counter' || type === 'histogram' || ADDITIVE_GAUGES.has(family)) return 'sum';
  return EARLIEST_GAUGES.has(family) ? 'min' : 'max';
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/;
const TYPE_LINE = /^# TYPE (\S+) (\S+)/;

/** The family a sample belongs to: its own name, or a histogram's (or summary's) with its suffix removed. */
function familyOf(name: string, types: Map<string, string>): string {
  if (types.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return types.has(base) ? base : name;
}

/** Counters and histograms: their node series must never fall while the node runs (counter-carry.ts). */
const MONOTONIC_TYPES = new Set(['counter', 'histogram']);

/**
 * Prometheus text of every worker that answered → each series of the node (combineOf:
 * summed, smallest or largest), followed by the same series of each worker with a
 * `worker` label: a family's lines stay together under its HELP/TYPE (the text format
 * wants them grouped). With `kept` (every worker's name, and what the node keeps of
 * their counters), a counter's node value also holds what restarted and silent
 * workers counted, so it never falls while worker 0 runs.
 */
export function combineMetrics(texts: { name: string; text: string }[], kept?: { carry: CounterCarry; workers: readonly string[] }): string {
  const answered = new Map<string, WorkerCounters>();
  const order: string[] = [];
  const node = new Map<string, { combine: Combine; value: number }>();
  const perWorker = new Map<string, string[]>();
  const seenMeta = new Set<string>();
  const types = new Map<string, string>();
  for (const { name, text } of texts) {
    const counters: WorkerCounters = { values: new Map(), startS: undefined };
    answered.set(name, counters);
    for (const line of text.split('\n')) {
      if (line === '') continue;
      if (line.startsWith('#')) {
        const t = TYPE_LINE.exec(line);
        if (t) types.set(t[1]!, t[2]!);
        if (!seenMeta.has(line)) {
          seenMeta.add(line);
          order.push(line);
        }
        continue;
      }
      const m = SAMPLE.exec(line);
      if (!m) continue;
      const series = m[1]! + (m[2] ?? '');
      const parsed = Number(m[3]);
      const value = Number.isFinite(parsed) ? parsed : 0;
      const family = familyOf(m[1]!, types);
      if (MONOTONIC_TYPES.has(types.get(family) ?? '')) counters.values.set(series, value);
      else if (m[1] === 'process_start_time_seconds') counters.startS = value;
      const have = node.get(series);
      if (!have) {
        node.set(series, { combine: combineOf(family, types.get(family)), value });
        order.push(series);
        perWorker.set(series, []);
      } else {
        have.value = have.combine === 'sum' ? have.value + value : have.combine === 'min' ? Math.min(have.value, value) : Math.max(have.value, value);
      }
      const labels = m[2] ? `{worker="${name}",${m[2].slice(1)}` : `{worker="${name}"}`;
      perWorker.get(series)!.push(`${m[1]}${labels} ${m[3]}`);
    }
  }
  for (const [series, v] of kept?.carry.settle(kept.workers, answered) ?? []) {
    const have = node.get(series);
    if (have) {
      have.value += v;
      continue;
    }
    // Counted only by a worker that is silent now (or by an earlier life): under its family's TYPE line.
    const family = familyOf(series.replace(/\{.*$/, ''), types);
    const at = order.findIndex((l) => l.startsWith(`# TYPE ${family} `));
    if (at < 0) continue;
    order.splice(at + 1, 0, series);
    node.set(series, { combine: 'sum', value: v });
    perWorker.set(series, []);
  }
  const lines = order.flatMap((s) => (s.startsWith('#') ? [s] : [`${s} ${node.get(s)!.value}`, ...perWorker.get(s)!]));
  return [...lines, ''].join('\n');
}
