// A queued write's outcome, taken in once the writer thread has done it: the record
// is tracked, or — when the write is not wanted any more (its key deleted or written
// again meanwhile) — it lands nowhere and leaves no older record behind.
//
// A committed body that does not land at all (shed, failed, over the budget) leaves no
// older record behind either (dropOlder): the older body was served again, fresh, once
// memory evicted the newer one or after a restart — and a 304 of the newer one wrote
// its metadata over the older body's record.

import type { EntryMeta } from '../types.js';
import { lineParts } from './index-log.js';
import { DiskRecord } from './records.js';
import type { DiskTier } from './tier.js';
import type { LineParts, OpResult } from './write-ops.js';

/** Bytes of a record line beyond its head and tail (integrity, place), counted until the writer says. */
const LINE_EXTRA = 90;

const OK: OpResult = { ok: true };

interface Pending {
  seq: number;
  /** What the write stores (a purge matches it by URL and tags while it lands). */
  meta: EntryMeta;
  /**
   * Resolves once this write has settled: with the result of the removal line its failure
   * wrote, else ok. Made only when asked for (settled()): a promise made for every write
   * measured ~30 B more heap per record stored (memory-accounting.test.ts).
   */
  done?: Promise<OpResult>;
  settle?: (r: OpResult | Promise<OpResult>) => void;
}

/** One write's landing: its sequence number, line estimate and time, how it settles, whether it is still wanted. */
interface LandingOf {
  seq: number;
  estimate: number;
  time: number;
  settle: (r: OpResult | Promise<OpResult>) => void;
  wanted: () => boolean;
}

export class Landings {
  /** Newest write queued per key, until it lands: an older write must not remove its key. */
  private readonly newest = new Map<string, Pending>();
  /** Writes of a key up to this sequence number are not wanted: a newer body of it did not land. */
  private readonly voided = new Map<string, number>();
  private seq = 0;

  constructor(private readonly tier: DiskTier) {}

  /** Is a write of this key still landing? */
  pending(key: string): boolean {
    return this.newest.has(key);
  }

  /** Keys with a write still landing whose metadata `matches` (a purge's: disk-purge.ts ban). */
  keysLanding(matches: (meta: EntryMeta) => boolean): string[] {
    const keys: string[] = [];
    for (const [key, p] of this.newest) if (matches(p.meta)) keys.push(key);
    return keys;
  }

  /**
   * Once the newest write of the key queued now has settled (a newer one queued by then
   * is waited for too): the result of the removal line its failure wrote, else ok — its
   * record supersedes any older line.
   */
  settled(key: string): Promise<OpResult> {
    const p = this.newest.get(key);
    if (!p) return Promise.resolve(OK);
    return (p.done ??= new Promise<OpResult>((r) => (p.settle = r)));
  }

  /**
   * A committed body of `key` that does not land: the record under the key (and its line
   * on disk) must not stand in for it. Writes of the key still landing are older: they
   * land nowhere. `always`: a removal line even when RAM holds no record (a failed write:
   * a purge may have dropped the record and left its line to be superseded by this write).
   */
  dropOlder(key: string, why: string, always: boolean): Promise<OpResult> {
    const { tier } = this;
    if (this.newest.has(key)) {
      this.voided.set(key, this.seq);
      return this.settled(key);
    }
    const old = tier.records.get(key);
    if (old) return tier.removeRecord(old, why);
    if (!always && !tier.loading) return Promise.resolve(OK);
    return tier.appendRemoval(key) ?? Promise.resolve(OK);
  }

  /** A committed body over the budget: the older entry under its key must not stand in for it. */
  tooLarge(meta: EntryMeta): false {
    void this.dropOlder(meta.key, 'replaced by a body over the disk budget', false);
    return false;
  }

  /** Queue a whole body (admitted by the tier's budget), or shed it when the queue is full. */
  putWhole(meta: EntryMeta, body: readonly Buffer[], size: number, inSegment: boolean, wanted?: () => boolean): Promise<boolean> {
    const { tier } = this;
    if (!tier.queue.admits(size)) {
      tier.warnings.warn('shed', { writesShed: tier.queue.stats().writesShed }, 'disk tier: write queue full; writes shed (answers kept in memory only)');
      void this.dropOlder(meta.key, 'its newer body was shed', false);
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
    const pending: Pending = { seq, meta };
    this.newest.set(meta.key, pending);
    const settle = (r: OpResult | Promise<OpResult>) => pending.settle?.(r);
    const { head, tail } = parts;
    // Counted now (the budget covers what is queued), corrected when the writer says.
    const estimate = head.length + tail.length + LINE_EXTRA;
    tier.indexBytes += estimate;
    return queued.then((r) => {
      try {
        return this.landed(meta, r, { seq, estimate, time, settle, wanted });
      } finally {
        settle(OK);
      }
    });
  }

  private landed(meta: EntryMeta, r: OpResult, how: LandingOf): boolean {
    const { tier } = this;
    const { seq, estimate, time, settle, wanted } = how;
    const voided = (this.voided.get(meta.key) ?? 0) >= seq;
    if (this.newest.get(meta.key)?.seq === seq) {
      this.newest.delete(meta.key);
      this.voided.delete(meta.key);
    }
    if (!r.ok) {
      tier.indexBytes -= estimate;
      tier.writeFailures.failed(r, { key: meta.key }, 'disk tier write failed; the entry is kept in memory only');
      // A body on disk without its line (the append failed): its segment bytes are dead
      // bytes to reclaim, its blob goes unless a record refers to it. Left uncounted until
      // the next start's sweep, they took the disk past the budget.
      if (r.at) tier.segments.written(r.at, meta.bodySize);
      else if (r.integrity !== undefined && !tier.refersTo(r.integrity)) void tier.unlinkBlob(r.integrity);
      // A write of the key still pending is newer than this one (results come in queue
      // order): it decides what stays, and must not be voided — dropOlder() voided it, and
      // a newer body that landed fine was dropped and its removal written.
      settle(this.newest.has(meta.key) ? this.settled(meta.key) : this.dropOlder(meta.key, 'its newer body failed to land', true));
      return false;
    }
    const lineBytes = r.lineBytes ?? estimate;
    tier.indexBytes += lineBytes - estimate;
    const integrity = r.integrity!;
    if (r.at) tier.segments.written(r.at, meta.bodySize);
    // A blob file moved into place (a new file at its path): a descriptor held for reads
    // of the file before must not stand in for the bytes this write hashed.
    else tier.reads.blobs.forget(integrity);
    if (!wanted() || tier.isClosed || voided) {
      const newer = this.newest.has(meta.key);
      const old = tier.records.get(meta.key);
      if (old && !newer) tier.untrack(old);
      settle(newer ? this.settled(meta.key) : (tier.appendRemoval(meta.key) ?? OK));
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
  }
}
