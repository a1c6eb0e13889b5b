// The RAM the disk tier's records take, as /stats reports it (`recordBytes`): a compact
// record each (recordRamBytes), and the metadata some records keep in RAM for good
// (records.ts: variants under Vary, slices, blob-file bodies, keys a URL cannot be
// derived from). Why the second: that metadata is about as large as the entry's stored
// header section (4,000 varied entries with 16 KB headers held ~75 MB of heap) while a
// compact record is ~200 bytes; the figure left it out. Metadata held only until its line
// lands (a compact record's) is not counted: the write queue bounds it.

import { metaStringsBytes } from '../ram-estimate.js';
import { compactable, recordRamBytes, type DiskRecord } from './records.js';

/**
 * RAM of held metadata besides its strings: the metadata object and its property array,
 * the headers and varyValues objects, the arrays, the record's `more` object
 * (test/unit/memory-accounting.test.ts measures it).
 */
export const HELD_META_OVERHEAD_BYTES = 768;

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
    const meta = rec.held;
    const now = meta !== undefined && (rec.segment === undefined || !compactable(meta)) ? HELD_META_OVERHEAD_BYTES + metaStringsBytes(meta) : 0;
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
