// One upstream: its undici Pool, the requests it has in flight, a peak-EWMA of
// its latency, and its health (health.ts). `send` is the only way traffic
// reaches it, so every request feeds the passive health check: a transport
// failure or a 502/503/504 counts against it, any other answer for it. Those are
// still returned to the caller (an answer, and the cache may have rules for it);
// only the health verdict treats them as failures.
// Why not every 5xx (nginx's default proxy_next_upstream / max_fails view): a
// 500 or 501 is the application answering about that URL, not the server being
// unwell, and any client can ask for such a URL: counting it let a dozen anonymous
// GETs of one broken page eject every upstream. 502/503/504 are the statuses a
// server (or the gateway in front of it) sends when it cannot serve at all.
//
// In flight means until the response body is finished or abandoned, not just
// until headers: a long download is load on the upstream.
//
// A response with no content by definition (HEAD, 1xx, 204, 304: http/no-content.ts)
// is handed on with an empty body. undici 7 checks Content-Length against the bytes
// read for every method but HEAD, 204 and 304 included, so a 304 carrying the
// representation's `Content-Length: 5` (RFC 9110 §8.6 allows it) fails its body with
// UND_ERR_RES_CONTENT_LENGTH_MISMATCH after a complete answer: that error is neither
// the client's concern nor a failure of the upstream.

import net from 'node:net';
import { Readable } from 'node:stream';
import { Pool, request as undiciRequest, type Dispatcher } from 'undici';
import type { HealthCheckConfig, PassiveHealthConfig, UpstreamConfig } from '../config/types.js';
import { hasNoContent } from '../http/no-content.js';
import type { Clock } from '../util/clock.js';
import { undiciSignal, type CancelSignal } from '../util/cancel-signal.js';
import type { UpstreamView } from './balancer.js';
import { failedBeforeResponse, failureReason, healthByBody } from './client.js';
import { ConnectionTrust } from './connection-trust.js';
import { RequestDeadlines } from './request-deadlines.js';
import { statusExpected, UpstreamHealth, type ActiveThresholds, type ProbeOutcome, type Transition } from './health.js';

export interface UpstreamTimeouts {
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
}

/** An upstream's answer: its status and fields as undici gives them, and the body to read. */
export interface UpstreamResponse {
  statusCode: number;
  headers: Dispatcher.ResponseData['headers'];
  body: Readable;
  onDistrust: (cb: () => void) => void;
}

export interface UpstreamDeps {
  /** Wall clock for ejections (a test moves a fake one). */
  clock: Clock;
  /** Monotonic milliseconds for latency. */
  now: () => number;
  onTransition: (u: Upstream, t: Transition) => void;
}

// Peak-EWMA decay (Finagle's and linkerd's default is 10 s): a latency spike is
// taken at once, good news blends in over seconds, and an upstream nobody picks
// has its estimate fade so it is sampled again.
const DECAY_MS = 10_000;

// A failure enters the EWMA as an answer at least this slow: otherwise an
// upstream failing fast (refusing connections, answering 503 at once) would look
// like the fastest, and p2c would pour traffic into it (the "black hole" of
// latency-based balancing) until passive ejection caught up.
const FAILURE_PENALTY_MS = 1_000;

/** Failures of a kept-alive connection as it was reused (see onReusedConnection). */
const REUSED_CONNECTION_FAILURES = new WeakSet<object>();

/**
 * Did this request fail before any response byte on a connection kept alive from an
 * earlier request? The origin may have closed it, idle, just as the request was written
 * (the keep-alive race): that says nothing about the upstream, and an idempotent request
 * may be sent again on a fresh connection (pool.ts).
 */
export function onReusedConnection(err: unknown): boolean {
  return typeof err === 'object' && err !== null && REUSED_CONNECTION_FAILURES.has(err);
}

/** Answers that say the upstream cannot serve (bad gateway, unavailable, gateway timeout): passive failures. */
const UNHEALTHY_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

export class Upstream implements UpstreamView {
  readonly name: string;
  readonly host: string;
  /** As configured (origin.upstreams[].url): what a reload matches upstreams by. */
  readonly url: string;
  /** Changed by a reload (reconfigure); the undici pool's settings below cannot be. */
  weight: number;
  readonly maxConnections: number;
  readonly timeouts: UpstreamTimeouts;
  readonly health: UpstreamHealth;
  private readonly origin: string;
  private readonly pathPrefix: string;
  private readonly pool: Pool;
  private readonly connectTimeoutMs: number;
  /** Which connection carried each response, to distrust those followed by unsolicited bytes. */
  readonly trust: ConnectionTrust;
  inFlight = 0;
  requests = 0;
  failures = 0;
  private ewmaMs = 0;
  private sampledAt = 0;

  constructor(
    cfg: UpstreamConfig,
    timeouts: UpstreamTimeouts,
    passive: PassiveHealthConfig,
    active: ActiveThresholds,
    private readonly deps: UpstreamDeps,
    /** The upstream of the same URL this one replaces on a reload (new pool settings): its health and figures carry on. */
    carry?: Upstream,
  ) {
    const url = new URL(cfg.url);
    this.url = cfg.url;
    this.timeouts = { connectTimeoutMs: timeouts.connectTimeoutMs, headersTimeoutMs: timeouts.headersTimeoutMs, bodyTimeoutMs: timeouts.bodyTimeoutMs };
    this.origin = url.origin;
    this.pathPrefix = url.pathname.replace(/\/+$/, '');
    this.name = url.origin + this.pathPrefix;
    this.host = url.host;
    this.weight = cfg.weight;
    this.maxConnections = cfg.maxConnections;
    this.connectTimeoutMs = timeouts.connectTimeoutMs;
    this.trust = new ConnectionTrust(deps.now);
    this.pool = new Pool(url.origin, {
      factory: this.trust.factory,
      connections: cfg.maxConnections,
      connectTimeout: timeouts.connectTimeoutMs,
      headersTimeout: timeouts.headersTimeoutMs,
      bodyTimeout: timeouts.bodyTimeoutMs,
      keepAliveTimeout: 4_000,
    });
    this.pool.on('disconnect', (_origin, targets, err) => this.trust.disconnected(targets[1], err));
    this.pool.on('connectionError', (_origin, targets) => this.trust.connectFailed(targets[1]));
    if (carry) {
      carry.health.reconfigure(passive, active);
      this.health = carry.health;
      this.requests = carry.requests;
      this.failures = carry.failures;
      this.ewmaMs = carry.ewmaMs;
      this.sampledAt = carry.sampledAt;
    } else {
      this.health = new UpstreamHealth(passive, active, deps.clock, (t) => deps.onTransition(this, t));
    }
  }

  /** Can this upstream serve a reloaded configuration as it is (its undici pool's settings unchanged)? */
  keepsPool(cfg: UpstreamConfig, timeouts: UpstreamTimeouts): boolean {
    return (
      cfg.url === this.url &&
      cfg.maxConnections === this.maxConnections &&
      timeouts.connectTimeoutMs === this.timeouts.connectTimeoutMs &&
      timeouts.headersTimeoutMs === this.timeouts.headersTimeoutMs &&
      timeouts.bodyTimeoutMs === this.timeouts.bodyTimeoutMs
    );
  }

  /** A reload's weight and health thresholds; the pool, its connections and the health state stay. */
  reconfigure(weight: number, passive: PassiveHealthConfig, active: ActiveThresholds): void {
    this.weight = weight;
    this.health.reconfigure(passive, active);
  }

  /** Latency estimate now (ms), fading while no sample arrives. */
  cost(): number {
    if (this.ewmaMs === 0) return 0;
    return this.ewmaMs * Math.exp(-(this.deps.now() - this.sampledAt) / DECAY_MS);
  }

  get ewma(): number {
    return this.ewmaMs;
  }

  private observe(ms: number): void {
    const now = this.deps.now();
    if (ms > this.ewmaMs) {
      this.ewmaMs = ms;
    } else {
      const w = Math.exp(-(now - this.sampledAt) / DECAY_MS);
      this.ewmaMs = this.ewmaMs * w + ms * (1 - w);
    }
    this.sampledAt = now;
  }

  async send(
    method: string,
    target: string,
    headers: Dispatcher.RequestOptions['headers'],
    body: Dispatcher.RequestOptions['body'],
    signal?: CancelSignal,
    onInfo?: Dispatcher.RequestOptions['onInfo'],
  ): Promise<UpstreamResponse> {
    const started = this.deps.now();
    const era = this.health.era();
    this.requests++;
    this.inFlight++;
    let res: Dispatcher.ResponseData;
    const deadlines = new RequestDeadlines(this, signal);
    const interim: Dispatcher.RequestOptions['onInfo'] = (info) => {
      deadlines.interim();
      onInfo?.(info);
    };
    const { opts, tracked } = this.trust.track<Dispatcher.RequestOptions>({ method: method as Dispatcher.HttpMethod, path: this.pathPrefix + target, headers, body: body ?? null, signal: undiciSignal(deadlines.signal), onInfo: interim });
    tracked.onDispatch = deadlines.dispatched;
    try {
      res = await deadlines.race(this.pool.request(opts));
    } catch (err) {
      this.inFlight--;
      const stale = tracked.reused === true && failedBeforeResponse(err) && typeof err === 'object' && err !== null;
      if (stale) REUSED_CONNECTION_FAILURES.add(err);
      // The caller giving up says nothing about the upstream, nor does a kept-alive connection it
      // closed, nor a wait for one of our own connections (the upstream never saw the request).
      if (!signal?.aborted && !stale && !deadlines.expired) {
        this.observe(Math.max(this.deps.now() - started, FAILURE_PENALTY_MS));
        this.fail(failureReason(err), era);
      }
      throw err;
    }
    const ms = this.deps.now() - started;
    const noContent = hasNoContent(method, res.statusCode);
    if (UNHEALTHY_STATUSES.has(res.statusCode)) {
      this.observe(Math.max(ms, FAILURE_PENALTY_MS));
      this.fail(`status ${res.statusCode}`, era);
    } else {
      this.observe(ms);
      healthByBody(res.body, noContent, { success: () => this.health.recordSuccess(era), failure: (reason) => this.fail(reason, era) });
    }
    // undici's body destroys itself after its end or an error: its 'close' comes once, whatever ended it.
    // Plain listeners, not once(): each once() made a wrapper and its state on every miss (~0.25 KiB).
    res.body.on('close', () => this.inFlight--);
    res.body.on('end', () => this.trust.ended(tracked));
    const onDistrust = (cb: () => void): void => void tracked.callbacks.push(cb);
    if (!noContent) return { statusCode: res.statusCode, headers: res.headers, body: res.body, onDistrust };
    // Read to its end (or its error) here, whoever reads the empty body handed on, so the
    // connection goes back to the pool (or is dropped by undici) and inFlight comes down.
    res.body.resume();
    return { statusCode: res.statusCode, headers: res.headers, body: emptyBody(), onDistrust };
  }

  private fail(reason: string, era: number): void {
    this.failures++;
    this.health.recordFailure(reason, era);
  }

  /** One active health check: GET path, fully read, status within the expected ranges. */
  async probe(cfg: HealthCheckConfig, host: string, dispatcher: Dispatcher): Promise<ProbeOutcome> {
    try {
      const res = await undiciRequest(this.origin + this.pathPrefix + cfg.path, {
        dispatcher,
        method: 'GET',
        headers: { host, 'user-agent': 'strata-health-check' },
        signal: AbortSignal.timeout(cfg.timeoutMs),
        headersTimeout: cfg.timeoutMs,
        bodyTimeout: cfg.timeoutMs,
      });
      await res.body.dump({ limit: 64 * 1024, signal: AbortSignal.timeout(cfg.timeoutMs) });
      const ok = statusExpected(cfg.expectStatuses, res.statusCode);
      return { ok, detail: ok ? `status ${res.statusCode}` : `unexpected status ${res.statusCode}` };
    } catch (err) {
      const e = err as Error & { code?: string };
      return { ok: false, detail: e.name === 'TimeoutError' ? `no answer within ${cfg.timeoutMs}ms` : failureReason(err) };
    }
  }

  /** Can a TCP connection be opened? The start-up check when no active checks are configured. */
  connects(): Promise<ProbeOutcome> {
    const url = new URL(this.origin);
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    return new Promise((resolve) => {
      const sock = net.connect({ host, port });
      sock.setTimeout(this.connectTimeoutMs);
      const done = (r: ProbeOutcome): void => {
        sock.destroy();
        resolve(r);
      };
      sock.once('connect', () => done({ ok: true, detail: 'connected' }));
      sock.once('timeout', () => done({ ok: false, detail: `no connection within ${this.connectTimeoutMs}ms` }));
      sock.once('error', (err) => done({ ok: false, detail: failureReason(err) }));
    });
  }

  /** Set once close() was called: its pool takes no new request. */
  closing = false;
  private ended: Promise<void> | undefined;

  /** Graceful: requests sent finish first. Idempotent; a destroy after a graceful close aborts what is left. */
  close(graceful: boolean): Promise<void> {
    this.closing = true;
    if (graceful && this.ended) return this.ended;
    this.ended = graceful ? this.pool.close() : this.pool.destroy();
    return this.ended;
  }
}

/** A body with no bytes: what a response without content (HEAD, 204, 304) hands on. */
function emptyBody(): Readable {
  return new Readable({
    read() {
      this.push(null);
    },
  });
}
