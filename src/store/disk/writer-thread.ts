// The disk tier's writer: a worker thread that does every write the tier makes —
// bodies into blobs, record lines into the index, blob removals, compactions — with
// synchronous system calls, in the order the tier queued them. Why a thread: a miss
// made about ten file operations through libuv's pool (temp file open, write, close,
// mkdir, rename, an index bucket's mkdir/open/append/close), each a round trip and a
// context switch on the request path's core; here a batch of writes costs one message
// each way, and hashing bodies leaves the event loop too.
//
// Invariants:
// - Ops run in the order they were queued (write-queue.ts): a record line follows its
//   blob, a removal of a key's line follows its write.
// - A body becomes a blob by rename from a temp file: a blob path never holds partial bytes.
// - A blob removal is skipped when a write of the same digest ran since the tier last
//   heard back (`recent`): the tier decided on counts that did not include that write.
// - While a compaction runs, every appended line goes to the new index too, after the
//   snapshot chunks built before it, so "the later line wins" still holds in the new file.

import { createHash, randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { blobPath, INDEX_COMPACTING, INDEX_FILE, SEGMENT_DIR, segmentPath, TMP_DIR } from './layout.js';
import type { Batch, Op, OpResult, Reply, SegmentLocation } from './write-ops.js';

// Why segmentBytes is passed in: the thread closed segments at the fixed 64 MiB
// (SEGMENT_BYTES) while the tier's books assume maxBytes/16 (Segments.segmentBytes), so
// under a small budget every body went to one open segment, which is never reclaimed:
// its dead bytes grew without bound, past the budget.
const { dir, firstSegment, segmentBytes } = workerData as { dir: string; firstSegment: number; segmentBytes: number };
const tmpDir = join(dir, TMP_DIR);
mkdirSync(tmpDir, { recursive: true });
mkdirSync(join(dir, SEGMENT_DIR), { recursive: true });
/** The segment bodies are appended to: always a new file per thread, never one a crash may have torn. */
let segment = firstSegment - 1;
let segmentFd = openNextSegment();
let segmentSize = 0;

/** Open the next segment number not on disk yet (a crashed thread may have opened some the tier never heard of). */
function openNextSegment(): number {
  for (;;) {
    segment++;
    try {
      return openSync(segmentPath(dir, segment), 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
let index = openSync(join(dir, INDEX_FILE), 'a');
let compacting: number | undefined;
/** Digest → sequence number of the newest write of it the tier has not heard about yet. */
const recent = new Map<string, number>();

function writeAll(fd: number, data: Uint8Array | string): void {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

function renameInto(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dirname(to), { recursive: true });
    renameSync(from, to);
  }
}

/** Write `data` to a temp file and move it into place as its blob; its integrity. */
function putBlob(data: Uint8Array): string {
  const integrity = 'sha256-' + createHash('sha256').update(data).digest('base64');
  const tmp = join(tmpDir, `w-${randomUUID()}`);
  const fd = openSync(tmp, 'w');
  try {
    writeAll(fd, data);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  try {
    renameInto(tmp, blobPath(dir, integrity));
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
  return integrity;
}

/** Append a body to the open segment; a new one is opened once it is full. */
function appendToSegment(data: Uint8Array): SegmentLocation {
  if (segmentSize > 0 && segmentSize + data.length > segmentBytes) {
    closeSync(segmentFd);
    segmentFd = openNextSegment();
    segmentSize = 0;
  }
  const at = { segment, off: segmentSize };
  let off = 0;
  while (off < data.length) off += writeSync(segmentFd, data, off, data.length - off, segmentSize + off);
  segmentSize += data.length;
  return at;
}

function recordLine(integrity: string, size: number, head: string, at?: SegmentLocation): string {
  const loc = at ? `"g":${at.segment},"o":${at.off},` : '';
  return `{"i":${JSON.stringify(integrity)},"s":${size},${loc}${head.slice(1)}\n`;
}

/** Run one op; record lines go to `lines` (appended by the caller before any op that is not a line op). */
function run(op: Op, lines: string[]): OpResult {
  switch (op.t) {
    case 'put': {
      if (op.segment) {
        const integrity = 'sha256-' + createHash('sha256').update(op.data).digest('base64');
        const at = appendToSegment(op.data);
        lines.push(recordLine(integrity, op.data.length, op.head, at));
        return { ok: true, integrity, at };
      }
      const integrity = putBlob(op.data);
      recent.set(integrity, op.seq);
      lines.push(recordLine(integrity, op.data.length, op.head));
      return { ok: true, integrity };
    }
    case 'relocate': {
      const from = openSync(segmentPath(dir, op.from), 'r');
      try {
        const moved = op.items.map(({ off, size }) => {
          const buf = Buffer.allocUnsafe(size);
          let got = 0;
          while (got < size) {
            const n = readSync(from, buf, got, size - got, off + got);
            if (n === 0) throw Object.assign(new Error(`segment ${op.from} is shorter than its records`), { code: 'EINTEGRITY' });
            got += n;
          }
          return appendToSegment(buf);
        });
        return { ok: true, moved };
      } finally {
        closeSync(from);
      }
    }
    case 'unlink-segment': {
      if (op.segment === segment) return { ok: true, skipped: true };
      try {
        unlinkSync(segmentPath(dir, op.segment));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      return { ok: true };
    }
    case 'adopt': {
      renameInto(op.tmp, blobPath(dir, op.integrity));
      recent.set(op.integrity, op.seq);
      lines.push(recordLine(op.integrity, op.size, op.head));
      return { ok: true, integrity: op.integrity };
    }
    case 'line':
      lines.push(op.text);
      return { ok: true };
    case 'unlink': {
      if (recent.has(op.integrity)) return { ok: true, skipped: true };
      try {
        unlinkSync(blobPath(dir, op.integrity));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      return { ok: true };
    }
    case 'compact-begin':
      if (compacting !== undefined) closeSync(compacting);
      compacting = openSync(join(dir, INDEX_COMPACTING), 'w');
      return { ok: true };
    case 'compact-chunk':
      if (compacting === undefined) throw new Error('no compaction in progress');
      writeAll(compacting, op.text);
      return { ok: true };
    case 'compact-end': {
      if (compacting === undefined) throw new Error('no compaction in progress');
      fsyncSync(compacting);
      renameSync(join(dir, INDEX_COMPACTING), join(dir, INDEX_FILE));
      closeSync(index);
      index = compacting;
      compacting = undefined;
      const d = openSync(dir, 'r');
      try {
        fsyncSync(d);
      } finally {
        closeSync(d);
      }
      return { ok: true };
    }
    case 'sync':
    case 'close':
      fsyncSync(index);
      return { ok: true };
  }
}

/** Append the batch's record lines so far: one write (two while compacting). */
function flushLines(lines: string[]): void {
  if (lines.length === 0) return;
  const text = lines.join('');
  lines.length = 0;
  writeAll(index, text);
  if (compacting !== undefined) writeAll(compacting, text);
}

parentPort!.on('message', (batch: Batch) => {
  for (const [digest, seq] of recent) if (seq <= batch.acked) recent.delete(digest);
  const results: OpResult[] = [];
  const lines: string[] = [];
  /** Results whose record line is in `lines`: they fail together if the append fails. */
  const pendingLine: number[] = [];
  const appendPending = () => {
    try {
      flushLines(lines);
    } catch (err) {
      lines.length = 0;
      for (const i of pendingLine) results[i] = failure(err);
    }
    pendingLine.length = 0;
  };
  for (const op of batch.ops) {
    const bearsLine = op.t === 'put' || op.t === 'adopt' || op.t === 'line';
    if (!bearsLine) appendPending();
    try {
      results.push(run(op, lines));
      if (bearsLine) pendingLine.push(results.length - 1);
    } catch (err) {
      results.push(failure(err));
    }
  }
  appendPending();
  const reply: Reply = { results };
  parentPort!.postMessage(reply);
});

function failure(err: unknown): OpResult {
  const e = err as NodeJS.ErrnoException;
  return { ok: false, code: e.code ?? 'EWRITE', message: e.message };
}
