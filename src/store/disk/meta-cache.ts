// Parsed metadata of hot compact records, so a disk hit on one does not read and parse
// its index line again (one trip through libuv's pool and a JSON.parse per hit). A
// record's RAM stays compact (records.ts): this cache is bounded on its own, by
// entries and by an estimate of their bytes (as nginx's open_file_cache is bounded by
// max=). What goes when it is full is chosen by second chance (CLOCK): a hit only
// marks its entry used; the oldest unmarked entry goes, a marked one is moved to the
// young end and unmarked. Why not exact LRU: moving an entry to the Map's end on every
// hit was a delete and an insert per disk hit, and the tombstones they leave make V8
// rebuild the Map's table over and over (old-space garbage: major GCs on bench "hit
// 16 KiB from disk").
//
// An entry is used only while it still describes the record: the same record object
// (a body written again is a new record), the same line in the same index file (an
// update or a relocation writes a new line; a compaction a new file) and the same
// soft-purge instant. Anything else is a miss and the line is read again, so a purge,
// delete, update or compaction never serves metadata the tier no longer holds; the
// tier also drops a removed record's entry at once (its RAM back).

import type { EntryMeta } from '../types.js';
import type { DiskRecord } from './records.js';

/**
 * Where metadata came from: a record, its line's place then (index generation and
 * offset), and its soft-purge instant then. The cache below and the metadata the tier
 * hands out (record-lines.ts, storedFrom) are both judged by it.
 */
export interface LineStamp {
  rec: DiskRecord;
  gen: number;
  lineOff: number;
  softAt: number | undefined;
}

/** The stamp of `rec` as it stands now, in index generation `gen`. */
export function stampOf(rec: DiskRecord, gen: number): LineStamp {
  return { rec, gen, lineOff: rec.lineOff, softAt: rec.more?.softAt };
}

/** Does metadata stamped `s` still describe `rec`: the same record, line (generation and offset) and soft-purge instant? */
export function stillCurrent(s: LineStamp, rec: DiskRecord, gen: number): boolean {
  return s.rec === rec && s.gen === gen && s.lineOff === rec.lineOff && s.softAt === rec.more?.softAt;
}

interface Cached extends LineStamp {
  meta: EntryMeta;
  bytes: number;
  /** Read or hit since it was inserted or last passed over by eviction (second chance). */
  used: boolean;
}

/** Entries at most (nginx's open_file_cache is often set to max=1000). */
export const META_CACHE_ENTRIES = 4096;
/** Estimated bytes at most (metadata of ~1 KiB lines: a few MiB). */
export const META_CACHE_BYTES = 4 * 1024 * 1024;

/** RAM of parsed metadata, estimated from its line: strings keep their length, objects and fields add their overhead. */
function estimate(lineBytes: number): number {
  return 2 * lineBytes + 256;
}

export class MetaCache {
  /** Map order is insertion (or last second chance) order: oldest first. */
  private readonly byKey = new Map<string, Cached>();
  private bytes = 0;

  constructor(
    private readonly maxEntries = META_CACHE_ENTRIES,
    private readonly maxBytes = META_CACHE_BYTES,
  ) {}

  get size(): number {
    return this.byKey.size;
  }

  /** The record's metadata if cached and still its current line's, else undefined. */
  get(rec: DiskRecord, gen: number): EntryMeta | undefined {
    const c = this.byKey.get(rec.key);
    if (c === undefined) return undefined;
    if (!stillCurrent(c, rec, gen)) {
      this.drop(rec.key);
      return undefined;
    }
    c.used = true;
    return c.meta;
  }

  /** Metadata read from the line `stamp` names (the stamp taken before the read began). */
  set(stamp: LineStamp, meta: EntryMeta, lineBytes: number): void {
    const bytes = estimate(lineBytes);
    if (bytes > this.maxBytes) return;
    this.drop(stamp.rec.key);
    this.byKey.set(stamp.rec.key, { rec: stamp.rec, gen: stamp.gen, lineOff: stamp.lineOff, softAt: stamp.softAt, meta, bytes, used: true });
    this.bytes += bytes;
    this.evict();
  }

  /** Over a bound: the oldest entry not hit since its last chance goes; hit ones get another chance at the young end. */
  private evict(): void {
    // Each entry is passed over at most once per call: after a full round, every one is unmarked.
    let chances = this.byKey.size;
    while (this.byKey.size > this.maxEntries || this.bytes > this.maxBytes) {
      const [key, oldest] = this.byKey.entries().next().value as [string, Cached];
      if (oldest.used && chances-- > 0) {
        oldest.used = false;
        this.byKey.delete(key);
        this.byKey.set(key, oldest);
        continue;
      }
      this.drop(key);
    }
  }

  drop(key: string): void {
    const c = this.byKey.get(key);
    if (c === undefined) return;
    this.byKey.delete(key);
    this.bytes -= c.bytes;
  }

  clear(): void {
    this.byKey.clear();
    this.bytes = 0;
  }
}
