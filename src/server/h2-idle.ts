// HTTP/2 connections with no byte in either direction for tls.http2IdleTimeoutMs
// are closed: a client that is gone, or parked. (A connection whose writes are
// blocked — its client reads nothing — counts as idle too: nothing moves.)
//
// Why a sweep and not node:http2's session.setTimeout: that timer is refreshed on
// every frame and stream write of the session, four to five times per request
// (~0.3 µs each), which was a measurable share of an HTTP/2 hit. Here one timer
// per listener looks at each session's byte counters (its socket's bytesRead and
// bytesWritten, which HTTP/2 traffic moves, PINGs included) every quarter of the
// timeout: nothing per request.

import type { ServerHttp2Session } from 'node:http2';

interface Seen {
  bytes: number;
  since: number;
}

export class Http2IdleSessions {
  private readonly sessions = new Map<ServerHttp2Session, Seen>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly idleMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => this.sweep(), Math.min(5_000, Math.max(25, Math.floor(idleMs / 4))));
    this.timer.unref();
  }

  /** Watch `session` until it closes. */
  add(session: ServerHttp2Session): void {
    this.sessions.set(session, { bytes: bytesMoved(session), since: this.now() });
    session.once('close', () => this.sessions.delete(session));
  }

  /** Every session watched now. */
  all(): IterableIterator<ServerHttp2Session> {
    return this.sessions.keys();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Close the sessions whose byte counters have not moved for the idle timeout. */
  sweep(): void {
    const now = this.now();
    for (const [session, seen] of this.sessions) {
      const bytes = bytesMoved(session);
      if (bytes !== seen.bytes) {
        seen.bytes = bytes;
        seen.since = now;
      } else if (now - seen.since >= this.idleMs) {
        this.sessions.delete(session);
        session.destroy();
      }
    }
  }
}

function bytesMoved(session: ServerHttp2Session): number {
  const socket = session.socket;
  return socket ? socket.bytesRead + socket.bytesWritten : -1;
}
