// One origin body read once and handed to several readers (the clients collapsed
// onto one fetch, and the cache fill) as it arrives.
//
// Memory: chunks are kept in a window. A body that fits the window is kept whole
// until it ends, so a reader that attaches late still gets it from the first byte.
// Past the window, chunks every reader has passed are released, no new reader can
// attach (it would miss the start), and the slowest reader paces the origin read:
// memory stays bounded by the window whatever the body's size.
//
// Completeness: the end of the body (the chunk that completes an announced length,
// and the end-of-stream) reaches readers only once `seal` resolves — the pipeline
// seals after the cache commit, so a client that holds its whole answer finds the
// entry on its next request. An origin error reaches every reader as an error,
// never as a clean end. When every reader has gone before the end, the origin
// transfer is stopped.

import { Readable } from 'node:stream';

export interface SharedBodyOptions {
  windowBytes: number;
  /** Announced body length, or -1. */
  expectedLength: number;
}

class BodyReader extends Readable {
  /** Absolute index of the next chunk to push. */
  pos = 0;
  waiting = false;

  /** `unsealed`: the cache fill itself, which must see the end before the seal. */
  constructor(
    private readonly owner: SharedBody,
    readonly unsealed: boolean,
  ) {
    super();
  }

  override _read(): void {
    this.waiting = true;
    this.owner.feed(this);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.owner.detach(this);
    cb(err);
  }
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
  /** Absolute index of a chunk held back until the seal (the one completing the announced length). */
  private heldIndex = -1;
  private releasing = false;
  private paused = false;
  private started = false;
  private readonly readers = new Set<BodyReader>();

  constructor(
    private readonly source: Readable,
    private readonly opts: SharedBodyOptions,
    seal: Promise<unknown>,
  ) {
    source.on('data', (chunk: Buffer) => this.onData(chunk));
    source.on('end', () => {
      this.ended = true;
      this.wakeAll();
    });
    source.on('error', (err: Error) => this.fail(err));
    source.on('close', () => {
      if (!this.ended && !this.error) this.fail(new Error('origin body closed before its end'));
    });
    // Reading starts with the first reader, so no byte is lost before anyone attaches.
    source.pause();
    void seal.then(
      () => {
        this.sealed = true;
        this.wakeAll();
      },
      () => {
        this.sealed = true;
        this.wakeAll();
      },
    );
  }

  /** Bytes received from the origin so far. */
  get received(): number {
    return this.receivedBytes;
  }

  /**
   * A new reader from the first byte, or undefined when the start was already
   * released or the body failed. `unsealed`: for the cache fill, whose commit is the seal.
   */
  reader(unsealed = false): Readable | undefined {
    if (this.releasing || this.error || (this.source.destroyed && !this.ended)) return undefined;
    const r = new BodyReader(this, unsealed);
    r.pos = this.first;
    this.readers.add(r);
    if (!this.started) {
      this.started = true;
      this.source.resume();
    }
    return r;
  }

  /** Stop the origin transfer if nobody reads it (a late check after everyone chose). */
  abandonIfUnread(): void {
    if (this.readers.size === 0 && !this.ended) this.source.destroy();
  }

  private onData(chunk: Buffer): void {
    this.receivedBytes += chunk.length;
    this.chunks.push(chunk);
    this.keptBytes += chunk.length;
    if (this.receivedBytes === this.opts.expectedLength) this.heldIndex = this.first + this.chunks.length - 1;
    this.wakeAll();
    this.release();
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
    for (const r of this.readers) r.destroy(err);
  }

  private wakeAll(): void {
    for (const r of this.readers) if (r.waiting) this.feed(r);
  }

  /** Push what `r` has not had yet, as far as it accepts. */
  feed(r: BodyReader): void {
    if (this.error) {
      r.destroy(this.error);
      return;
    }
    const end = this.first + this.chunks.length;
    while (r.pos < end) {
      if (r.pos === this.heldIndex && !this.sealed && !r.unsealed) return;
      const chunk = this.chunks[r.pos - this.first]!;
      r.pos++;
      r.waiting = false;
      if (!r.push(chunk)) break;
      r.waiting = true;
    }
    if (r.pos === end && this.ended && (this.sealed || r.unsealed)) {
      r.waiting = false;
      r.push(null);
    }
    this.release();
  }

  detach(r: BodyReader): void {
    if (!this.readers.delete(r)) return;
    if (this.readers.size === 0 && !this.ended && !this.error) {
      // Nobody needs the rest: stop the origin transfer.
      this.source.destroy();
      return;
    }
    this.release();
  }

  /** Past the window, drop the chunks every reader has passed; resume the origin when there is room. */
  private release(): void {
    if (this.keptBytes > this.opts.windowBytes || this.releasing) {
      let slowest = Infinity;
      for (const r of this.readers) slowest = Math.min(slowest, r.pos);
      if (slowest === Infinity) slowest = this.first + this.chunks.length;
      const drop = Math.min(slowest - this.first, this.chunks.length);
      if (drop > 0) {
        this.releasing = true;
        for (let i = 0; i < drop; i++) this.keptBytes -= this.chunks[i]!.length;
        this.chunks.splice(0, drop);
        this.first += drop;
      }
    }
    if (this.paused && this.keptBytes <= this.opts.windowBytes) {
      this.paused = false;
      this.source.resume();
    }
  }
}
