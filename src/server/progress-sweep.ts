// One periodic look at things that must keep moving: a client connection with
// bytes waiting (send timeout, ./send-stall.ts), an HTTP/2 stream with bytes
// queued (./h2-send-timeout.ts), an HTTP/2 session (idle timeout, ./h2-idle.ts).
// Each is watched through a progress figure that changes whenever it moves; one
// whose figure stays the same for the timeout is reported, once, and forgotten.
//
// Why a sweep and not a timer per thing: arming or refreshing a socket or session
// timer on every answer cost about a microsecond of a ~20 µs memory hit
// (bench/RESULTS.md), and Node's keep-alive handling clears a connection's own
// timer on every request anyway. The sweep runs a few times per timeout, only
// while something is watched, and costs nothing per request.

interface Seen {
  /** The progress figure at the last change; undefined while nothing is waiting. */
  figure: number | undefined;
  /** When it last changed (ms); -1 while nothing is waiting. */
  since: number;
}

export interface ProgressSweepOptions<T> {
  /** Read at every sweep: a reload's new limit applies to what is watched already. */
  timeoutMs: () => number;
  /** A figure that changes whenever `item` moves; undefined when nothing is waiting (not timed). */
  progress: (item: T) => number | undefined;
  /** `item` did not move for the timeout; the sweep has stopped watching it. */
  onStalled: (item: T) => void;
  /** Longest time between sweeps (ms); a quarter of the timeout otherwise, at least 25 ms. */
  maxPeriodMs?: number;
  now?: () => number;
}

export class ProgressSweep<T extends object> {
  private readonly watched = new Map<T, Seen>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: ProgressSweepOptions<T>) {
    this.now = opts.now ?? (() => performance.now());
  }

  /** Watch `item` until forget() (call it when the item closes) or its report; false if watched already. */
  watch(item: T): boolean {
    if (this.watched.has(item)) return false;
    const figure = this.opts.progress(item);
    this.watched.set(item, { figure, since: figure === undefined ? -1 : this.now() });
    if (this.timer === undefined) {
      const period = Math.min(this.opts.maxPeriodMs ?? 1_000, Math.max(25, Math.floor(this.opts.timeoutMs() / 4)));
      this.timer = setInterval(() => this.sweep(), period);
      this.timer.unref();
    }
    return true;
  }

  forget(item: T): void {
    this.watched.delete(item);
    if (this.watched.size === 0) this.stop();
  }

  /** Everything watched now. */
  items(): IterableIterator<T> {
    return this.watched.keys();
  }

  get size(): number {
    return this.watched.size;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass (the interval's work; public for tests). */
  sweep(): void {
    const now = this.now();
    const limit = this.opts.timeoutMs();
    for (const [item, seen] of this.watched) {
      const figure = this.opts.progress(item);
      if (figure === undefined) {
        seen.figure = undefined;
        seen.since = -1;
      } else if (seen.since < 0 || figure !== seen.figure) {
        seen.figure = figure;
        seen.since = now;
      } else if (now - seen.since >= limit) {
        this.forget(item);
        this.opts.onStalled(item);
      }
    }
  }
}
