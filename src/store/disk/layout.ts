// What the disk tier keeps under its directory, and where. Bodies use cacache's
// content layout (content-v2/sha256/xx/yy/rest, named by the body's SHA-256), so
// `cacache.verify()` and `cacache.get.stream.byDigest()` still work on a cache
// directory; the index is Strata's own (index-log.ts), not cacache's append-only
// bucket files (PITFALLS cacache 3 and 7: an append per miss, no budget, no compaction).
//
// Everything here is counted against the tier's byte budget by its allocated size
// (whole blocks), since that is what a full disk is made of.

import { join } from 'node:path';

/** Strata's index of the disk tier: one record line per write (index-log.ts). */
export const INDEX_FILE = 'index-v2.log';
/** The index being rewritten by a compaction; renamed over INDEX_FILE when complete. */
export const INDEX_COMPACTING = 'index-v2.log.compacting';
/** The index in the format before (whole metadata per record in RAM): read at start, converted by the first compaction. */
export const INDEX_V1_FILE = 'index-v1.log';
/** A compaction of the format before, interrupted: removed at start. */
export const INDEX_V1_COMPACTING = 'index-v1.log.compacting';
/** Partial bodies being written; whatever is here at start is a crash's leftover. */
export const TMP_DIR = 'tmp';
export const CONTENT_DIR = 'content-v2';
/** Small bodies, appended one after another to numbered segment files (one file per body costs ~60 µs on tmpfs, ~250 µs on ext4). */
export const SEGMENT_DIR = 'segments';
/** A segment is closed and a new one opened past this size. */
export const SEGMENT_BYTES = 64 * 1024 * 1024;
/** cacache's own index, written by Strata before it kept its own: removed at start. */
export const LEGACY_INDEX_DIR = 'index-v5';

/** Filesystem allocation unit assumed for the budget. */
export const BLOCK_BYTES = 4096;

/** Bytes a file of `size` bytes occupies on disk (whole blocks; an empty file one inode's worth). */
export function allocated(size: number): number {
  return Math.max(1, Math.ceil(size / BLOCK_BYTES)) * BLOCK_BYTES;
}

export function segmentPath(dir: string, segment: number): string {
  return join(dir, SEGMENT_DIR, `seg-${segment}`);
}

/** The number of a segment file's name, or undefined. */
export function segmentOfName(name: string): number | undefined {
  const m = /^seg-(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Path of the blob with integrity `sha256-<base64>` (cacache's content layout). */
export function blobPath(dir: string, integrity: string): string {
  const dash = integrity.indexOf('-');
  const algo = integrity.slice(0, dash);
  const hex = Buffer.from(integrity.slice(dash + 1), 'base64').toString('hex');
  return join(dir, CONTENT_DIR, algo, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
}

/** The integrity of a blob path under `dir`, or undefined for anything else. */
export function integrityOfPath(dir: string, path: string): string | undefined {
  const rel = path.slice(join(dir, CONTENT_DIR).length + 1).split('/');
  if (rel.length !== 4 || rel[0] !== 'sha256') return undefined;
  const hex = rel[1]! + rel[2]! + rel[3]!;
  if (!/^[0-9a-f]{64}$/.test(hex)) return undefined;
  return 'sha256-' + Buffer.from(hex, 'hex').toString('base64');
}
