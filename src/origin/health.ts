// Health of one upstream: a small state machine fed by two kinds of evidence.
//
//   passive — the outcome of real requests: a connect error, a timeout, a reset
//             or a 502/503/504 is a failure (a 500/501 is the application's
//             answer about one URL: upstream.ts); `maxFails` in a row eject the
//             upstream for `ejectMs`, doubling (up to `maxEjectMs`) each time it fails again
//             right after coming back ("probation"); one success while on
//             probation makes it healthy and resets the back-off. Only requests
//             sent since the latest ejection count towards these (era()).
//   active  — probes of a configured path: `unhealthyThreshold` failed probes in
//             a row make it unhealthy, `healthyThreshold` good ones make it
//             healthy again — and also lift a passive ejection (Envoy's
//             successful_active_health_check_uneject_host): a probe that got a
//             good answer is stronger evidence than the passage of time.
//
// States: healthy → ejected → probation → healthy | ejected (longer);
//         any → unhealthy → healthy. Every change goes through `onTransition`
// (the pool logs it and counts it). Time comes from an injected clock and the
// end of an ejection is noticed when the state is next read, so tests move a
// fake clock instead of waiting. The probing itself (timers, sockets) is in
// ActiveHealthChecker below, which only reports results here.

import type { PassiveHealthConfig } from '../config/types.js';
import type { Clock } from '../util/clock.js';

export type HealthState = 'healthy' | 'unhealthy' | 'ejected' | 'probation';

export interface ActiveThresholds {
  healthyThreshold: number;
  unhealthyThreshold: number;
}

export interface Transition {
  from: HealthState;
  to: HealthState;
  reason: string;
  /** Set when `to` is 'ejected'. */
  ejectMs?: number;
}

export interface HealthSnapshot {
  state: HealthState;
  consecutiveFailures: number;
  ejections: number;
  ejectedUntil?: number;
  lastTransition?: Transition & { at: number };
  transitions: number;
}

export class UpstreamHealth {
  private current: HealthState = 'healthy';
  private consecutiveFailures = 0;
  /** Ejections since the upstream was last healthy: the exponent of the back-off. */
  private ejections = 0;
  private ejectedUntil = 0;
  private probeOks = 0;
  private probeFails = 0;
  private probed = false;
  private last: (Transition & { at: number }) | undefined;
  private transitions = 0;
  /** Ejections since creation: a request's outcome counts only if no ejection came after it was sent. */
  private ejected = 0;

  constructor(
    private passive: PassiveHealthConfig,
    private active: ActiveThresholds,
    private readonly clock: Clock,
    private readonly onTransition: (t: Transition) => void,
  ) {}

  /** New thresholds from a reload; the state and its counts stay (an ejection keeps its end). */
  reconfigure(passive: PassiveHealthConfig, active: ActiveThresholds): void {
    this.passive = passive;
    this.active = active;
  }

  state(): HealthState {
    if (this.current === 'ejected' && this.clock.now() >= this.ejectedUntil) {
      this.move('probation', `ejection of ${this.lastEjectMs()}ms over; next request decides`);
    }
    return this.current;
  }

  /** May the balancer choose it (when some upstream is available at all)? */
  available(): boolean {
    const s = this.state();
    return s === 'healthy' || s === 'probation';
  }

  /** Taken when a request is sent and handed back with its outcome (recordSuccess, recordFailure). */
  era(): number {
    return this.ejected;
  }

  /**
   * `era`: this.era() when the request was sent. An outcome of a request sent before the
   * latest ejection is old news: a slow success must not lift the ejection its
   * contemporaries earned, nor a late failure end a probation it never took part in.
   */
  private outdated(era: number | undefined): boolean {
    return era !== undefined && era !== this.ejected;
  }

  recordSuccess(era?: number): void {
    if (this.outdated(era)) return;
    this.consecutiveFailures = 0;
    const s = this.state();
    // 'unhealthy' is the active checker's verdict, and only a probe lifts it.
    if (s === 'probation' || s === 'ejected') {
      this.ejections = 0;
      this.move('healthy', 'request succeeded');
    }
  }

  recordFailure(reason: string, era?: number): void {
    if (this.outdated(era)) return;
    this.consecutiveFailures++;
    const s = this.state();
    if (s === 'probation') return this.eject(`failed on probation: ${reason}`);
    if (s === 'healthy' && this.passive.maxFails > 0 && this.consecutiveFailures >= this.passive.maxFails) {
      this.eject(`${this.consecutiveFailures} consecutive failures, last: ${reason}`);
    }
  }

  /** Found unreachable before any request: out at once, not after maxFails requests (unless ejection is off). */
  unreachableAtStart(reason: string): void {
    if (this.passive.maxFails > 0 && this.state() === 'healthy') this.eject(`unreachable at start: ${reason}`);
  }

  probeResult(ok: boolean, reason: string): void {
    const first = !this.probed;
    this.probed = true;
    const s = this.state();
    if (ok) {
      this.probeFails = 0;
      this.probeOks++;
      if (s !== 'healthy' && this.probeOks >= this.active.healthyThreshold) {
        this.consecutiveFailures = 0;
        this.ejections = 0;
        this.move('healthy', `${this.probeOks} health checks passed`);
      }
      return;
    }
    this.probeOks = 0;
    this.probeFails++;
    // An upstream never seen healthy is out after its first failed probe.
    if (s !== 'unhealthy' && (first || this.probeFails >= this.active.unhealthyThreshold)) {
      this.move('unhealthy', first ? `first health check failed: ${reason}` : `${this.probeFails} health checks failed, last: ${reason}`);
    }
  }

  snapshot(): HealthSnapshot {
    const state = this.state();
    return {
      state,
      consecutiveFailures: this.consecutiveFailures,
      ejections: this.ejections,
      ...(state === 'ejected' ? { ejectedUntil: this.ejectedUntil } : {}),
      ...(this.last ? { lastTransition: this.last } : {}),
      transitions: this.transitions,
    };
  }

  private lastEjectMs(): number {
    return backoffMs(this.passive, this.ejections);
  }

  private eject(reason: string): void {
    this.ejections++;
    this.ejected++;
    const ms = this.lastEjectMs();
    this.ejectedUntil = this.clock.now() + ms;
    this.probeOks = 0;
    this.move('ejected', reason, ms);
  }

  private move(to: HealthState, reason: string, ejectMs?: number): void {
    const t: Transition = { from: this.current, to, reason, ...(ejectMs !== undefined ? { ejectMs } : {}) };
    this.current = to;
    this.transitions++;
    this.last = { ...t, at: this.clock.now() };
    this.onTransition(t);
  }
}

/** The n-th ejection in a row lasts ejectMs · 2^(n-1), capped at maxEjectMs. */
export function backoffMs(cfg: PassiveHealthConfig, ejections: number): number {
  const n = Math.max(1, ejections);
  return Math.min(cfg.maxEjectMs, cfg.ejectMs * 2 ** Math.min(n - 1, 30));
}

// ---------------------------------------------------------------- probing

export interface ProbeOutcome {
  ok: boolean;
  /** Why it failed, or the status it got. */
  detail: string;
}

export interface ProbeTarget {
  probe(): Promise<ProbeOutcome>;
  health: UpstreamHealth;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * Probes every target now, then `intervalMs` after each probe finishes (never two
 * probes of one upstream at once, however slow it is).
 */
export class ActiveHealthChecker {
  private readonly handles = new Map<ProbeTarget, unknown>();
  private stopped = false;

  constructor(
    private readonly targets: readonly ProbeTarget[],
    private readonly intervalMs: number,
    private readonly timers: Timers = realTimers,
  ) {}

  start(): void {
    for (const t of this.targets) void this.run(t);
  }

  stop(): void {
    this.stopped = true;
    for (const h of this.handles.values()) this.timers.clearTimeout(h);
    this.handles.clear();
  }

  private async run(t: ProbeTarget): Promise<void> {
    if (this.stopped) return;
    const r = await t.probe().catch((err: unknown): ProbeOutcome => ({ ok: false, detail: (err as Error).message }));
    if (this.stopped) return;
    t.health.probeResult(r.ok, r.detail);
    this.handles.set(t, this.timers.setTimeout(() => void this.run(t), this.intervalMs));
  }
}

/** "200-399, 418" → [[200, 399], [418, 418]]. */
export type StatusRanges = readonly (readonly [number, number])[];

export function statusExpected(ranges: StatusRanges, status: number): boolean {
  return ranges.some(([lo, hi]) => status >= lo && status <= hi);
}
