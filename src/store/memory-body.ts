// A body held whole in memory: one Buffer, streamed by range without copying.
// A class, not a closure per body: the memory tier holds tens of thousands of them,
// and a closure with its context cost ~100 bytes each (CACHING.md, storage limits).

import { Readable } from 'node:stream';
import type { Body } from './types.js';

class MemoryBody implements Body {
  constructor(readonly buffer: Buffer) {}

  get size(): number {
    return this.buffer.length;
  }

  stream(start = 0, end = this.buffer.length - 1): Readable {
    return Readable.from([this.buffer.subarray(start, end + 1)], { objectMode: false });
  }
}

export function memoryBody(buffer: Buffer): Body {
  return new MemoryBody(buffer);
}
