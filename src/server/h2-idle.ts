// HTTP/2 connections idle for tls.http2IdleTimeoutMs are closed: a client that is
// gone, or parked. Idle as nginx counts it: with no stream open, only a new stream
// is activity — PING, SETTINGS and WINDOW_UPDATE frames are not, so a client that
// PINGs every minute cannot hold a stream-less connection forever. While streams
// are open, any byte either way counts (their own timeouts — request body, send
// timeout, origin — judge the streams); a connection whose writes are blocked
// (its client reads nothing) moves nothing and counts as idle too.
//
// Why a sweep and not node:http2's session.setTimeout: that timer is refreshed on
// every frame and stream write of the session, four to five times per request
// (~0.3 µs each), which was a measurable share of an HTTP/2 hit. Here one sweep
// (./progress-sweep.ts) looks at each session's figures — streams opened and
// closed, and while some are open its socket's bytesRead and bytesWritten —
// costing one 'close' listener per stream.

import type { ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import { ProgressSweep } from './progress-sweep.js';

interface StreamCounts {
  /** Streams open now. */
  open: number;
  /** Streams opened and closed so far: changes with every stream event. */
  events: number;
}

export class Http2IdleSessions {
  private readonly sweeper: ProgressSweep<ServerHttp2Session>;
  private readonly counts = new WeakMap<ServerHttp2Session, StreamCounts>();

  constructor(idleMs: number, now: () => number = Date.now) {
    this.sweeper = new ProgressSweep<ServerHttp2Session>({
      timeoutMs: () => idleMs,
      progress: (session) => this.activity(session),
      onStalled: (session) => session.destroy(),
      maxPeriodMs: 5_000,
      now,
    });
  }

  /** Watch `session` until it closes. */
  add(session: ServerHttp2Session): void {
    const counts: StreamCounts = { open: 0, events: 0 };
    this.counts.set(session, counts);
    const closed = (): void => {
      counts.open--;
      counts.events++;
    };
    session.on('stream', (stream: ServerHttp2Stream) => {
      counts.open++;
      counts.events++;
      stream.once('close', closed);
    });
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

  /** Close the sessions that have been idle for the timeout. */
  sweep(): void {
    this.sweeper.sweep();
  }

  /**
   * A figure that changes with activity: with streams open, the socket's bytes
   * (negative, so it never equals a stream count); with none, the stream events
   * (only a new stream moves it).
   */
  private activity(session: ServerHttp2Session): number {
    const counts = this.counts.get(session);
    if (counts && counts.open > 0) return -1 - bytesMoved(session);
    return counts?.events ?? 0;
  }
}

function bytesMoved(session: ServerHttp2Session): number {
  const socket = session.socket;
  return socket ? socket.bytesRead + socket.bytesWritten : 0;
}
