// A queued write's outcome, taken in once the writer thread has done it: the record
// is tracked, or — when the write is not wanted any more (its key deleted or written
// again meanwhile) — it lands nowhere and leaves no older record behind.

import type { EntryMeta } from '../types.js';
import { lineParts } from './index-log.js';
import { DiskRecord } from './records.js';
import type { DiskTier } from './tier.js';
import type { LineParts, OpResult } from './write-ops.js';

/** Bytes of a record line beyond its head and tail (integrity, place), counted until the writer says. */
const LINE_EXTRA = 90;

export class Landings {
  /** Newest write queued per key (a sequence number), until it lands: an older write must not remove its key. */
  private readonly newest = new Map<string, number>();
  private seq = 0;

  constructor(private readonly tier: DiskTier) {}

  /** Is a write of this key still landing? */
  pending(key: string): boolean {
    return this.newest.has(key);
  }

  /** Queue a whole body (admitted by the tier's budget), or shed it when the queue is full. */
  putWhole(meta: EntryMeta, body: readonly Buffer[], size: number, inSegment: boolean, wanted?: () => boolean): Promise<boolean> {
    const { tier } = this;
    if (!tier.queue.admits(size)) {
      tier.warnings.warn('shed', { writesShed: tier.queue.stats().writesShed }, 'disk tier: write queue full; writes shed (answers kept in memory only)');
      return Promise.resolve(false);
    }
    meta.bodySize = size;
    const time = Date.now();
    const parts = lineParts(meta, time);
    return this.land(meta, tier.queue.put(body, size, parts, inSegment), time, parts, wanted);
  }

  /** `parts`: the record line queued with the write (lineParts(meta, time)), for the budget's estimate. */
  land(meta: EntryMeta, queued: Promise<OpResult>, time: number, parts: LineParts, wanted = () => true): Promise<boolean> {
    const { tier } = this;
    const seq = ++this.seq;
    this.newest.set(meta.key, seq);
    const { head, tail } = parts;
    // Counted now (the budget covers what is queued), corrected when the writer says.
    const estimate = head.length + tail.length + LINE_EXTRA;
    tier.indexBytes += estimate;
    return queued.then((r) => {
      if (this.newest.get(meta.key) === seq) this.newest.delete(meta.key);
      if (!r.ok) {
        tier.indexBytes -= estimate;
        tier.warnings.warn('write', { key: meta.key, code: r.code, err: r.message }, 'disk tier write failed; the entry is kept in memory only');
        return false;
      }
      const lineBytes = r.lineBytes ?? estimate;
      tier.indexBytes += lineBytes - estimate;
      const integrity = r.integrity!;
      if (r.at) tier.segments.written(r.at, meta.bodySize);
      // A blob file moved into place (a new file at its path): a descriptor held for reads
      // of the file before must not stand in for the bytes this write hashed.
      else tier.reads.blobs.forget(integrity);
      if (!wanted() || tier.isClosed) {
        const old = tier.records.get(meta.key);
        if (old && !this.newest.has(meta.key)) tier.untrack(old);
        if (!this.newest.has(meta.key)) void tier.appendRemoval(meta.key);
        if (!r.at && !tier.refersTo(integrity)) void tier.unlinkBlob(integrity);
        return false;
      }
      meta.integrity = integrity;
      const rec = new DiskRecord(meta.key, meta.bodySize, r.at?.segment, r.at?.off, r.gen === tier.lines.gen ? r.lineOff ?? -1 : -1, lineBytes, { meta, time });
      // Hashed by the writer as it wrote the bytes.
      rec.verified = true;
      tier.track(rec);
      tier.lines.landed(rec, r, meta);
      tier.evictOverBudget();
      return true;
    });
  }
}
