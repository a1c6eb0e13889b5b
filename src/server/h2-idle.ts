// HTTP/2 connections with no byte in either direction for tls.http2IdleTimeoutMs
// are closed: a client that is gone, or parked. (A connection whose writes are
// blocked — its client reads nothing — counts as idle too: nothing moves.)
//
// Why a sweep and not node:http2's session.setTimeout: that timer is refreshed on
// every frame and stream write of the session, four to five times per request
// (~0.3 µs each), which was a measurable share of an HTTP/2 hit. Here one sweep
// (./progress-sweep.ts) looks at each session's byte counters (its socket's
// bytesRead and bytesWritten, which HTTP/2 traffic moves, PINGs included): nothing
// per request.

import type { ServerHttp2Session } from 'node:http2';
import { ProgressSweep } from './progress-sweep.js';

export class Http2IdleSessions {
  private readonly sweeper: ProgressSweep<ServerHttp2Session>;

  constructor(idleMs: number, now: () => number = Date.now) {
    this.sweeper = new ProgressSweep<ServerHttp2Session>({
      timeoutMs: () => idleMs,
      progress: bytesMoved,
      onStalled: (session) => session.destroy(),
      maxPeriodMs: 5_000,
      now,
    });
  }

  /** Watch `session` until it closes. */
  add(session: ServerHttp2Session): void {
    this.sweeper.watch(session);
    session.once('close', () => this.sweeper.forget(session));
  }

  /** Every session watched now. */
  all(): IterableIterator<ServerHttp2Session> {
    return this.sweeper.items();
  }

  stop(): void {
    this.sweeper.stop();
  }

  /** Close the sessions whose byte counters have not moved for the idle timeout. */
  sweep(): void {
    this.sweeper.sweep();
  }
}

function bytesMoved(session: ServerHttp2Session): number {
  const socket = session.socket;
  return socket ? socket.bytesRead + socket.bytesWritten : -1;
}
