// The cancellation of an origin request, made for each miss. Why not AbortController:
// on Node 20 each one builds an EventTarget (createAbortSignal, ~4 µs), a miss made two
// (its clients' interest and its deadlines), and that was ~2 % of a miss's main-thread
// CPU (bench/RESULTS.md). This is a plain object, which undici takes as a request's
// `signal` (undiciSignal below). A real AbortSignal is a CancelSignal too.

/** What the request path reads of a signal: a real AbortSignal has all of it. */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * A signal and its abort(), in one object: it is passed as the signal itself. Listeners run once,
 * in the order added, as an AbortSignal's do.
 */
export class Canceller implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] | undefined;

  /**
   * Aborted with `source`'s reason when it aborts (at once if it has). Not AbortSignal.any: that
   * costs ~35 µs a call on Node 20 (weak references to every source). The forwarding listener is
   * never removed: callers follow a signal that is their request's own, gone with it.
   */
  follow(source: CancelSignal | undefined): this {
    if (source?.aborted) this.abort(source.reason);
    else source?.addEventListener('abort', () => this.abort(source.reason), { once: true });
    return this;
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const l = this.listeners;
    if (l === undefined) return;
    const i = l.indexOf(listener);
    if (i >= 0) l.splice(i, 1);
  }

  /** As AbortController.abort(): the first call decides the reason (an AbortError if none is given). */
  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason;
    const l = this.listeners;
    this.listeners = undefined;
    if (l === undefined) return;
    // As an EventTarget does, a listener that throws does not keep the others from running.
    let failed: { err: unknown } | undefined;
    for (const f of l) {
      try {
        f();
      } catch (err) {
        failed ??= { err };
      }
    }
    if (failed) throw failed.err;
  }
}

/**
 * `signal` as undici's request options type it (an AbortSignal or an EventEmitter): undici reads
 * only what a CancelSignal has (lib/core/util.js addAbortListener, api-request.js).
 */
export function undiciSignal(signal: CancelSignal): AbortSignal {
  return signal as AbortSignal;
}
