// Rapid reset (CVE-2023-44487): a client that opens streams and resets them at
// once makes the server start a request per stream while never having more than
// tls.http2MaxConcurrentStreams open. nghttp2's own bound (1000 resets at once,
// then 33 a second) answers with GOAWAY INTERNAL_ERROR but leaves the connection
// open until the idle timeout, unseen: here the node counts the streams a client
// reset before their answer ended, per connection, and past a budget — twice
// http2MaxConcurrentStreams at once, refilled by http2MaxConcurrentStreams a
// second — sends GOAWAY ENHANCE_YOUR_CALM and closes the connection, counted
// (protocolErrors) and logged (HTTP2_RAPID_RESET). A browser cancelling what it
// had in flight when the user navigates away stays well inside it.
//
// Costs one 'close' listener per stream, shared by the connection's streams.

import http2, { type Http2Session, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';

export interface ResetGuardOptions {
  /** Read when a connection starts: tls.http2MaxConcurrentStreams. */
  maxConcurrentStreams: () => number;
  /** The connection went over its budget and is being closed. */
  onTripped: (session: Http2Session, resets: number) => void;
  now?: () => number;
}

interface Budget {
  tokens: number;
  at: number;
  resets: number;
  readonly burst: number;
}

export class Http2ResetGuard {
  private readonly now: () => number;

  constructor(private readonly opts: ResetGuardOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Watch `session`'s streams until it closes. */
  watch(session: ServerHttp2Session): void {
    const burst = 2 * this.opts.maxConcurrentStreams();
    const budget: Budget = { tokens: burst, at: this.now(), resets: 0, burst };
    const guard = this;
    // A closed stream no longer knows its session (stream.session is undefined by then).
    const streamClosed = function (this: ServerHttp2Stream): void {
      // NO_ERROR: the answer ended (or Strata closed the stream after one, request-body.ts).
      if (this.rstCode !== undefined && this.rstCode !== http2.constants.NGHTTP2_NO_ERROR) guard.reset(session, budget);
    };
    session.on('stream', (stream: ServerHttp2Stream) => stream.once('close', streamClosed));
  }

  private reset(session: Http2Session, budget: Budget): void {
    if (session.destroyed) return;
    const now = this.now();
    // Refilled at half the burst a second: http2MaxConcurrentStreams resets a second go on for ever.
    budget.tokens = Math.min(budget.burst, budget.tokens + ((now - budget.at) * budget.burst) / 2_000);
    budget.at = now;
    budget.resets++;
    if (--budget.tokens >= 0) return;
    this.opts.onTripped(session, budget.resets);
    session.destroy(undefined, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  }
}
