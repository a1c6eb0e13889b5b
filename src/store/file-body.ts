// A body stored in a file of the disk tier (a blob file, or a range of a segment
// file). A whole-body read of bytes this process has not verified yet is hashed as it
// streams and fails at the end if the digest differs (the caller cuts the client
// connection, so a corrupted body never looks complete). A range of unverified bytes
// is served only after the whole body was read and verified: a range cannot be hashed
// alone, and serving it unchecked sent damaged bytes as a clean 206. That whole read is
// one per body for every range waiting on it (checks.verifyOnce): the parts of one
// multipart answer and concurrent first ranges after a restart each read and hashed the
// whole body before, 16 parts of a 2 GiB body 32 GiB. Reads of verified bytes are
// length-checked and touch only the requested bytes.

import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { integrityCheck, type IntegrityCheck } from './integrity.js';
import type { Body } from './types.js';

/** Bytes per read (at most; a shorter range reads only itself). */
const READ_BYTES = 256 * 1024;
/**
 * Opens of a body that moved, each time found gone (its old file removed) before it
 * opened: a relocation moves a body once in a long while, so a few tries are plenty.
 */
export const MOVED_READ_TRIES = 3;

export class IntegrityError extends Error {
  readonly code = 'EINTEGRITY';
}

function emptyStream(): Readable {
  return new Readable({
    read() {
      this.push(null);
    },
  });
}

/** Where a body's bytes are: its file and where in it they start. */
export interface BodyPlace {
  path: string;
  offset: number;
}

export interface FileBodyChecks {
  /** Where the body starts in the file (segment files hold many bodies). */
  offset?: number;
  /** The blob's bytes were hashed by this process already (asked at each read): reads are length-checked only. */
  trusted: () => boolean;
  /**
   * The one whole-body verification of this body in flight, shared: `run` starts one only
   * when none is; every caller awaits the same.
   */
  verifyOnce: (run: () => Promise<void>) => Promise<void>;
  /** A whole read verified the digest. */
  onVerified: () => void;
  /** The bytes failed a check (or could not be read). */
  onCorrupt: (err: Error) => void;
  /**
   * For a body that may move before a read opens its file (a segment body relocated,
   * its old segment then removed): its place now. Looked up as each read opens the
   * file, and again when the file is gone by then but the body is elsewhere.
   */
  placeNow?: () => BodyPlace;
}

export function fileBody(path: string, size: number, integrity: string, checks: FileBodyChecks): Body {
  const { onCorrupt } = checks;
  return {
    size,
    stream(start = 0, end = size - 1): Readable {
      // Why: fs.createReadStream throws ERR_OUT_OF_RANGE for end < start (end -1 for a
      // zero-byte body), so an empty body or empty range is answered without the file.
      if (size === 0 || end < start) return emptyStream();
      // Why 256 KiB reads: with the default 64 KiB, a large body costs four times the
      // reads and event-loop turns (1 MiB ranges went ~360 → ~620 MiB/s in the disk
      // bench); larger reads gained little more and cost memory per client.
      const base = checks.offset ?? 0;
      const { placeNow } = checks;
      const read = (from: number, to: number): Readable => (placeNow ? placedRead(placeNow, from, to) : createReadStream(path, { start: base + from, end: base + to, highWaterMark: READ_BYTES }));
      const whole = start === 0 && end === size - 1;
      if (checks.trusted()) return rangeChecked(read(start, end), end - start + 1, onCorrupt);
      const hasher = integrityCheck(integrity);
      if (!hasher) {
        // An integrity of a kind Strata does not know (a damaged line, an empty one) cannot vouch
        // for the bytes: corrupt, as a whole read of it is judged (reads.ts), never served unchecked.
        const err = new IntegrityError(`stored body has an integrity of an unknown kind (${JSON.stringify(integrity.slice(0, 12))})`);
        onCorrupt(err);
        return new Readable({ read() { this.destroy(err); } });
      }
      if (!whole) {
        // Opened only if this read is the one that runs the verification.
        const verify = () => verifyWhole(read(0, size - 1), size, hasher, checks);
        return verifiedThenRange(checks, verify, () => rangeChecked(read(start, end), end - start + 1, onCorrupt));
      }
      const file = read(start, end);
      let seen = 0;
      // Why: the last chunk is held back until the digest is checked. Passing every
      // chunk through and failing only in flush() let a consumer (the deliverer, with
      // Content-Length already sent) hand the client every byte of a corrupted body
      // before the error arrived, i.e. a complete, clean-looking wrong response.
      let held: Buffer | undefined;
      const check = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          seen += chunk.length;
          hasher.update(chunk);
          const out = held;
          held = chunk;
          cb(null, out);
        },
        flush(cb) {
          if (seen !== size || !hasher.matches()) {
            held = undefined;
            const err = new IntegrityError(`stored body failed its integrity check (${seen}/${size} bytes)`);
            onCorrupt(err);
            cb(err);
            return;
          }
          checks.onVerified();
          cb(null, held);
        },
      });
      file.on('error', (err) => {
        onCorrupt(err);
        check.destroy(err);
      });
      // Why: pipe() does not destroy its source when the destination is destroyed, so a
      // reader that went away (client disconnect) left the file descriptor open.
      check.on('close', () => file.destroy());
      return file.pipe(check);
    },
  };
}

/**
 * Bytes `from`..`to` (inclusive) of a body that may move: its place taken when the file
 * is opened, not when the body was found. Why: a hit hands out a body and its client
 * reads it later (a range of an unverified body opens the file a second time); a
 * relocation meanwhile moved the bytes and removed the old segment, and the read's
 * ENOENT removed a healthy entry as corrupt. A file gone with the body still at that
 * place fails the read as before (the entry is damaged: reads.ts).
 */
function placedRead(placeNow: () => BodyPlace, from: number, to: number): Readable {
  return Readable.from(
    (async function* () {
      let at = placeNow();
      for (let tries = 1; ; tries++) {
        let fh: FileHandle;
        try {
          fh = await open(at.path, 'r');
        } catch (err) {
          const now = placeNow();
          const moved = now.path !== at.path || now.offset !== at.offset;
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !moved || tries >= MOVED_READ_TRIES) throw err;
          at = now;
          continue;
        }
        // Once open, the bytes stay readable through the descriptor even if the file is removed.
        yield* fh.createReadStream({ start: at.offset + from, end: at.offset + to, highWaterMark: READ_BYTES });
        return;
      }
    })(),
    { objectMode: false, highWaterMark: READ_BYTES },
  );
}

/** Stream the range once the body is verified: already (by another read meanwhile), or by the verification shared with every read waiting on it. */
function verifiedThenRange(checks: FileBodyChecks, verify: () => Promise<void>, range: () => Readable): Readable {
  return Readable.from(
    (async function* () {
      if (!checks.trusted()) await checks.verifyOnce(verify);
      yield* range();
    })(),
    { objectMode: false },
  );
}

/**
 * Read the whole body and check its digest. Why it does not stop when a reader leaves:
 * other reads may be waiting on it, and it costs one whole read per body at most.
 */
async function verifyWhole(whole: Readable, size: number, hasher: IntegrityCheck, checks: FileBodyChecks): Promise<void> {
  let seen = 0;
  try {
    for await (const chunk of whole) {
      seen += (chunk as Buffer).length;
      hasher.update(chunk as Buffer);
    }
  } catch (err) {
    checks.onCorrupt(err as Error);
    throw err;
  }
  if (seen !== size || !hasher.matches()) {
    const err = new IntegrityError(`stored body failed its integrity check (${seen}/${size} bytes)`);
    checks.onCorrupt(err);
    throw err;
  }
  checks.onVerified();
}

/**
 * A range cannot be hashed, but it can be counted: a blob cut short on disk must
 * fail the read (the deliverer then cuts the connection) and be evicted, not end
 * cleanly short of the Content-Length already sent.
 */
function rangeChecked(file: Readable, expected: number, onCorrupt: (err: Error) => void): Readable {
  let seen = 0;
  const check = new Transform({
    // Why: with the default 16 KiB buffers one 256 KiB chunk filled this stage, so the
    // next file read waited for the socket write: reads and writes took turns.
    highWaterMark: READ_BYTES,
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      cb(null, chunk);
    },
    flush(cb) {
      if (seen === expected) return cb();
      const err = new IntegrityError(`stored body is shorter than it should be (${seen}/${expected} bytes of the range)`);
      onCorrupt(err);
      cb(err);
    },
  });
  file.on('error', (err) => {
    onCorrupt(err);
    check.destroy(err);
  });
  // The file is closed when the reader goes away early (no descriptor leak).
  check.on('close', () => file.destroy());
  return file.pipe(check);
}
