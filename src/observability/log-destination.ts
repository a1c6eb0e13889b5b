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
//
// Why batch buffers are lent and taken back: a buffer's bytes live outside V8's
// heap, and V8 counts every such allocation towards its next full collection.
// A fresh 256 KiB batch per 1,700 lines made a busy node mark its whole heap
// every second or so — about 2 µs of CPU per 1 KiB hit on one core, more than
// the access log's own work (bench/RESULTS.md). Batches come from a small pool
// and go back to it once sonic-boom reports their bytes written.

import pino from 'pino';

/** The size of a lent batch buffer. */
export const BATCH_BYTES = 256 * 1024;
/** Free batch buffers kept for reuse; more in flight (a slow disk) are let go once written. */
const POOL_MAX = 4;

/** A destination that takes whole lines as bytes besides pino's strings. */
export interface ByteLogDestination {
  /** pino's line (UTF-8). */
  write(line: string): boolean;
  /** Whole lines as bytes; the buffer is the destination's from now on (never written to again). */
  writeBytes(bytes: Buffer): boolean;
  /** A buffer of BATCH_BYTES to fill with whole lines, lent until it goes back through writeBatch. */
  batchBuffer(): Buffer;
  /** The first `length` bytes of a lent batch buffer; the buffer is reused once they are written. */
  writeBatch(batch: Buffer, length: number): boolean;
  flush(cb?: (err?: Error) => void): void;
  flushSync(): void;
}

/** True when `sink` takes byte batches (the node's own destination); a test's capturing stream takes strings. */
export function takesBytes(sink: object): sink is ByteLogDestination {
  return typeof (sink as Partial<ByteLogDestination>).writeBatch === 'function';
}

interface Boom {
  write(b: Buffer): boolean;
  flush(cb?: (err?: Error) => void): void;
  flushSync(): void;
  on(event: 'write', f: (n: number) => void): void;
}

/** Lines to `dest` (1 for stdout, or a file path), written asynchronously and flushed synchronously at exit. */
export function byteLogDestination(dest: number | string): ByteLogDestination {
  // pino.destination registers the flush at process exit; contentMode 'buffer' makes it take Buffers.
  // minLength 1 writes every line at once as 0 does, and makes flush(cb) wait until all is written
  // (with 0, sonic-boom calls it back at once).
  const boom = pino.destination({ dest, sync: false, minLength: 1, contentMode: 'buffer' }) as unknown as Boom;
  // sonic-boom writes in the order it was given bytes and reports each write's length, so a
  // batch is written once the running total reaches its end. (A synchronous flush reports
  // nothing: the total lags from then on, which only returns buffers later, never early.)
  let given = 0;
  let written = 0;
  const lent: Array<{ end: number; batch: Buffer }> = [];
  const free: Buffer[] = [];
  boom.on('write', (n) => {
    written += n;
    while (lent.length > 0 && lent[0]!.end <= written) {
      const { batch } = lent.shift()!;
      if (free.length < POOL_MAX) free.push(batch);
    }
  });
  const give = (bytes: Buffer): boolean => {
    given += bytes.length;
    return boom.write(bytes);
  };
  return {
    write: (line) => give(Buffer.from(line)),
    writeBytes: give,
    batchBuffer: () => free.pop() ?? Buffer.allocUnsafeSlow(BATCH_BYTES),
    writeBatch: (batch, length) => {
      if (length === 0) {
        if (free.length < POOL_MAX) free.push(batch);
        return true;
      }
      const ok = give(batch.subarray(0, length));
      lent.push({ end: given, batch });
      return ok;
    },
    flush: (cb) => boom.flush(cb),
    flushSync: () => boom.flushSync(),
  };
}
