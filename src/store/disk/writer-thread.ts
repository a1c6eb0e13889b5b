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

import { closeSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, unlinkSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { getHeapStatistics } from 'node:v8';
import { blobPath, INDEX_COMPACTING, INDEX_FILE, SEGMENT_DIR, segmentPath, TMP_DIR } from './layout.js';
import { assembleLine, HEADER_LINE, relocatedLine } from './index-log.js';
import { appendToAll, closeQuietly, cutTornTail, resyncAfterFragment, writeAt, type AppendTarget } from './index-append.js';
import type { Batch, Op, OpResult, PutOp, Reply, SegmentLocation } from './write-ops.js';
import { checksumIntegrity } from '../integrity.js';
import { putBlob, removeBlob, renameInto, rest } from './writer-files.js';

// Why segmentBytes is passed in: the thread closed segments at the fixed 64 MiB
// (SEGMENT_BYTES) while the tier's books assume maxBytes/16 (Segments.segmentBytes), so
// under a small budget every body went to one open segment, which is never reclaimed:
// its dead bytes grew without bound, past the budget.
const { dir, firstSegment, segmentBytes, gen: firstGen, ring: ringMemory } = workerData as { dir: string; firstSegment: number; segmentBytes: number; gen: number; ring: SharedArrayBuffer };
/** Bodies the tier copied into shared memory (body-ring.ts): read in place, never copied. */
const ring = new Uint8Array(ringMemory);
const tmpDir = join(dir, TMP_DIR);
mkdirSync(tmpDir, { recursive: true });
mkdirSync(join(dir, SEGMENT_DIR), { recursive: true });
/** The segment bodies are appended to: always a new file per thread, never one a crash may have torn. */
let segment = firstSegment - 1;
/**
 * The open segment's descriptor, -1 when none is (its successor's open failed). Why -1 at
 * once on close: a closed number kept was closed and written again later, by then a file
 * the main thread had opened (another key's bytes landed in a streamed body's temp file).
 */
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
// Read too: relocations and compactions copy lines back out of it.
let index = openSync(join(dir, INDEX_FILE), 'a+');
/** Bytes of the index file: where the next line lands (the tier reads lines back by offset). A line torn by a crash is cut off first (index-append.ts). */
let indexSize = cutTornTail(index);
/** The index file's generation: a compaction's end starts the next. The file before stays open for reads of offsets the tier took from it. */
let gen = firstGen;
let previous: number | undefined;
let compacting: number | undefined;
let compactingSize = 0;
/** Digest → sequence number of the newest write of it the tier has not heard about yet. */
const recent = new Map<string, number>();

/** The segment bodies go to, opened when none is (the first body after a full one, or after a failed open). */
function openSegmentIfNone(): void {
  if (segmentFd >= 0) return;
  segmentFd = openNextSegment();
  segmentSize = 0;
}

/**
 * Bodies placed in the open segment but not written yet, from `unwrittenFrom` on: a
 * batch's bodies go to the file in one writev (writeUnwritten), not one write each.
 * Why it is safe to answer for them only after that: every result of a batch is sent
 * at its end, after the bodies and then their record lines are written.
 */
const unwritten: Uint8Array[] = [];
let unwrittenFrom = 0;

/** Whether a body of `bytes` opens a new segment: the open one has bodies and would pass its size. */
function rollsOver(bytes: number): boolean {
  return segmentSize > 0 && segmentSize + bytes > segmentBytes;
}

/** Place a body at the end of the open segment (written by writeUnwritten); a new segment is opened once it is full. */
function appendToSegment(data: Uint8Array): SegmentLocation {
  if (segmentFd >= 0 && rollsOver(data.length)) {
    writeUnwritten();
    const full = segmentFd;
    segmentFd = -1;
    segmentSize = 0;
    closeSync(full);
  }
  openSegmentIfNone();
  if (unwritten.length === 0) unwrittenFrom = segmentSize;
  unwritten.push(data);
  const at = { segment, off: segmentSize };
  segmentSize += data.length;
  return at;
}

/** Write the bodies placed since the last call; on failure their place is free again (and the error is thrown). */
function writeUnwritten(): void {
  if (unwritten.length === 0) return;
  const total = segmentSize - unwrittenFrom;
  try {
    let done = 0;
    while (done < total) done += writevSync(segmentFd, done === 0 ? unwritten : rest(unwritten, done), unwrittenFrom + done);
  } catch (err) {
    segmentSize = unwrittenFrom;
    throw err;
  } finally {
    unwritten.length = 0;
  }
}

/** `bytes` bytes at `off` of the index file of generation `g`. */
function readIndex(g: number, off: number, bytes: number): Buffer {
  const fd = g === gen ? index : g === gen - 1 ? previous : undefined;
  if (fd === undefined) throw Object.assign(new Error(`index generation ${g} is gone`), { code: 'EINDEX' });
  const buf = Buffer.allocUnsafe(bytes);
  let got = 0;
  while (got < bytes) {
    const n = readSync(fd, buf, got, bytes - got, off + got);
    if (n === 0) throw Object.assign(new Error('index shorter than a record line'), { code: 'EINDEX' });
    got += n;
  }
  return buf;
}

/** Run one op; record lines go to `lines` (appended by the caller before any op that is not a line op). */
function run(op: Op, lines: string[]): OpResult {
  switch (op.t) {
    case 'put': {
      const data = op.data ?? ring.subarray(op.ringAt!, op.ringAt! + op.bytes);
      if (op.segment) {
        // Stored by place, not by content: a checksum catches damage (integrity.ts).
        const integrity = checksumIntegrity(data);
        const at = appendToSegment(data);
        lines.push(assembleLine(op.line.head, integrity, at, op.line.tail));
        return { ok: true, integrity, at };
      }
      const integrity = putBlob(dir, tmpDir, data);
      recent.set(integrity, op.seq);
      lines.push(assembleLine(op.line.head, integrity, undefined, op.line.tail));
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
        writeUnwritten();
        return { ok: true, moved };
      } finally {
        closeSync(from);
      }
    }
    case 'unlink-segment': {
      if (op.segment === segment && segmentFd >= 0) return { ok: true, skipped: true };
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
      lines.push(assembleLine(op.line.head, op.integrity, undefined, op.line.tail));
      return { ok: true, integrity: op.integrity };
    }
    case 'line':
      lines.push(op.text);
      return { ok: true };
    case 'reline':
      lines.push(relocatedLine(readIndex(op.gen, op.off, op.bytes).toString(), op.at));
      return { ok: true };
    case 'unlink': {
      if (recent.has(op.integrity)) return { ok: true, skipped: true };
      removeBlob(blobPath(dir, op.integrity));
      return { ok: true };
    }
    case 'compact-begin':
      if (compacting !== undefined) closeSync(compacting);
      compacting = openSync(join(dir, INDEX_COMPACTING), 'w+');
      writeAt(compacting, HEADER_LINE, 0);
      compactingSize = HEADER_LINE.length;
      return { ok: true };
    case 'compact-chunk': {
      if (compacting === undefined) throw new Error('no compaction in progress');
      const offs: number[] = [];
      const parts: Uint8Array[] = [];
      for (const item of op.items) {
        let bytes: Buffer;
        if ('text' in item) bytes = Buffer.from(item.text);
        else {
          bytes = readIndex(op.gen, item.off, item.bytes);
          // The body's place as the tier knows it now: a relocation's own line may not have landed yet.
          if (item.at) bytes = Buffer.from(relocatedLine(bytes.toString(), item.at));
        }
        offs.push(compactingSize);
        compactingSize += bytes.length;
        parts.push(bytes);
      }
      offs.push(compactingSize);
      // At its offset: a failed line append may have cut the file back behind the descriptor's position.
      writeAt(compacting, Buffer.concat(parts), offs[0]!);
      return { ok: true, offs };
    }
    case 'compact-end': {
      if (compacting === undefined) throw new Error('no compaction in progress');
      // The directory is opened before the rename: once the new file is in place the writer
      // is on the next generation, and the tier must hear ok. An open failing after it
      // (EMFILE) answered a failure, and the tier stayed a generation behind the writer for
      // good (records' offsets read from the wrong file, later compactions failing or copying
      // wrong lines). A failure before it abandons the compaction: the tier retries later.
      let d: number;
      try {
        fsyncSync(compacting);
        d = openSync(dir, 'r');
      } catch (err) {
        abandonCompaction();
        throw err;
      }
      let unsynced: string | undefined;
      try {
        renameSync(join(dir, INDEX_COMPACTING), join(dir, INDEX_FILE));
      } catch (err) {
        closeQuietly(d);
        abandonCompaction();
        throw err;
      }
      if (previous !== undefined) closeQuietly(previous);
      previous = index;
      index = compacting;
      indexSize = compactingSize;
      gen++;
      compacting = undefined;
      try {
        fsyncSync(d);
      } catch (err) {
        // The new file is whole (synced above) and in use: a crash that loses the rename brings
        // back the old index, whole up to here (lines went to both files while compacting).
        unsynced = (err as Error).message;
      } finally {
        closeQuietly(d);
      }
      return { ok: true, gen, ...(unsynced !== undefined ? { warning: `index directory not synced: ${unsynced}` } : {}) };
    }
    case 'sync':
    case 'close':
      fsyncSync(index);
      return { ok: true };
  }
}

/** Append the batch's record lines so far: one write (two while compacting); where each landed goes to its result. */
function flushLines(lines: string[], landed: OpResult[]): void {
  if (lines.length === 0) return;
  const text = Buffer.from(lines.join(''));
  const targets: AppendTarget[] = [{ fd: index, size: indexSize }];
  if (compacting !== undefined) targets.push({ fd: compacting, size: compactingSize });
  try {
    appendToAll(targets, text);
  } catch (err) {
    afterFailedAppend((err as { uncut?: AppendTarget[] }).uncut ?? []);
    throw err;
  }
  for (let i = 0; i < lines.length; i++) {
    const r = landed[i]!;
    const bytes = Buffer.byteLength(lines[i]!);
    if (r.ok) {
      r.lineOff = indexSize;
      r.lineBytes = bytes;
      r.gen = gen;
      if (compacting !== undefined) r.newOff = compactingSize;
    }
    indexSize += bytes;
    if (compacting !== undefined) compactingSize += bytes;
  }
  lines.length = 0;
}

parentPort!.on('message', (batch: Batch) => {
  for (const [digest, seq] of recent) if (seq <= batch.acked) recent.delete(digest);
  const results: OpResult[] = [];
  const lines: string[] = [];
  /** Results whose record line is in `lines`: they fail together if the append fails. */
  const pendingLine: number[] = [];
  const appendPending = () => {
    try {
      writeUnwritten();
    } catch (err) {
      // The bodies of this batch's segment puts since the last append are not on disk: those puts fail, their lines go.
      const keep = pendingLine.map((i) => !(isSegmentPut(batch.ops[i]!)));
      for (let j = pendingLine.length - 1; j >= 0; j--) {
        if (keep[j]) continue;
        results[pendingLine[j]!] = failure(err);
        lines.splice(j, 1);
        pendingLine.splice(j, 1);
      }
    }
    try {
      flushLines(lines, pendingLine.map((i) => results[i]!));
    } catch (err) {
      lines.length = 0;
      // Their bodies are on disk with no line: the tier removes the blobs nothing refers to and counts the segment bytes as dead.
      for (const i of pendingLine) results[i] = failure(err, results[i]);
    }
    pendingLine.length = 0;
  };
  for (const op of batch.ops) {
    const bearsLine = op.t === 'put' || op.t === 'adopt' || op.t === 'line' || op.t === 'reline';
    // Bodies go to a segment in the order they were placed: a full segment is written out before the next opens.
    if (!bearsLine || (isSegmentPut(op) && rollsOver(op.bytes))) appendPending();
    try {
      results.push(run(op, lines));
      if (bearsLine) pendingLine.push(results.length - 1);
    } catch (err) {
      // A compaction that failed before its end is given up here: the tier starts a new one
      // later. Kept, its file held what it had written (on a full disk), counted nowhere, and
      // every line appended after went to it too until the next compaction began, if one did.
      if (op.t === 'compact-begin' || op.t === 'compact-chunk') abandonCompaction();
      results.push(failure(err));
    }
  }
  appendPending();
  const reply: Reply = { results, heapBytes: getHeapStatistics().total_heap_size };
  parentPort!.postMessage(reply);
});

/**
 * Files a failed append could not cut back (appendToAll): the index's size is taken from
 * the file, a compaction under way is abandoned (the tier retries it later).
 */
function afterFailedAppend(uncut: readonly AppendTarget[]): void {
  for (const t of uncut) {
    if (t.fd === index) indexSize = resyncAfterFragment(index);
    else if (t.fd === compacting) abandonCompaction();
  }
}

/** Drop the compaction under way: its file goes, lines go to the index alone again. */
function abandonCompaction(): void {
  if (compacting === undefined) return;
  closeQuietly(compacting);
  compacting = undefined;
  try {
    unlinkSync(join(dir, INDEX_COMPACTING));
  } catch {
    /* gone already */
  }
}

function isSegmentPut(op: Op): op is PutOp {
  return op.t === 'put' && op.segment;
}

/** A failed op's result; `done`: its result before it failed, whose body in place is named for the tier. */
function failure(err: unknown, done?: OpResult): OpResult {
  const e = err as NodeJS.ErrnoException;
  const r: Extract<OpResult, { ok: false }> = { ok: false, code: e.code ?? 'EWRITE', message: e.message };
  if (done?.ok && done.at) r.at = done.at;
  else if (done?.ok && done.integrity !== undefined) r.integrity = done.integrity;
  return r;
}
