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
//
// Why a cap: a log pipe whose reader stops reading (a stalled collector) blocks
// every write, and sonic-boom held every line given meanwhile: a busy node grew
// by its whole log output. At most MAX_HELD_BYTES wait; lines past it are
// dropped whole (a batch with them), counted, and told once the output drains.

import pino from 'pino';

/** The size of a lent batch buffer. */
export const BATCH_BYTES = 256 * 1024;
/** Free batch buffers kept for reuse; more in flight (a slow disk) are let go once written. */
const POOL_MAX = 4;
/**
 * Batches lent and not reported written, at most. Past it the output is stalled
 * (a blocked pipe) or gone (pino turns writes into no-ops after EPIPE, and no
 * write is reported again): batches are copied out and their buffers kept.
 */
const LENT_MAX = 16;
/** Bytes given to the output and not yet written, at most (sonic-boom's maxLength). */
export const MAX_HELD_BYTES = 16 * 2 ** 20;
/** A batch less full than this is copied out (a quiet node's): lending it would pin 256 KiB for a few lines. */
const COPY_BELOW = BATCH_BYTES / 4;

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

/** What of sonic-boom the destination uses (its byte mode). */
export interface ByteWriter {
  write(b: Buffer): boolean;
  flush(cb?: (err?: Error) => void): void;
  flushSync(): void;
  on(event: 'write', f: (n: number) => void): void;
  /** Bytes not taken (past maxLength): emitted within the write() that gave them. */
  on(event: 'drop', f: (data: Buffer) => void): void;
  /** Everything given was written. */
  on(event: 'drain', f: () => void): void;
}

/** Told of the lines the output had no room for. */
export interface LogDrops {
  /** Lines dropped now (each counted once). */
  dropped?(lines: number): void;
  /** The output wrote everything it held after dropping some: the lines and bytes dropped since the last report. */
  drained?(lines: number, bytes: number): void;
}

function linesIn(bytes: Buffer): number {
  let n = 0;
  for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) n++;
  return n;
}

/** Lines to `dest` (1 for stdout, or a file path), written asynchronously and flushed synchronously at exit. */
export function byteLogDestination(dest: number | string, drops: LogDrops = {}): ByteLogDestination {
  // pino.destination registers the flush at process exit; contentMode 'buffer' makes it take Buffers.
  // minLength 1 writes every line at once as 0 does, and makes flush(cb) wait until all is written
  // (with 0, sonic-boom calls it back at once). maxLength: see MAX_HELD_BYTES.
  return lendingDestination(pino.destination({ dest, sync: false, minLength: 1, maxLength: MAX_HELD_BYTES, contentMode: 'buffer' }) as unknown as ByteWriter, drops);
}

/** Batch buffers lent over `boom`, which writes bytes in order and reports each write's length. */
export function lendingDestination(boom: ByteWriter, drops: LogDrops = {}): ByteLogDestination {
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
  // A write dropped whole counts no bytes given: the lent-batch totals stay those of what is written.
  let droppedNow = false;
  let droppedLines = 0;
  let droppedBytes = 0;
  boom.on('drop', (data) => {
    droppedNow = true;
    const lines = linesIn(data);
    droppedLines += lines;
    droppedBytes += data.length;
    drops.dropped?.(lines);
  });
  boom.on('drain', () => {
    if (droppedLines === 0) return;
    const [lines, bytes] = [droppedLines, droppedBytes];
    droppedLines = droppedBytes = 0;
    drops.drained?.(lines, bytes);
  });
  /** Whether `bytes` were taken (not dropped), and whether the output wants more. */
  const give = (bytes: Buffer): { taken: boolean; more: boolean } => {
    droppedNow = false;
    const more = boom.write(bytes);
    if (!droppedNow) given += bytes.length;
    return { taken: !droppedNow, more };
  };
  return {
    write: (line) => give(Buffer.from(line)).more,
    writeBytes: (bytes) => give(bytes).more,
    batchBuffer: () => free.pop() ?? Buffer.allocUnsafeSlow(BATCH_BYTES),
    writeBatch: (batch, length) => {
      if (length < COPY_BELOW || lent.length >= LENT_MAX) {
        const ok = length === 0 || give(Buffer.from(batch.subarray(0, length))).more;
        if (free.length < POOL_MAX) free.push(batch);
        return ok;
      }
      const { taken, more } = give(batch.subarray(0, length));
      if (taken) lent.push({ end: given, batch });
      else if (free.length < POOL_MAX) free.push(batch);
      return more;
    },
    flush: (cb) => boom.flush(cb),
    flushSync: () => boom.flushSync(),
  };
}
