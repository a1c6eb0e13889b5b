// The RAM the disk tier's records take, as /stats reports it (`recordBytes`): a compact
// record each (recordRamBytes), the selection summary a variant's record keeps
// (records.ts: its Vary values, validators, status and size; summaryRamBytes), and the
// whole metadata a rich record keeps for good (slices, blob-file bodies, keys a URL
// cannot be derived from). Why the last: that metadata is about as large as the entry's
// stored header section (4,000 varied entries with 16 KB headers held ~75 MB of heap
// when variants kept theirs) while a compact record is ~250 bytes; the figure left it
// out. Metadata held only until its line lands (a compact record's, a variant's) is
// counted as what the record keeps after: the write queue bounds the rest.

import { etagOf, lastModifiedOf, type Summarized } from '../../entry.js';
import { heapStringBytes, metaStringsBytes } from '../ram-estimate.js';
import { compactable, recordRamBytes, summarizable, type DiskRecord } from './records.js';

/**
 * RAM of held metadata besides its strings: the metadata object and its property array,
 * the headers and varyValues objects, the arrays, the record's `more` object
 * (test/unit/memory-accounting.test.ts measures it).
 */
export const HELD_META_OVERHEAD_BYTES = 768;

/**
 * RAM of a variant's summary besides its validator strings: the summary object (13
 * fields, its time a heap number), the record's `more` object, and what a variant costs
 * the tier's indexes beyond a compact record (its place in the variants of its URL).
 * Measured on Node 20 (test/unit/memory-accounting.test.ts).
 */
export const SUMMARY_OVERHEAD_BYTES = 480;

/** A transform object ({coding, level, sourceBytes}) of a variant Strata made. */
const TRANSFORM_BYTES = 48;

/** V8 keeps a slice of a string this long or longer as a reference into it (SlicedString), not a copy. */
const SLICED_MIN_CHARS = 13;
const SLICED_BYTES = 32;

/**
 * Estimated RAM of the summary a record keeps for `m` (whole metadata, or the summary
 * itself: the same figure from either, so a record's count does not change as its line lands).
 */
export function summaryRamBytes(m: Summarized): number {
  const pk = m.primaryKey;
  let n = SUMMARY_OVERHEAD_BYTES;
  n += m.key.length > pk.length && m.key.startsWith(pk) && pk.length >= SLICED_MIN_CHARS ? SLICED_BYTES : heapStringBytes(pk);
  const etag = etagOf(m);
  const lm = lastModifiedOf(m);
  if (etag !== undefined) n += heapStringBytes(etag);
  if (lm !== undefined) n += heapStringBytes(lm);
  if (m.transform) n += TRANSFORM_BYTES;
  return n;
}

/** What a record keeps in RAM beyond its compact fields, estimated. */
function heldBytes(rec: DiskRecord): number {
  const meta = rec.held;
  if (meta === undefined) {
    const sel = rec.more?.sel;
    return sel === undefined ? 0 : summaryRamBytes(sel);
  }
  if (rec.segment !== undefined && compactable(meta)) return 0;
  if (rec.segment !== undefined && summarizable(meta)) return summaryRamBytes(meta);
  return HELD_META_OVERHEAD_BYTES + metaStringsBytes(meta);
}

export class RecordRam {
  /** What each record's held metadata was last counted at. */
  private readonly held = new WeakMap<DiskRecord, number>();
  bytes = 0;

  /** A record listed. */
  add(rec: DiskRecord): void {
    this.bytes += recordRamBytes(rec.key);
    this.update(rec);
  }

  /** Count a listed record's held metadata as it is now (its metadata replaced). */
  update(rec: DiskRecord): void {
    const now = heldBytes(rec);
    const before = this.held.get(rec) ?? 0;
    if (now === before) return;
    this.bytes += now - before;
    if (now === 0) this.held.delete(rec);
    else this.held.set(rec, now);
  }

  /** A record no longer listed. */
  remove(rec: DiskRecord): void {
    this.bytes -= recordRamBytes(rec.key) + (this.held.get(rec) ?? 0);
    this.held.delete(rec);
  }
}
