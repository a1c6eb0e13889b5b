// nginx's send_timeout for client connections: a connection with bytes waiting
// that the client has not taken for limits.sendTimeoutMs is cut. Checked by one
// sweep over the open connections a few times per timeout, not by a timer per
// response: arming a socket timer for each answer cost about 1.2 µs of a ~20 µs
// memory hit (bench/RESULTS.md), and Node's keep-alive handling clears a
// connection's own timer on every request anyway.
//
// Progress is the bytes the socket has finished writing (dispatched minus still
// pending): a slow client that keeps reading is never cut, one that stopped is
// cut `timeoutMs` (plus at most one sweep period) after its last progress. A
// connection with nothing waiting (its answer waits on the origin, whose own
// timeouts apply) is left alone.

import type { Duplex } from 'node:stream';

/** What the sweep reads of a connection: net.Socket and tls.TLSSocket both have these. */
export interface WatchedConnection extends Duplex {
  readonly bytesWritten: number;
}

interface Progress {
  /** Bytes whose writes had completed at the last sweep that saw progress. */
  done: number;
  /** When that was (ms); -1 while nothing is waiting. */
  since: number;
}

export interface SendStallOptions {
  /** Read at every sweep: a reload's new limit applies to open connections too. */
  timeoutMs: () => number;
  /** Called once for a stalled connection, which the sweep then stops watching. */
  onStall: (connection: WatchedConnection, waitingBytes: number) => void;
  now?: () => number;
}

export class SendStallSweep {
  private readonly watched = new Map<WatchedConnection, Progress>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: SendStallOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  /** Watch a connection until it closes. */
  watch(connection: WatchedConnection): void {
    this.watched.set(connection, { done: 0, since: -1 });
    connection.once('close', () => this.forget(connection));
    if (this.timer === undefined) {
      // A few sweeps per timeout; at least every second, at most every 50 ms.
      const period = Math.min(1_000, Math.max(50, Math.floor(this.opts.timeoutMs() / 4)));
      this.timer = setInterval(() => this.sweep(), period);
      this.timer.unref();
    }
  }

  private forget(connection: WatchedConnection): void {
    this.watched.delete(connection);
    if (this.watched.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** One pass over the open connections (the interval's work; public for tests). */
  sweep(): void {
    const now = this.now();
    const limit = this.opts.timeoutMs();
    for (const [connection, p] of this.watched) {
      const waiting = connection.writableLength;
      if (waiting === 0 || connection.destroyed) {
        p.since = -1;
        continue;
      }
      const done = connection.bytesWritten - waiting;
      if (p.since < 0 || done !== p.done) {
        p.done = done;
        p.since = now;
      } else if (now - p.since >= limit) {
        this.forget(connection);
        this.opts.onStall(connection, waiting);
      }
    }
  }
}
