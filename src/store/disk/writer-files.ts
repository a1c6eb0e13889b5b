// File steps of the writer thread (writer-thread.ts) that hold no state of its own:
// moving a body into place as its blob, and what is left of a writev after a short write.
//
// Invariant: a blob path never holds partial bytes — a body is written to a temp file
// and renamed into place; a temp file whose rename failed is removed.

import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, rmdirSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { blobPath } from './layout.js';
import { writeAt } from './index-append.js';
import { sha256Integrity } from '../integrity.js';

/** Rename, creating the target's directory when it is missing. */
export function renameInto(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dirname(to), { recursive: true });
    renameSync(from, to);
  }
}

/** Write `data` to a temp file in `tmpDir` and move it into place as its blob under `dir`; its integrity. */
export function putBlob(dir: string, tmpDir: string, data: Uint8Array): string {
  const integrity = sha256Integrity(data);
  const tmp = join(tmpDir, `w-${randomUUID()}`);
  const fd = openSync(tmp, 'w');
  try {
    writeAt(fd, data, 0);
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

/**
 * Remove a blob file, then its directories (xx/yy/, then xx/) if that left them empty.
 * Why: left behind, every two-byte prefix a blob ever had kept its directories — a block
 * each, counted by no budget: 557 of them (2.3 MB) beside 1.3 MB of entries under a 4 MiB
 * budget. Safe here: only this thread creates them (renameInto), so none is being filled.
 */
export function removeBlob(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  for (let d = dirname(path), i = 0; i < 2; d = dirname(d), i++) {
    try {
      rmdirSync(d);
    } catch {
      return; // not empty (ENOTEMPTY), or gone: the directories above are not empty either
    }
  }
}

/** The buffers past the first `skip` bytes (after a short writev). */
export function rest(bufs: readonly Uint8Array[], skip: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of bufs) {
    if (skip >= b.length) skip -= b.length;
    else {
      out.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
  }
  return out;
}
