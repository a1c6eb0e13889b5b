// Buffers for whole disk-hit bodies read on the event loop (reads.ts), lent to one
// answer and reused once it no longer needs them. Why: a fresh 16 KiB buffer per
// hit was off-heap memory V8 must collect (the collector was ~14 % of the main
// thread on bench "hit 16 KiB from disk").
//
// Invariants: a buffer goes back to the pool only through its lease's release(),
// which the caller makes once no byte of it can be read any more (the socket's write
// of the answer that sent it completed, at once or later); a lease never released is
// an ordinary buffer the collector reclaims, never reused. Released at most once.
// Bounded: what is free beyond FREE_BYTES is dropped.

import { Readable } from 'node:stream';
import type { Body } from '../types.js';

/** The smallest buffer lent (bodies are rounded up to a power of two from here). */
const MIN_CLASS_BYTES = 4096;
/** Free buffers kept at most, in bytes, all sizes together. */
const FREE_BYTES = 4 * 1024 * 1024;

function classOf(size: number): number {
  let c = MIN_CLASS_BYTES;
  while (c < size) c *= 2;
  return c;
}

export class ReadBuffers {
  /** Free buffers by size class. */
  private readonly free = new Map<number, Buffer[]>();
  private freeBytes = 0;

  /** Free buffers held now (for tests). */
  get held(): number {
    return this.freeBytes;
  }

  /** A buffer of at least `size` bytes: a free one, else a new one (not from Node's shared pool). */
  take(size: number): Buffer {
    const c = classOf(size);
    const b = this.free.get(c)?.pop();
    if (b) {
      this.freeBytes -= c;
      return b;
    }
    return Buffer.allocUnsafeSlow(c);
  }

  /** A buffer no longer read by anyone. */
  give(b: Buffer): void {
    const c = b.length;
    if (this.freeBytes + c > FREE_BYTES) return;
    let list = this.free.get(c);
    if (!list) this.free.set(c, (list = []));
    list.push(b);
    this.freeBytes += c;
  }
}

/**
 * One lent buffer and the answers reading it: hits of one record in one turn of
 * the event loop share one read (reads.ts). Back to the pool when the last lets go.
 */
export class Lease {
  private refs = 1;

  constructor(
    private readonly pool: ReadBuffers,
    readonly whole: Buffer,
  ) {}

  /** One more answer reads the buffer (each calls release() once). */
  share(): this {
    this.refs++;
    return this;
  }

  release(): void {
    if (--this.refs === 0) this.pool.give(this.whole);
  }
}

/**
 * A body in a lent buffer: `buffer` is valid until release(). A class, not a
 * closure: one object per hit.
 */
export class LentBody implements Body {
  readonly buffer: Buffer;
  private lease: Lease | undefined;

  constructor(
    lease: Lease,
    readonly size: number,
  ) {
    this.lease = lease;
    this.buffer = lease.whole.length === size ? lease.whole : lease.whole.subarray(0, size);
  }

  get chunks(): readonly Buffer[] {
    return [this.buffer];
  }

  stream(start = 0, end = this.size - 1): Readable {
    return Readable.from([this.buffer.subarray(start, end + 1)], { objectMode: false });
  }

  /** No byte of the body is needed any more by this answer: once no answer needs it, its buffer may be lent again. */
  release(): void {
    const l = this.lease;
    if (l === undefined) return;
    this.lease = undefined;
    l.release();
  }
}
