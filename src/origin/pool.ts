// The origin side as the pipeline sees it: a pool of upstreams serving one site,
// a balancer choosing among the available ones, health checks keeping that set
// honest, and retries.
//
// Retry rules (each one a reason, not a tuning knob):
// - only when the upstream failed before any response byte (connect error,
//   reset; see failedBeforeResponse) — a response, even a 5xx, is delivered;
// - only for idempotent methods without a request body (a streamed body has
//   been consumed and cannot be replayed);
// - each retry on an upstream not yet tried for this request, at most
//   `retries.count` of them, and none starting past `retries.budgetMs`;
// - retries under way at once stay within `retries.concurrencyPercent` of the
//   requests in flight to the pool (at least MIN_CONCURRENT_RETRIES): when every
//   upstream fails, each request would otherwise be sent to count + 1 of them,
//   multiplying the load on a pool that is down or overloaded (Envoy's retry
//   budget, Finagle's RetryBudget);
// - never once the response has been returned: by then its bytes may be on
//   their way to the client, so a failure mid-body cuts the client instead.
// - a failure of a kept-alive connection as it was reused (upstream.ts,
//   onReusedConnection) is the connection's, not the upstream's: the request
//   goes once more to the same upstream, not counted as a try.
//
// When no upstream is available, all of them are tried anyway: failing closed
// would turn a health-check mistake into an outage. A drained upstream
// (src/routing/drain.ts) is the exception: the operator took it out on purpose,
// so it is never chosen, not even for a retry; a pool whose every upstream is
// drained answers UPSTREAMS_DRAINED (503).
//
// Reload: a pool a reload replaced is retired (no health checks) and keeps
// serving the requests routed to it before the reload, however late they reach
// it (node.ts closes it once they are over). Once closed, a request that still
// arrives (a cluster fallback, one past the deadline) goes to its successor.

import { Agent } from 'undici';
import type { Logger } from 'pino';
import type { OriginConfig, UpstreamConfig } from '../config/types.js';
import type { Clock } from '../util/clock.js';
import { createBalancer, type Balancer } from './balancer.js';
import { failedBeforeResponse, originError, type OriginClient, type OriginRequest, type OriginResponse } from './client.js';
import { ActiveHealthChecker, realTimers, type ActiveThresholds, type HealthState, type Timers, type Transition } from './health.js';
import { StrataError } from '../errors.js';
import { fromUndici, PEER_ONLY_FIELDS } from '../http/headers.js';
import { onReusedConnection, Upstream } from './upstream.js';

export interface PoolDeps {
  logger: Logger;
  /** Wall clock for ejections. */
  clock: Clock;
  /** Monotonic ms for latency and the retry budget. */
  now?: () => number;
  timers?: Timers;
  random?: () => number;
  /** Upstreams (by name) an operator is draining: never chosen for a new request. */
  isDrained?: (name: string) => boolean;
}

// RFC 9110 §9.2.2. A request with a body is excluded separately.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Retries that may be under way at once whatever the share (Envoy's min_retry_concurrency): a quiet pool still retries. */
const MIN_CONCURRENT_RETRIES = 3;

/** One upstream's figures, as /stats and /metrics report them. */
export interface UpstreamFigures {
  name: string;
  state: HealthState;
  available: boolean;
  inFlight: number;
  /** Peak-EWMA latency (ms). */
  ewmaMs: number;
  requests: number;
  failures: number;
}

const TRANSITION_MESSAGES: Record<Transition['to'], string> = {
  ejected: 'upstream ejected',
  probation: 'upstream back on probation',
  healthy: 'upstream healthy',
  unhealthy: 'upstream unhealthy',
};

function figuresOf(u: Upstream): UpstreamFigures {
  return { name: u.name, state: u.health.state(), available: u.health.available(), inFlight: u.inFlight, ewmaMs: u.ewma, requests: u.requests, failures: u.failures };
}

export class UpstreamPool implements OriginClient {
  readonly host: string;
  readonly name: string;
  private readonly upstreams: readonly Upstream[];
  /** Those this pool closes: all it made, less those handed to a successor (reload). */
  private readonly owned: Set<Upstream>;
  /** Made by this pool, not carried over from a predecessor: checked for reachability at start. */
  private readonly fresh: Set<Upstream>;
  private readonly balancer: Balancer;
  private readonly checker: ActiveHealthChecker | undefined;
  private readonly probeAgent: Agent | undefined;
  private readonly now: () => number;
  private retries = 0;
  /** Requests of this pool now on a retry attempt (the retry budget). */
  private retrying = 0;
  /** Retries the budget refused since start. */
  private retriesRefused = 0;
  private allDownRequests = 0;
  private allDown = false;
  /** Replaced by a reload: its requests avoid upstreams already closed. */
  private retired = false;
  private closed = false;
  private ending: Promise<void> | undefined;
  /** The pool that replaced this one on a reload (successor()): takes what reaches this one once closed. */
  private next: UpstreamPool | undefined;

  /** `predecessor`: the pool this one replaces on a reload (see successor()). */
  constructor(
    private readonly cfg: OriginConfig,
    private readonly deps: PoolDeps,
    predecessor?: UpstreamPool,
  ) {
    this.now = deps.now ?? (() => performance.now());
    const thresholds = { healthyThreshold: cfg.healthCheck.healthyThreshold, unhealthyThreshold: cfg.healthCheck.unhealthyThreshold };
    const upstreamDeps = { clock: deps.clock, now: this.now, onTransition: (up: Upstream, t: Transition) => this.logTransition(up, t) };
    this.fresh = new Set();
    this.upstreams = cfg.upstreams.map((u) => {
      const kept = predecessor?.handOver(u, cfg, thresholds);
      if (kept) return kept;
      const made = new Upstream(u, cfg, cfg.passiveHealth, thresholds, upstreamDeps, predecessor?.byUrl(u.url));
      this.fresh.add(made);
      return made;
    });
    this.owned = new Set(this.upstreams);
    const first = this.upstreams[0];
    if (!first) throw new Error('an origin pool needs at least one upstream');
    // Upstreams serve one site: the first one's host names it (see forward-headers.ts).
    this.host = first.host;
    this.name = this.upstreams.map((u) => u.name).join(', ');
    this.balancer = createBalancer(cfg.balancer, deps.random);
    // Prometheus counters never go down: a successor counts on from here.
    this.retries = predecessor?.retries ?? 0;
    this.retriesRefused = predecessor?.retriesRefused ?? 0;
    this.allDownRequests = predecessor?.allDownRequests ?? 0;
    if (cfg.healthCheck.path !== '') {
      const agent = new Agent({ connections: 1, connect: { timeout: cfg.healthCheck.timeoutMs } });
      this.probeAgent = agent;
      this.checker = new ActiveHealthChecker(
        this.upstreams.map((u) => ({ health: u.health, probe: () => u.probe(cfg.healthCheck, this.host, agent) })),
        cfg.healthCheck.intervalMs,
        deps.timers ?? realTimers,
      );
    }
  }

  /**
   * The pool for a reloaded origin configuration. An upstream listed in both keeps
   * its undici pool (connections), its health state and its figures, and takes the
   * new weight and thresholds; one whose pool settings changed (maxConnections,
   * timeouts) gets a new undici pool but keeps its health and figures. Requests
   * routed here before the reload stay on this pool; retire() it after starting the
   * successor, and close() it once they are over: it closes only what it did not
   * hand over, letting its requests finish.
   */
  successor(cfg: OriginConfig): UpstreamPool {
    const next = new UpstreamPool(cfg, this.deps, this);
    this.next = next;
    return next;
  }

  private byUrl(url: string): Upstream | undefined {
    return this.upstreams.find((u) => u.url === url);
  }

  private handOver(cfg: UpstreamConfig, timeouts: OriginConfig, thresholds: ActiveThresholds): Upstream | undefined {
    const u = this.byUrl(cfg.url);
    if (!u || !u.keepsPool(cfg, timeouts)) return undefined;
    u.reconfigure(cfg.weight, timeouts.passiveHealth, thresholds);
    this.owned.delete(u);
    return u;
  }

  /**
   * Begins health checking. An upstream that cannot be reached now is logged and
   * taken out of rotation, not a start-up error: the cache can still serve what
   * it holds, and the upstream may be on its way up.
   */
  start(): void {
    if (this.checker) {
      this.checker.start();
      return;
    }
    for (const u of this.fresh) {
      void u.connects().then((r) => {
        if (this.closed) return;
        if (r.ok) return void this.deps.logger.info({ upstream: u.name }, 'upstream reachable at start');
        this.deps.logger.warn({ upstream: u.name, reason: r.detail }, 'upstream unreachable at start');
        u.health.unreachableAtStart(r.detail);
      });
    }
  }

  async request(req: OriginRequest): Promise<OriginResponse> {
    if (this.closed && this.next) return this.next.request(req);
    const replayable = IDEMPOTENT.has(req.method) && (req.body === undefined || req.body === null);
    const key = req.key ?? req.target;
    const deadline = this.now() + this.cfg.retries.budgetMs;
    const tried = new Set<Upstream>();
    let open = this.open();
    if (open.length === 0) throw new StrataError('UPSTREAMS_DRAINED', `every upstream of ${this.name} is drained`);
    /** The upstream whose kept-alive connection failed as it was reused: asked again, once, on a fresh one. */
    let again: Upstream | undefined;
    let replayed = false;
    let retrying = false;
    try {
      for (;;) {
        const u = again ?? this.choose(open, key, tried);
        again = undefined;
        tried.add(u);
        try {
          const onInfo = req.onInterim && (({ statusCode, headers }: { statusCode: number; headers: Record<string, string | string[]> }) => req.onInterim!(statusCode, fromUndici(headers)));
          const res = await u.send(req.method, req.target, req.headers, req.body, req.signal, onInfo);
          const headers = fromUndici(res.headers);
          // Only a peer's answer may carry them (cluster/peer-fetch.ts checks them there).
          for (const f of PEER_ONLY_FIELDS) if (headers[f] !== undefined) delete headers[f];
          return { status: res.statusCode, headers, body: res.body, upstream: u.name, onDistrust: res.onDistrust };
        } catch (err) {
          // Asked again: an upstream drained while this request was on its way is not retried on.
          if (this.deps.isDrained) open = this.open();
          // The keep-alive race: the connection failed, not the upstream. Sent again to it, once,
          // whatever retries.count says (a single upstream has no other), not counted as a try.
          if (replayable && !replayed && onReusedConnection(err) && !req.signal?.aborted && open.includes(u) && this.now() < deadline) {
            replayed = true;
            again = u;
            tried.delete(u);
            this.retries++;
            this.deps.logger.info({ upstream: u.name, err: (err as Error).message }, 'kept-alive origin connection failed as it was reused; sending the request again on a fresh one');
            continue;
          }
          const retry =
            replayable &&
            failedBeforeResponse(err) &&
            !req.signal?.aborted &&
            tried.size <= this.cfg.retries.count &&
            open.some((o) => !tried.has(o)) &&
            this.now() < deadline;
          const withinBudget = !retry || this.mayRetry(retrying);
          if (!withinBudget) {
            this.retriesRefused++;
            this.deps.logger.info({ upstream: u.name, retrying: this.retrying }, 'retry budget spent (origin.retries.concurrencyPercent): not retried');
          }
          if (!retry || !withinBudget) {
            const e = originError(err, u.name);
            if (tried.size > 1) e.message += `; ${tried.size} upstreams tried`;
            throw e;
          }
          this.retries++;
          if (!retrying) this.retrying++;
          retrying = true;
          this.deps.logger.info({ upstream: u.name, err: (err as Error).message, attempt: tried.size }, 'origin request failed before any response; retrying on another upstream');
        }
      }
    } finally {
      if (retrying) this.retrying--;
    }
  }

  /** Is there room in the retry budget for one more request on a retry (one already retrying keeps its place)? */
  private mayRetry(already: boolean): boolean {
    if (already) return true;
    let inFlight = 0;
    for (const u of this.upstreams) inFlight += u.inFlight;
    // The request deciding is in flight too, though its failed attempt no longer counts.
    const share = Math.floor(((inFlight + 1) * this.cfg.retries.concurrencyPercent) / 100);
    return this.retrying < Math.max(MIN_CONCURRENT_RETRIES, share);
  }

  /** The upstreams that may take a new request: all but the drained ones. */
  private open(): readonly Upstream[] {
    const drained = this.deps.isDrained;
    return drained === undefined ? this.upstreams : this.upstreams.filter((u) => !drained(u.name));
  }

  /** Can a new request go to some upstream of this pool (one not drained)? */
  hasOpen(): boolean {
    return this.open().length > 0;
  }

  private choose(open: readonly Upstream[], key: string, tried: ReadonlySet<Upstream>): Upstream {
    let untried = tried.size === 0 ? open : open.filter((u) => !tried.has(u));
    // A pool a reload replaced still serves its requests in flight: they avoid upstreams already closed.
    if (this.retired) {
      const notClosing = untried.filter((u) => !u.closing);
      if (notClosing.length > 0) untried = notClosing;
    }
    const available = untried.filter((u) => u.health.available());
    if (tried.size === 0) this.noteAllDown(available.length === 0);
    return this.balancer.pick(available.length > 0 ? available : untried, key);
  }

  private noteAllDown(down: boolean): void {
    if (down) this.allDownRequests++;
    if (down === this.allDown) return;
    this.allDown = down;
    if (down) this.deps.logger.warn({ upstreams: this.upstreams.length }, 'no upstream available; trying them anyway');
    else this.deps.logger.info({ available: this.upstreams.filter((u) => u.health.available()).length }, 'upstreams available again');
  }

  private logTransition(u: Upstream, t: Transition): void {
    const level = t.to === 'ejected' || t.to === 'unhealthy' ? 'warn' : 'info';
    this.deps.logger[level]({ upstream: u.name, from: t.from, to: t.to, reason: t.reason, ...(t.ejectMs !== undefined ? { ejectMs: t.ejectMs } : {}) }, TRANSITION_MESSAGES[t.to]);
  }

  /** Retries on another upstream, and requests that found no upstream available, since start. */
  get counts(): { retries: number; retriesRefused: number; allDownRequests: number } {
    return { retries: this.retries, retriesRefused: this.retriesRefused, allDownRequests: this.allDownRequests };
  }

  /** Each upstream's state and load now (read at scrape time by /metrics). */
  figures(): UpstreamFigures[] {
    return this.upstreams.map(figuresOf);
  }

  /** The figures of the upstreams this pool closes itself (not handed to a successor): what a retired pool still carries. */
  ownFigures(): UpstreamFigures[] {
    return [...this.owned].map(figuresOf);
  }

  /** Can some upstream be chosen now (/readyz)? */
  anyAvailable(): boolean {
    return this.open().some((u) => u.health.available());
  }

  stats(): unknown {
    return {
      balancer: this.cfg.balancer,
      retries: this.retries,
      retriesRefused: this.retriesRefused,
      allDownRequests: this.allDownRequests,
      upstreams: this.upstreams.map((u) => ({
        name: u.name,
        weight: u.weight,
        maxConnections: u.maxConnections,
        ...u.health.snapshot(),
        available: u.health.available(),
        inFlight: u.inFlight,
        ewmaMs: Math.round(u.ewma * 100) / 100,
        requests: u.requests,
        failures: u.failures,
      })),
    };
  }

  /** Replaced by a reload: no more health checks (the successor checks what it kept); requests still served. */
  retire(): void {
    this.retired = true;
    this.checker?.stop();
  }

  /** Graceful: requests already sent finish, later ones go to the successor. A second call returns the first's promise, unless it aborts what is left. */
  close(graceful = true): Promise<void> {
    this.retire();
    this.closed = true;
    if (graceful && this.ending) return this.ending;
    this.ending = Promise.all([...[...this.owned].map((u) => u.close(graceful)), this.probeAgent?.destroy()]).then(() => undefined);
    return this.ending;
  }
}
