// A body held whole in memory: one Buffer, or the few chunks it arrived in (a miss
// of a larger body: joining them would allocate and copy the whole body once more,
// and under a miss storm those allocations are what drives V8's major collections).
// Streamed by range without copying; joined into one Buffer only when a caller asks
// for `buffer` (the first hit that answers from it), then kept joined.
// A class, not an object literal with a method: no closure per stored entry.

import { Readable } from 'node:stream';
import type { Body } from '../types.js';

/** Exported to be extended: the memory tier's entry record is its own body (memory-entry.ts), one object fewer per entry. */
export class MemoryBody implements Body {
  readonly size: number;
  private whole: Buffer | undefined;
  private parts: readonly Buffer[] | undefined;

  constructor(body: Buffer | readonly Buffer[]) {
    if (Buffer.isBuffer(body)) {
      this.whole = body;
      this.size = body.length;
    } else {
      this.parts = body;
      let size = 0;
      for (const p of body) size += p.length;
      this.size = size;
    }
  }

  get buffer(): Buffer {
    if (!this.whole) {
      this.whole = Buffer.concat(this.parts!, this.size);
      this.parts = undefined;
    }
    return this.whole;
  }

  get chunks(): readonly Buffer[] {
    return this.whole ? [this.whole] : this.parts!;
  }

  stream(start = 0, end = this.size - 1): Readable {
    if (this.whole) return Readable.from([this.whole.subarray(start, end + 1)], { objectMode: false });
    const out: Buffer[] = [];
    let at = 0;
    for (const p of this.parts!) {
      const from = Math.max(start - at, 0);
      const to = Math.min(end + 1 - at, p.length);
      if (from < to) out.push(p.subarray(from, to));
      at += p.length;
    }
    return Readable.from(out, { objectMode: false });
  }
}

/** A body of one Buffer, or of the chunks it arrived in (in order; none may be written to again). */
export function memoryBody(body: Buffer | readonly Buffer[]): Body {
  return new MemoryBody(body);
}
