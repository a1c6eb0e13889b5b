// nginx's send_timeout for HTTP/2 streams: a stream with bytes waiting that its
// client has taken none of for limits.sendTimeoutMs is reset (RST_STREAM CANCEL),
// which releases what its answer held (an origin transfer, buffers) as a client
// going away does. When the whole connection is blocked (the client's
// connection-level flow-control window is exhausted: no stream of it can move),
// the connection is closed instead.
//
// Costs almost nothing per request: a stream is watched once a write to it met
// backpressure (h2-response.ts calls watch()), or when its answer, ended, still
// has bytes queued SETTLE_MS later (settle()): an answer under the stream's
// high-water mark (16 KiB) never meets backpressure, and a client that keeps its
// window closed (SETTINGS_INITIAL_WINDOW_SIZE 0, no WINDOW_UPDATE) held such a
// stream, and its slot in http2MaxConcurrentStreams, for as long as it PINGed.
// Ended answers wait in one list for one timer (no timer or listener each), and
// answers that went out at once (a small hit) are dropped from it unwatched. One
// sweep (./progress-sweep.ts) looks at the watched streams.
//
// Progress is read from the stream's own queue (bufferSize: bytes written and not
// yet taken by the client) and the count of writes to it: the same level and no
// write since the last look means the client took nothing. A write of more than
// SLICE_BYTES is cut into slices (h2-response.ts), and a watched stream writes its
// queued slices one by one, so a slow client that keeps reading a large answer
// (a multi-MiB memory hit is one write) shows progress slice by slice and is
// never mistaken for a stalled one.

import http2, { type ServerHttp2Stream } from 'node:http2';
import type { Logger } from 'pino';
import { ProgressSweep } from './progress-sweep.js';

/** Largest piece a write is queued in (the unit in which progress is seen). */
export const SLICE_BYTES = 64 * 1024;

/** How long after its end an answer's queue is looked at (short: the list holds every answer ended meanwhile). */
export const SETTLE_MS = 100;

/** What the watcher reads of a response (StrataHttp2Response). */
export interface WatchedResponse {
  readonly stream: ServerHttp2Stream;
  /** Writes made to the response so far. */
  readonly writes: number;
  on(event: 'close', listener: () => void): unknown;
}

export interface SendTimeoutOptions {
  /** Read at each sweep: a reload may change it. */
  timeoutMs: () => number;
  logger: Logger;
  onCut?: () => void;
  now?: () => number;
}

/**
 * The progress figure of a watched stream: its queued bytes and its count of
 * writes in one number (exact while the count stays below 2^21 — 128 GiB in
 * 64 KiB slices); undefined once nothing is queued or the stream is gone.
 */
function streamProgress(res: WatchedResponse): number | undefined {
  const level = res.stream.destroyed ? 0 : res.stream.bufferSize;
  return level === 0 ? undefined : level + res.writes * 2 ** 32;
}

export class Http2SendTimeout {
  private readonly sweeper: ProgressSweep<WatchedResponse>;
  /** One listener for every watched response (no closure per response). */
  private readonly forget: (this: WatchedResponse) => void;
  /** Answers ended within the last SETTLE_MS (settle()). */
  private ended: WatchedResponse[] = [];
  private settleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: SendTimeoutOptions) {
    const sweeper = (this.sweeper = new ProgressSweep<WatchedResponse>({
      timeoutMs: opts.timeoutMs,
      progress: streamProgress,
      // Logged as writableLength: bufferSize counts the bytes handed to the session twice (Node 20 adds
      // its write queue to writableLength, which holds them until written), so an 8000-byte answer read 16000.
      onStalled: (res) => this.cut(res.stream, res.stream.writableLength, opts.timeoutMs()),
      maxPeriodMs: 5_000,
      ...(opts.now ? { now: opts.now } : {}),
    }));
    this.forget = function (this: WatchedResponse) {
      sweeper.forget(this);
    };
  }

  /** Watch `res` from its first write that met backpressure until it closes. */
  watch(res: WatchedResponse): void {
    if (res.stream.destroyed) return;
    // Queued pieces go to the stream one at a time, so the queue shrinks as the client takes each (see the header).
    (res.stream as { _writev?: unknown })._writev = null;
    if (this.sweeper.watch(res)) res.on('close', this.forget);
  }

  /**
   * `res` was ended: SETTLE_MS later, watch it if bytes of it still wait on the
   * client (its window stayed closed); by then an answer that could go has gone.
   */
  settle(res: WatchedResponse): void {
    this.ended.push(res);
    if (this.settleTimer === undefined) {
      this.settleTimer = setTimeout(() => this.settleEnded(), SETTLE_MS);
      this.settleTimer.unref();
    }
  }

  /** Streams watched now (tests, stats). */
  get size(): number {
    return this.sweeper.size;
  }

  stop(): void {
    clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
    this.ended = [];
    this.sweeper.stop();
  }

  private settleEnded(): void {
    this.settleTimer = undefined;
    const ended = this.ended;
    this.ended = [];
    for (const res of ended) {
      const stream = res.stream;
      if (!stream.closed && !stream.destroyed && stream.bufferSize > 0) this.watch(res);
    }
  }

  /** Look at every watched stream once; cut those that took nothing for the timeout. */
  sweep(): void {
    this.sweeper.sweep();
  }

  private cut(stream: ServerHttp2Stream, waitingBytes: number, timeoutMs: number): void {
    const session = stream.session;
    const blocked = session !== undefined && session.state.remoteWindowSize === 0;
    this.opts.logger.info(
      { remote: session?.socket?.remoteAddress, waitingBytes, sendTimeoutMs: timeoutMs, cut: blocked ? 'connection' : 'stream' },
      blocked ? 'HTTP/2 client took no bytes within the send timeout and its connection window is closed; connection cut' : 'HTTP/2 client took no bytes of a stream within the send timeout; stream reset',
    );
    this.opts.onCut?.();
    if (blocked) {
      session.destroy();
      return;
    }
    // RST_STREAM CANCEL, then drop the stream here at once: the frame may never
    // leave a socket the client does not read, and what the stream holds must not wait for it.
    stream.close(http2.constants.NGHTTP2_CANCEL);
    stream.destroy();
  }
}
