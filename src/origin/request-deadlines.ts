// Deadlines of one origin request that undici's own timeouts leave open, both
// measured against origin.headersTimeoutMs:
//
// - the wait in the undici Pool's queue while all `maxConnections` are busy.
//   undici starts the headers timeout only once a request is on a connection, so a
//   queued request used to wait for every request ahead of it, each up to its own
//   headers timeout, and a client of a stuck origin behind a full pool waited
//   without bound. Past the limit the request fails with ORIGIN_TIMEOUT (not a
//   passive-health failure: the upstream never saw it); a request leaving the queue
//   gets what is left of the limit as its headers timeout. A caller giving up
//   while its request is queued is answered at once, not when the request reaches
//   a connection (undici applies an abort of a queued request only then).
// - interim (1xx) responses: undici restarts the headers timeout at each one, so an
//   origin sending 102 Processing every few seconds held a request, its connection
//   and its client without end. The final response must now come within the
//   headers timeout of the first interim one.
//
// Invariant: every timer is cleared once the response headers are in (race()).

import type { Dispatcher } from 'undici';
import { StrataError } from '../errors.js';
import { Canceller, type CancelSignal } from '../util/cancel-signal.js';

/** What a deadline needs to know of its upstream. */
export interface DeadlineUpstream {
  readonly name: string;
  readonly maxConnections: number;
  readonly timeouts: { readonly headersTimeoutMs: number };
}

export class RequestDeadlines {
  /** The request never left the queue: no evidence about the upstream. */
  expired = false;
  private readonly ctl: Canceller;
  private readonly startedMs = performance.now();
  private queueTimer: NodeJS.Timeout | undefined;
  private interimTimer: NodeJS.Timeout | undefined;
  private fail: ((err: unknown) => void) | undefined;
  private left = false;
  private answered = false;

  constructor(
    private readonly upstream: DeadlineUpstream,
    private readonly caller: CancelSignal | undefined,
  ) {
    // The caller's signal is the request's own (fetch-interest.ts).
    this.ctl = new Canceller().follow(caller);
  }

  /** Aborted by the caller's signal or by a deadline (abort() is this class's own). */
  get signal(): CancelSignal {
    return this.ctl;
  }

  /** The Pool handed the request to a connection: undici's timeouts take over, the headers one shortened by the wait. */
  readonly dispatched = (opts: Dispatcher.DispatchOptions): void => {
    if (this.left) return;
    this.left = true;
    clearTimeout(this.queueTimer);
    this.caller?.removeEventListener('abort', this.callerLeft);
    const waited = performance.now() - this.startedMs;
    if (waited >= 1) opts.headersTimeout = Math.max(1, Math.round(this.upstream.timeouts.headersTimeoutMs - waited));
  };

  /** An interim (1xx) response arrived: the first one starts the wait for the final one. */
  interim(): void {
    if (this.answered || this.interimTimer !== undefined) return;
    const limit = this.upstream.timeouts.headersTimeoutMs;
    this.interimTimer = setTimeout(() => {
      if (this.answered) return;
      const err = this.timeout(`origin ${this.upstream.name} sent interim responses but no final one within ${limit}ms (origin.headersTimeoutMs)`);
      // On a connection now: undici rejects the request with this reason at once.
      this.ctl.abort(err);
    }, limit).unref();
  }

  /** `pending`, or the first deadline's error. */
  race(pending: Promise<Dispatcher.ResponseData>): Promise<Dispatcher.ResponseData> {
    const done = (): void => {
      this.answered = true;
      clearTimeout(this.queueTimer);
      clearTimeout(this.interimTimer);
      this.caller?.removeEventListener('abort', this.callerLeft);
    };
    if (this.left) return pending.finally(done);
    const given = new Promise<never>((_, reject) => {
      this.fail = reject;
      const limit = this.upstream.timeouts.headersTimeoutMs;
      this.queueTimer = setTimeout(() => this.expire(limit), limit).unref();
      this.caller?.addEventListener('abort', this.callerLeft, { once: true });
    });
    // Settled later by undici (aborted as the request reaches a connection): nobody else awaits it.
    pending.then((r) => (this.expired || this.caller?.aborted ? r.body.destroy() : undefined), () => undefined);
    return Promise.race([pending, given]).finally(done);
  }

  private readonly callerLeft = (): void => {
    if (this.left) return;
    this.left = true;
    this.fail?.(this.caller!.reason);
  };

  private expire(limit: number): void {
    if (this.left) return;
    this.left = true;
    this.expired = true;
    const u = this.upstream;
    const err = this.timeout(`origin ${u.name}: waited ${limit}ms for a connection, all ${u.maxConnections} busy (origin.maxConnections; origin.headersTimeoutMs bounds the wait)`);
    this.ctl.abort(err);
    this.fail?.(err);
  }

  private timeout(message: string): StrataError {
    const err = new StrataError('ORIGIN_TIMEOUT', message);
    err.upstream = this.upstream.name;
    return err;
  }
}
