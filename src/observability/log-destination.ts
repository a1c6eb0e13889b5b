// The node's log destination: one ordered byte stream (a file descriptor or
// path) for pino's lines and the access log's batches.
//
// Why not pino's own destination: it takes strings, and the access log makes
// bytes (access-log.ts writes each line straight into a batch buffer). A string
// destination would need the batch turned back into a string, then encoded to
// bytes for the write and once more after it (sonic-boom's release step), each
// a fresh 256 KiB allocation. Here the batch is handed over as it is and pino's
// rare lines are encoded once each. The same sonic-boom does the writing
// (ordering, partial writes, EAGAIN, a synchronous flush at exit), in its byte
// mode.

import pino from 'pino';

/** A destination that takes whole lines as bytes besides pino's strings. */
export interface ByteLogDestination {
  /** pino's line (UTF-8). */
  write(line: string): boolean;
  /** Whole lines as bytes; the buffer is the destination's from now on (never written to again). */
  writeBytes(bytes: Buffer): boolean;
  flush(cb?: (err?: Error) => void): void;
  flushSync(): void;
}

/** True when `sink` takes byte batches (the node's own destination); a test's capturing stream takes strings. */
export function takesBytes(sink: object): sink is ByteLogDestination {
  return typeof (sink as Partial<ByteLogDestination>).writeBytes === 'function';
}

/** Lines to `dest` (1 for stdout, or a file path), written asynchronously and flushed synchronously at exit. */
export function byteLogDestination(dest: number | string): ByteLogDestination {
  // pino.destination registers the flush at process exit; contentMode 'buffer' makes it take Buffers.
  // minLength 1 writes every line at once as 0 does, and makes flush(cb) wait until all is written
  // (with 0, sonic-boom calls it back at once).
  const boom = pino.destination({ dest, sync: false, minLength: 1, contentMode: 'buffer' }) as unknown as {
    write(b: Buffer): boolean;
    flush(cb?: (err?: Error) => void): void;
    flushSync(): void;
  };
  return {
    write: (line) => boom.write(Buffer.from(line)),
    writeBytes: (bytes) => boom.write(bytes),
    flush: (cb) => boom.flush(cb),
    flushSync: () => boom.flushSync(),
  };
}
