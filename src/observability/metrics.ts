// The node's Prometheus metrics (GET /metrics on the admin listener), on one
// Registry built by the composition root (never prom-client's global one).
//
// Invariants:
// - Per request, one thing is done: RequestMetrics.finished(), at the request's
//   end (pipeline/handle.ts), counts it by outcome and status class (a slot in a
//   typed array) and observes its duration in the histogram of its outcome.
// - Every other counter and gauge is read at scrape time from the node's own
//   figures (Stats, the store, the upstream pool, the coalescer) by prom-client
//   `collect` callbacks, so a hit pays nothing for them.
// - Every metric is declared once, here, with its help text; ours are prefixed
//   `strata_`. prom-client's default process metrics keep their usual names
//   (process_*, nodejs_*) so stock Node.js dashboards work.

import { collectDefaultMetrics, Counter, Gauge, type Registry } from 'prom-client';
import type { CacheOutcome } from '../cache/outcome.js';
import type { HealthState } from '../origin/health.js';
import type { UpstreamFigures } from '../origin/pool.js';
import type { DiskTierStats } from '../store/disk/records.js';
import type { TierStats } from '../store/types.js';
import { COUNTERS, countsAsMiss, LINK_COUNTERS, type CounterName, type Stats } from './stats.js';

/** What a request came to, for metrics: the four of the duration histogram. */
export const METRIC_OUTCOMES = ['hit', 'miss', 'stale', 'pass'] as const;
export type MetricOutcome = (typeof METRIC_OUTCOMES)[number];

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
const HEALTH_STATES: readonly HealthState[] = ['healthy', 'probation', 'ejected', 'unhealthy'];

/** Request duration buckets (seconds): a memory hit is well under a millisecond, a large miss seconds. */
const DURATION_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The metrics outcome of a request, from the decision it was served by: a
 * request that made no cache decision (an uncacheable method, bad input, a
 * client gone before one was made) is a pass; a client gone after it is counted
 * by it (a miss whose client left before the origin answered is a miss, as /stats
 * says); a miss answered from stored slices is a hit, and so is an only-if-cached
 * request answered from them.
 */
export function metricOutcome(o: CacheOutcome | undefined): MetricOutcome {
  switch (o?.decision) {
    case undefined:
      return 'pass';
    case 'hit':
    case 'hit-stale':
      return 'hit';
    case 'stale-while-revalidate':
    case 'revalidate':
      return 'stale';
    // Answered from stored slices (a miss of the whole object, or only-if-cached): a hit, as
    // /stats and the access line say; only-if-cached refused (504): a miss. One test with /stats.
    case 'fetch':
    case 'refuse':
      return countsAsMiss(o) ? 'miss' : 'hit';
  }
}

function statusClass(status: number): number {
  const c = Math.floor(status / 100) - 1;
  return c < 0 ? 0 : c > 4 ? 4 : c;
}

/** The per-request part: requests by outcome and status class, and the duration histograms. */
export class RequestMetrics {
  /** [outcome × status class] → requests finished. */
  private readonly counts = new Float64Array(METRIC_OUTCOMES.length * STATUS_CLASSES.length);
  /** [outcome × (bucket, then +Inf)] → requests whose duration fell in it (not cumulative). */
  private readonly buckets = new Float64Array(METRIC_OUTCOMES.length * (DURATION_BUCKETS_S.length + 1));
  private readonly sums = new Float64Array(METRIC_OUTCOMES.length);

  constructor(registry: Registry) {
    const counts = this.counts;
    new Counter({
      name: 'strata_requests_total',
      help: 'requests finished on the proxy listener, by cache outcome (hit, miss, stale, pass) and status class',
      labelNames: ['outcome', 'status'],
      registers: [registry],
      collect() {
        this.reset();
        METRIC_OUTCOMES.forEach((outcome, i) =>
          STATUS_CLASSES.forEach((status, j) => {
            const n = counts[i * STATUS_CLASSES.length + j]!;
            if (n > 0) this.inc({ outcome, status }, n);
          }),
        );
      },
    });
    // Why not prom-client's Histogram: its observe() hashes the labels on every call
    // (~1 µs, a tenth of a 1 KiB hit); here a request adds to plain typed arrays and
    // the histogram's lines are built at scrape time from them.
    const buckets = this.buckets;
    const sums = this.sums;
    registry.registerMetric({
      name: 'strata_request_duration_seconds',
      help: 'time from a request received to its answer finished (or abandoned), by cache outcome',
      get: async () => ({
        name: 'strata_request_duration_seconds',
        help: 'time from a request received to its answer finished (or abandoned), by cache outcome',
        type: 'histogram',
        aggregator: 'sum',
        values: METRIC_OUTCOMES.flatMap((outcome, i) => {
          const row = i * (DURATION_BUCKETS_S.length + 1);
          let cumulative = 0;
          const lines = DURATION_BUCKETS_S.map((le, j) => {
            cumulative += buckets[row + j]!;
            return { metricName: 'strata_request_duration_seconds_bucket', labels: { le, outcome }, value: cumulative };
          });
          const count = cumulative + buckets[row + DURATION_BUCKETS_S.length]!;
          return [
            ...lines,
            { metricName: 'strata_request_duration_seconds_bucket', labels: { le: '+Inf', outcome }, value: count },
            { metricName: 'strata_request_duration_seconds_sum', labels: { outcome }, value: sums[i]! },
            { metricName: 'strata_request_duration_seconds_count', labels: { outcome }, value: count },
          ];
        }),
      }),
    } as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** Called once per request, when it is over. */
  finished(o: CacheOutcome | undefined, status: number, seconds: number): void {
    const i = METRIC_OUTCOMES.indexOf(metricOutcome(o));
    this.counts[i * STATUS_CLASSES.length + statusClass(status)]!++;
    let j = 0;
    while (j < DURATION_BUCKETS_S.length && seconds > DURATION_BUCKETS_S[j]!) j++;
    this.buckets[i * (DURATION_BUCKETS_S.length + 1) + j]!++;
    this.sums[i]! += seconds;
  }
}

export interface MetricSources {
  stats: Stats;
  /** With workers: requests from the other workers of this node (worker link), counted apart. */
  linkStats?: Stats;
  tiers: () => { memory: TierStats; disk: DiskTierStats };
  upstreams: () => UpstreamFigures[];
  originCounts: () => { retries: number; retriesRefused: number; allDownRequests: number };
  hitForPassKeys: () => number;
  flights: () => number;
  /** The cluster's peers (absent: not clustered). */
  peers?: () => PeerFigures[];
}

/** One peer's figures, as /metrics reports them. */
export interface PeerFigures {
  id: string;
  available: boolean;
  /** Purges queued for it in this node's outbox. */
  purgesOwed: number;
}

type Read = () => readonly (readonly [Record<string, string>, number])[] | number;

function gauge(registry: Registry, name: string, help: string, labelNames: string[], read: Read): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      const v = read();
      if (typeof v === 'number') return void this.set(v);
      this.reset();
      for (const [labels, n] of v) this.set(labels, n);
    },
  });
}

function counter(registry: Registry, name: string, help: string, labelNames: string[], read: Read): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      const v = read();
      if (typeof v === 'number') return void this.inc(v);
      for (const [labels, n] of v) this.inc(labels, n);
    },
  });
}

/** `bytesServed` → `strata_bytes_served_total`; `requests` (counted on arrival) → `strata_requests_received_total`. */
export function counterMetricName(name: CounterName): string {
  const snake = (name === 'requests' ? 'requestsReceived' : name).replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return `strata_${snake}_total`;
}

/** Everything read at scrape time, and prom-client's default process metrics. */
export function registerNodeMetrics(registry: Registry, src: MetricSources): void {
  for (const name of Object.keys(COUNTERS) as CounterName[]) {
    counter(registry, counterMetricName(name), COUNTERS[name], [], () => src.stats.counters[name]);
  }
  const link = src.linkStats;
  if (link) {
    for (const name of LINK_COUNTERS) {
      counter(registry, counterMetricName(name).replace(/^strata_/, 'strata_worker_link_'), `of the requests from another worker of this node (worker link), not counted above: ${COUNTERS[name]}`, [], () => link.counters[name]);
    }
  }

  const tiers = (pick: (t: TierStats) => number) => () => {
    const t = src.tiers();
    return [
      [{ tier: 'memory' }, pick(t.memory)],
      [{ tier: 'disk' }, pick(t.disk)],
    ] as const;
  };
  gauge(registry, 'strata_tier_items', 'entries held by each cache tier (the disk: those loaded so far)', ['tier'], tiers((t) => t.items));
  gauge(registry, 'strata_tier_bytes', 'bytes held by each cache tier (the disk: segment files dead bytes included)', ['tier'], tiers((t) => t.bytes));
  gauge(registry, 'strata_tier_max_bytes', 'configured byte budget of each cache tier', ['tier'], tiers((t) => t.maxBytes));
  counter(registry, 'strata_tier_evictions_total', 'entries each cache tier removed to stay within its byte budget', ['tier'], tiers((t) => t.evictions));

  const disk = () => src.tiers().disk;
  gauge(registry, 'strata_disk_writes_queued', 'body writes queued for the disk or in its writer thread now', [], () => disk().writesQueued);
  gauge(registry, 'strata_disk_bytes_queued', 'body bytes queued for the disk now', [], () => disk().bytesQueued);
  counter(registry, 'strata_disk_writes_shed_total', 'body writes refused because the disk write queue was full (the response was served, not stored on disk)', [], () => disk().writesShed);
  counter(registry, 'strata_disk_io_errors_total', 'disk reads that failed without a body found corrupt: I/O errors (EMFILE, EIO...) and index lines unreadable when a hit read them; each answered from the origin, nothing deleted', [], () => disk().ioErrors);
  counter(registry, 'strata_disk_write_errors_total', 'disk writes refused by the system (ENOSPC, EIO...): bodies, index lines, temp files; the response was served, nothing stored removed', [], () => disk().writeErrors);
  counter(registry, 'strata_disk_corrupt_total', 'disk entries removed because their body failed its check or was missing', [], () => disk().corrupt);
  gauge(registry, 'strata_disk_dead_bytes', 'bytes of segment files no record refers to any more, until reclaimed', [], () => disk().deadBytes);
  gauge(registry, 'strata_disk_index_bytes', 'bytes of the disk index file (dead lines included until the next compaction)', [], () => disk().indexBytes);
  gauge(registry, 'strata_disk_loading', '1 while the disk index is still loading at start (its entries are misses until loaded), else 0', [], () => (disk().loading ? 1 : 0));

  const perUpstream = (pick: (u: UpstreamFigures) => number) => () => src.upstreams().map((u) => [{ upstream: u.name }, pick(u)] as const);
  gauge(registry, 'strata_upstream_state', '1 for the health state each upstream is in (healthy, probation, ejected, unhealthy), 0 for the others', ['upstream', 'state'], () =>
    src.upstreams().flatMap((u) => HEALTH_STATES.map((state) => [{ upstream: u.name, state }, u.state === state ? 1 : 0] as const)),
  );
  gauge(registry, 'strata_upstream_available', '1 when the balancer may choose the upstream (healthy or on probation), else 0', ['upstream'], perUpstream((u) => (u.available ? 1 : 0)));
  gauge(registry, 'strata_upstream_in_flight', 'requests in flight to each upstream (until their response body is finished)', ['upstream'], perUpstream((u) => u.inFlight));
  gauge(registry, 'strata_upstream_latency_ewma_seconds', 'peak-EWMA latency of each upstream, as the balancer sees it (a failure counts as at least 1 s)', ['upstream'], perUpstream((u) => u.ewmaMs / 1000));
  counter(registry, 'strata_upstream_requests_total', 'requests sent to each upstream', ['upstream'], perUpstream((u) => u.requests));
  counter(registry, 'strata_upstream_failures_total', 'failed requests to each upstream (transport errors, timeouts, 502/503/504, broken bodies)', ['upstream'], perUpstream((u) => u.failures));
  counter(registry, 'strata_origin_retries_total', 'origin requests sent again after failing before any response byte: on another upstream, or on a fresh connection after a kept-alive one failed as it was reused', [], () => src.originCounts().retries);
  counter(registry, 'strata_origin_retries_refused_total', 'origin retries not made because the retry budget was spent (origin.retries.concurrencyPercent)', [], () => src.originCounts().retriesRefused);
  counter(registry, 'strata_origin_all_down_requests_total', 'origin requests made while no upstream was available (all were tried anyway)', [], () => src.originCounts().allDownRequests);

  gauge(registry, 'strata_coalesce_flights', 'origin fetches in flight that later requests for the same key may join', [], src.flights);
  gauge(registry, 'strata_hit_for_pass_keys', 'keys remembered as hit-for-pass (their requests go to the origin without waiting for one another)', [], src.hitForPassKeys);

  const peers = src.peers;
  if (peers) {
    gauge(registry, 'strata_peer_available', "1 when the peer may be asked for objects (answered its health checks, not ejected), else 0", ['peer'], () => peers().map((p) => [{ peer: p.id }, p.available ? 1 : 0] as const));
    gauge(registry, 'strata_peer_purges_owed', "purges queued for the peer in this node's outbox (fan-out), delivered when it answers", ['peer'], () => peers().map((p) => [{ peer: p.id }, p.purgesOwed] as const));
  }

  collectDefaultMetrics({ register: registry });
}
