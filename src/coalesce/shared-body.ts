// One origin body read once and handed to several consumers (the clients collapsed
// onto one fetch, and the cache fill) as it arrives. Consumers are plain callbacks,
// not streams: a herd of a thousand followers costs a write per chunk each, not a
// stream pipeline each.
//
// Memory: chunks are kept in a window. A body that fits the window is kept whole
// until it ends, so a consumer that attaches late still gets it from the first
// byte. Past the window, chunks every consumer has passed are released, no new
// consumer can attach (it would miss the start), and the slowest consumer paces
// the origin read: memory stays bounded by the window whatever the body's size.
// A consumer that can continue elsewhere (a client of a response being stored,
// which can resume from the stored copy) is detached instead of pacing the rest:
// one slow client never stalls the fill and the other clients of the object.
//
// Completeness: the end of the body (the chunk that completes an announced length,
// and the end itself) reaches clients only once `seal` resolves — the pipeline
// seals after the cache commit, so a client that holds its whole answer finds the
// entry on its next request. An origin error reaches every consumer as an error,
// never as a clean end. When every consumer has gone before the end, the origin
// transfer is stopped.

import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

/** The body was given up on purpose (e.g. to fetch it in slices): not a failure worth a warning. */
export class AbandonedError extends Error {}

export interface SharedBodyOptions {
  windowBytes: number;
  /** Announced body length, or -1. */
  expectedLength: number;
}

/** What a consumer does with the body. */
export interface ConsumerCallbacks {
  /** Take a chunk; false when it cannot take more now (it calls `more()` when it can). */
  chunk(chunk: Buffer, more: () => void): boolean;
  /** The body is complete; `last` is its final chunk when it is delivered with the end (one write for a client). */
  end(last?: Buffer): void;
  error(err: Error): void;
  /**
   * When given: called instead of holding the window back when this consumer is
   * the slowest and the window is full. The consumer is detached at that point
   * and must get the rest of the body elsewhere.
   */
  lagging?(): void;
}

interface Consumer {
  /** Absolute index of the next chunk to deliver. */
  pos: number;
  busy: boolean;
  done: boolean;
  /** The cache fill, whose commit is the seal: it sees the end before the seal. */
  readonly unsealed: boolean;
  readonly cb: ConsumerCallbacks;
}

export interface SendResult {
  /** Bytes written to the client. */
  sent: number;
  /** The body reached the client whole. */
  complete: boolean;
  /** The client fell behind the window and was detached after `sent` bytes: the caller continues it. */
  lagged?: boolean;
  error?: Error;
}

export class SharedBody {
  private readonly chunks: Buffer[] = [];
  /** Absolute index of chunks[0]. */
  private first = 0;
  private keptBytes = 0;
  private receivedBytes = 0;
  private ended = false;
  private sealed = false;
  private error?: Error;
  /** Absolute index of the chunk held back until the seal (the one completing the announced length). */
  private heldIndex = -1;
  private releasing = false;
  private paused = false;
  private started = false;
  private shedding = false;
  private abandoned = false;
  private readonly consumers = new Set<Consumer>();

  /** Resolves once the body's end may reach clients (the cache commit is over, whatever its result). */
  readonly sealedAt: Promise<void>;

  constructor(
    private readonly source: Readable,
    private readonly opts: SharedBodyOptions,
    seal: Promise<unknown>,
  ) {
    source.on('data', (chunk: Buffer) => this.onData(chunk));
    source.on('end', () => {
      this.ended = true;
      this.feedAll();
    });
    source.on('error', (err: Error) => this.fail(err));
    source.on('close', () => {
      if (!this.ended) this.fail(new Error('origin body closed before its end'));
    });
    // Reading starts with the first consumer, so no byte is lost before anyone attaches.
    source.pause();
    const onSeal = () => {
      this.sealed = true;
      this.feedAll();
    };
    this.sealedAt = seal.then(onSeal, onSeal);
  }

  /** Whether a new consumer can still get the body from its first byte. */
  get available(): boolean {
    return !this.releasing && !this.error && !(this.source.destroyed && !this.ended);
  }

  /**
   * Attach a consumer from the first byte; false when the start was already
   * released or the body failed. `unsealed`: the cache fill.
   */
  consume(cb: ConsumerCallbacks, unsealed = false): (() => void) | undefined {
    if (!this.available) return undefined;
    const c: Consumer = { pos: this.first, busy: false, done: false, unsealed, cb };
    this.consumers.add(c);
    if (!this.started) {
      this.started = true;
      this.source.resume();
    }
    this.feed(c);
    return () => this.detach(c);
  }

  /**
   * Stream the body to a client with backpressure. Resolves when the body was
   * sent whole, the client went away, or the origin failed (the client's
   * connection is then cut, never ended cleanly). Undefined when the start of the
   * body is no longer available. `tally` counts the bytes as they are written.
   */
  sendTo(res: ServerResponse, canResume: boolean, tally: { bytes: number }): Promise<SendResult> | undefined {
    if (res.destroyed) return Promise.resolve({ sent: 0, complete: false });
    let sent = 0;
    let settle!: (r: SendResult) => void;
    const result = new Promise<SendResult>((r) => (settle = r));
    let waiting: (() => void) | undefined;
    const detach = this.consume({
      chunk: (chunk, more) => {
        sent += chunk.length;
        // Counted as written, not when the promise settles: the access line may be written first.
        tally.bytes += chunk.length;
        if (res.write(chunk)) return true;
        waiting = more;
        res.once('drain', more);
        return false;
      },
      // `canResume`: the caller can continue this client from elsewhere (the stored copy).
      ...(canResume
        ? {
            lagging: () => {
              if (waiting) res.off('drain', waiting);
              res.off('close', onClose);
              settle({ sent, complete: false, lagged: true });
            },
          }
        : {}),
      end: (last) => {
        res.off('close', onClose);
        if (last) {
          sent += last.length;
          tally.bytes += last.length;
        }
        res.end(last);
        settle({ sent, complete: true });
      },
      error: (err) => {
        res.off('close', onClose);
        res.destroy();
        settle({ sent, complete: false, error: err });
      },
    });
    if (!detach) return undefined;
    // The client went away: stop reading for it.
    const onClose = () => {
      detach();
      settle({ sent, complete: false });
    };
    if (!res.writableEnded) res.once('close', onClose);
    return result;
  }

  /**
   * Stop the origin transfer, unless a client is reading it: the fill (if any)
   * fails with `why` and stores nothing. True when stopped.
   */
  abandon(why: string): boolean {
    // Idempotent: every client collapsed onto the fetch asks, and all get the same answer.
    if (this.abandoned) return true;
    if (this.ended || this.error) return false;
    for (const c of this.consumers) if (!c.unsealed) return false;
    this.abandoned = true;
    this.fail(new AbandonedError(why));
    this.source.destroy();
    return true;
  }

  /** Stop the origin transfer if nobody reads it (a late check after every client chose). */
  abandonIfUnread(): void {
    if (this.consumers.size === 0 && !this.ended) this.source.destroy();
  }

  private onData(chunk: Buffer): void {
    this.receivedBytes += chunk.length;
    this.chunks.push(chunk);
    this.keptBytes += chunk.length;
    if (this.receivedBytes === this.opts.expectedLength) this.heldIndex = this.first + this.chunks.length - 1;
    this.feedAll();
    if (this.keptBytes > this.opts.windowBytes) this.shedLaggards();
    if (this.keptBytes > this.opts.windowBytes && !this.paused && !this.ended) {
      this.paused = true;
      this.source.pause();
    }
  }

  private fail(err: Error): void {
    if (this.error || this.ended) return;
    this.error = err;
    this.chunks.length = 0;
    this.keptBytes = 0;
    for (const c of [...this.consumers]) {
      this.consumers.delete(c);
      c.done = true;
      c.cb.error(err);
    }
  }

  private feedAll(): void {
    for (const c of this.consumers) if (!c.busy) this.feed(c, false);
    this.release();
  }

  /** Deliver what `c` has not had yet, as far as it takes it. */
  private feed(c: Consumer, release = true): void {
    if (c.done) return;
    const end = this.first + this.chunks.length;
    const canEnd = this.ended && (this.sealed || c.unsealed);
    while (c.pos < end && !c.busy) {
      if (c.pos === this.heldIndex && !this.sealed && !c.unsealed) break;
      const chunk = this.chunks[c.pos - this.first]!;
      c.pos++;
      if (c.pos === end && canEnd) {
        // The final chunk goes with the end: a client's answer finishes in one write.
        c.done = true;
        this.consumers.delete(c);
        c.cb.end(chunk);
        if (release) this.release();
        return;
      }
      if (!c.cb.chunk(chunk, () => this.more(c))) c.busy = true;
    }
    if (!c.busy && c.pos === end && this.ended && (this.sealed || c.unsealed)) {
      c.done = true;
      this.consumers.delete(c);
      c.cb.end();
    }
    if (release) this.release();
  }

  private more(c: Consumer): void {
    c.busy = false;
    this.feed(c);
  }

  private detach(c: Consumer): void {
    if (c.done) return;
    c.done = true;
    this.consumers.delete(c);
    if (this.consumers.size === 0 && !this.ended && !this.error) {
      // Nobody needs the rest: stop the origin transfer.
      this.source.destroy();
      return;
    }
    this.release();
  }

  /**
   * The window is full: detach the slowest consumers that can continue elsewhere,
   * as long as they are what holds the window back.
   */
  private shedLaggards(): void {
    if (this.shedding) return;
    this.shedding = true;
    try {
      this.shedWhileFull();
    } finally {
      this.shedding = false;
    }
  }

  private shedWhileFull(): void {
    while (this.keptBytes > this.opts.windowBytes) {
      let slowest = this.first + this.chunks.length;
      for (const c of this.consumers) slowest = Math.min(slowest, c.pos);
      const laggards = [...this.consumers].filter((c) => c.pos === slowest && c.cb.lagging);
      if (laggards.length === 0 || laggards.length === this.consumers.size) return;
      for (const c of laggards) {
        c.done = true;
        this.consumers.delete(c);
        c.cb.lagging!();
      }
      this.release();
    }
  }

  /** Past the window, drop the chunks every consumer has passed; resume the origin when there is room. */
  private release(): void {
    if (this.keptBytes > this.opts.windowBytes || this.releasing) {
      let slowest = this.first + this.chunks.length;
      for (const c of this.consumers) slowest = Math.min(slowest, c.pos);
      const drop = slowest - this.first;
      if (drop > 0) {
        this.releasing = true;
        for (let i = 0; i < drop; i++) this.keptBytes -= this.chunks[i]!.length;
        this.chunks.splice(0, drop);
        this.first += drop;
      }
    }
    // Paused on the fill's pace, then held by a client that can continue elsewhere.
    if (this.paused && this.keptBytes > this.opts.windowBytes) this.shedLaggards();
    if (this.paused && this.keptBytes <= this.opts.windowBytes) {
      this.paused = false;
      this.source.resume();
    }
  }
}

/**
 * A shared body as a Readable from its first byte, or undefined once that is gone.
 * Slices are read by a few streams in turn (the fill, the answers reading them),
 * so a stream per consumer costs little here and keeps the reading code linear.
 */
export function readerOf(body: SharedBody, unsealed = false): Readable | undefined {
  let more: (() => void) | undefined;
  let detach: (() => void) | undefined;
  const r = new Readable({
    read() {
      const m = more;
      more = undefined;
      m?.();
    },
    destroy(err, cb) {
      detach?.();
      cb(err);
    },
  });
  detach = body.consume(
    {
      chunk: (chunk, next) => {
        if (r.push(chunk)) return true;
        more = next;
        return false;
      },
      end: (last) => {
        if (last) r.push(last);
        r.push(null);
      },
      error: (err) => r.destroy(err),
    },
    unsealed,
  );
  return detach ? r : undefined;
}
