// A body held whole in memory: one Buffer, streamed by range without copying.

import { Readable } from 'node:stream';
import type { Body } from './types.js';

export function memoryBody(buffer: Buffer): Body {
  return {
    size: buffer.length,
    buffer,
    stream(start = 0, end = buffer.length - 1) {
      return Readable.from([buffer.subarray(start, end + 1)], { objectMode: false });
    },
  };
}
