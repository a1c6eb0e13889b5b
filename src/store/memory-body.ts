// A body held whole in memory: one Buffer, streamed by range without copying.
// A class, not an object literal with a method: one object per stored entry, no
// closure (the memory tier keeps one per entry, and a miss storm makes thousands).

import { Readable } from 'node:stream';
import type { Body } from './types.js';

class MemoryBody implements Body {
  readonly size: number;

  constructor(readonly buffer: Buffer) {
    this.size = buffer.length;
  }

  stream(start = 0, end = this.buffer.length - 1): Readable {
    return Readable.from([this.buffer.subarray(start, end + 1)], { objectMode: false });
  }
}

export function memoryBody(buffer: Buffer): Body {
  return new MemoryBody(buffer);
}
