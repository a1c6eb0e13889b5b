// nginx's send_timeout for client connections (HTTP/1.1, plain or behind TLS): a
// connection with bytes waiting that the client has not taken for
// limits.sendTimeoutMs is cut. Watched by one sweep (./progress-sweep.ts), not by
// a timer per response.
//
// Progress is the bytes the socket has finished writing (dispatched minus still
// pending): a slow client that keeps reading is never cut, one that stopped is
// cut `timeoutMs` (plus at most one sweep period) after its last progress. A
// connection with nothing waiting (its answer waits on the origin, whose own
// timeouts apply) is left alone.

import type { Duplex } from 'node:stream';
import { ProgressSweep } from './progress-sweep.js';

/** What the sweep reads of a connection: net.Socket and tls.TLSSocket both have these. */
export interface WatchedConnection extends Duplex {
  readonly bytesWritten: number;
}

export interface SendStallOptions {
  /** Read at every sweep: a reload's new limit applies to open connections too. */
  timeoutMs: () => number;
  /** Called once for a stalled connection, which the sweep then stops watching. */
  onStall: (connection: WatchedConnection, waitingBytes: number) => void;
  now?: () => number;
}

export class SendStallSweep {
  private readonly sweeper: ProgressSweep<WatchedConnection>;

  constructor(opts: SendStallOptions) {
    this.sweeper = new ProgressSweep<WatchedConnection>({
      timeoutMs: opts.timeoutMs,
      progress: (c) => (c.writableLength === 0 || c.destroyed ? undefined : c.bytesWritten - c.writableLength),
      onStalled: (c) => opts.onStall(c, c.writableLength),
      ...(opts.now ? { now: opts.now } : {}),
    });
  }

  /** Watch a connection until it closes. */
  watch(connection: WatchedConnection): void {
    this.sweeper.watch(connection);
    connection.once('close', () => this.sweeper.forget(connection));
  }

  /** One pass over the open connections (the interval's work; public for tests). */
  sweep(): void {
    this.sweeper.sweep();
  }
}
