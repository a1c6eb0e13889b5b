// nginx's send_timeout for HTTP/2 streams: a stream with bytes waiting that its
// client has taken none of for limits.sendTimeoutMs is reset (RST_STREAM CANCEL),
// which releases what its answer held (an origin transfer, buffers) as a client
// going away does. When the whole connection is blocked (the client's
// connection-level flow-control window is exhausted: no stream of it can move),
// the connection is closed instead.
//
// Costs nothing per request: a stream is watched only once a write to it met
// backpressure (h2-response.ts calls watch()); answers that go out at once (a
// small hit) are never seen here. One timer per listener sweeps the watched
// streams every quarter of the timeout, and runs only while some are watched.
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

/** Largest piece a write is queued in (the unit in which progress is seen). */
export const SLICE_BYTES = 64 * 1024;

/** What the watcher reads of a response (StrataHttp2Response). */
export interface WatchedResponse {
  readonly stream: ServerHttp2Stream;
  /** Writes made to the response so far. */
  readonly writes: number;
  on(event: 'close', listener: () => void): unknown;
}

interface Seen {
  level: number;
  writes: number;
  since: number;
}

export interface SendTimeoutOptions {
  /** Read at each sweep: a reload may change it. */
  timeoutMs: () => number;
  logger: Logger;
  onCut?: () => void;
  now?: () => number;
}

export class Http2SendTimeout {
  private readonly watched = new Map<WatchedResponse, Seen>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  /** One listener for every watched response (no closure per response). */
  private readonly forget: (this: WatchedResponse) => void;

  constructor(private readonly opts: SendTimeoutOptions) {
    this.now = opts.now ?? Date.now;
    const watched = this.watched;
    this.forget = function (this: WatchedResponse) {
      watched.delete(this);
    };
  }

  /** Watch `res` from its first write that met backpressure until it closes. */
  watch(res: WatchedResponse): void {
    if (this.watched.has(res) || res.stream.destroyed) return;
    // Queued pieces go to the stream one at a time, so the queue shrinks as the client takes each (see the header).
    (res.stream as { _writev?: unknown })._writev = null;
    this.watched.set(res, { level: res.stream.bufferSize, writes: res.writes, since: this.now() });
    res.on('close', this.forget);
    this.timer ??= this.startSweeping();
  }

  /** Streams watched now (tests, stats). */
  get size(): number {
    return this.watched.size;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private startSweeping(): NodeJS.Timeout {
    const period = Math.min(5_000, Math.max(50, Math.floor(this.opts.timeoutMs() / 4)));
    const t = setInterval(() => this.sweep(), period);
    t.unref();
    return t;
  }

  /** Look at every watched stream once; cut those that took nothing for the timeout. */
  sweep(): void {
    const now = this.now();
    const timeoutMs = this.opts.timeoutMs();
    for (const [res, seen] of this.watched) {
      const stream = res.stream;
      if (stream.destroyed) {
        this.watched.delete(res);
        continue;
      }
      const level = stream.bufferSize;
      if (level === 0 || level !== seen.level || res.writes !== seen.writes) {
        seen.level = level;
        seen.writes = res.writes;
        seen.since = now;
        continue;
      }
      if (now - seen.since < timeoutMs) continue;
      this.watched.delete(res);
      this.cut(stream, level, timeoutMs);
    }
    if (this.watched.size === 0) this.stop();
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
