// Appending to the index files (the writer thread's, synchronous). The tier reads a line
// back by the offset the writer reported, so the writer's idea of a file's size must be
// the file's: a line torn by a crash, or bytes left by a failed or partial append, would
// shift every later line — and glue the next line to the fragment, so that the load
// after drops both (a purge's removal line lost that way brought purged keys back).

import { closeSync, fstatSync, ftruncateSync, readSync, writeSync } from 'node:fs';

const NEWLINE = 10;
const TAIL_CHUNK = 64 * 1024;

/** A file lines are appended to, and its size: where the next line lands. */
export interface AppendTarget {
  fd: number;
  size: number;
}

/**
 * Write all of `data` at `at`. Positional: after a file is cut back, its descriptor's
 * position is still past the end, and a plain write there would leave a hole. (On a
 * file opened for appending, Linux appends whatever the position: at its end, `at`.)
 */
export function writeAt(fd: number, data: Uint8Array | string, at: number): void {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, at + off);
}

/**
 * Cut a last line without its newline (torn by a crash mid-append) off the file; its
 * size after. The load skips such a fragment; appending after it would lose the next line too.
 */
export function cutTornTail(fd: number): number {
  const size = fstatSync(fd).size;
  if (size === 0) return 0;
  const buf = Buffer.allocUnsafe(Math.min(TAIL_CHUNK, size));
  let end = size;
  let keep = 0;
  while (end > 0) {
    const from = Math.max(0, end - buf.length);
    const n = readExactly(fd, buf, end - from, from);
    const nl = buf.lastIndexOf(NEWLINE, n - 1);
    if (nl >= 0) {
      keep = from + nl + 1;
      break;
    }
    end = from;
  }
  if (keep !== size) ftruncateSync(fd, keep);
  return keep;
}

function readExactly(fd: number, buf: Buffer, bytes: number, at: number): number {
  let got = 0;
  while (got < bytes) {
    const n = readSync(fd, buf, got, bytes - got, at + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/**
 * Append `data` to each target, or to none: on a failure (ENOSPC, a short write, an
 * error on the second file after the first took the bytes) each file is cut back to
 * its size before, and the error is thrown. A target that could not be cut back is
 * named in the error's `uncut` (its size no longer says where the next line lands).
 */
export function appendToAll(targets: readonly AppendTarget[], data: Uint8Array, write: (fd: number, data: Uint8Array, at: number) => void = writeAt): void {
  let i = 0;
  try {
    for (; i < targets.length; i++) write(targets[i]!.fd, data, targets[i]!.size);
  } catch (err) {
    const uncut: AppendTarget[] = [];
    for (let j = 0; j <= Math.min(i, targets.length - 1); j++) {
      try {
        ftruncateSync(targets[j]!.fd, targets[j]!.size);
      } catch {
        uncut.push(targets[j]!);
      }
    }
    if (uncut.length && err instanceof Error) Object.assign(err, { uncut });
    throw err;
  }
  for (const t of targets) t.size += data.length;
}

/**
 * The index could not be cut back after a failed append: its size is taken from the
 * file, and a newline ends the fragment so the next line starts clean (best effort;
 * the size is right either way). The new size.
 */
export function resyncAfterFragment(fd: number): number {
  let size = fstatSync(fd).size;
  try {
    writeAt(fd, '\n', size);
    size++;
  } catch {
    size = fstatSync(fd).size;
  }
  return size;
}

/** Close a file, ignoring errors (a compaction abandoned after a failed append). */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
}
