// Parsed metadata of hot compact records, so a disk hit on one does not read and parse
// its index line again (one trip through libuv's pool and a JSON.parse per hit). A
// record's RAM stays compact (records.ts): this cache is bounded on its own, by
// entries and by an estimate of their bytes, least recently used dropped first (as
// nginx's open_file_cache is bounded by max=).
//
// An entry is used only while it still describes the record: the same record object
// (a body written again is a new record), the same line in the same index file (an
// update or a relocation writes a new line; a compaction a new file) and the same
// soft-purge instant. Anything else is a miss and the line is read again, so a purge,
// delete, update or compaction never serves metadata the tier no longer holds; the
// tier also drops a removed record's entry at once (its RAM back).

import type { EntryMeta } from '../types.js';
import type { DiskRecord } from './records.js';

/** Where the cached metadata came from: a record, its line's place then, and its soft-purge instant then. */
export interface LineStamp {
  rec: DiskRecord;
  gen: number;
  lineOff: number;
  softAt: number | undefined;
}

interface Cached extends LineStamp {
  meta: EntryMeta;
  bytes: number;
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
  /** Map order is recency: least recently used first. */
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
    if (c.rec !== rec || c.gen !== gen || c.lineOff !== rec.lineOff || c.softAt !== rec.more?.softAt) {
      this.drop(rec.key);
      return undefined;
    }
    this.byKey.delete(rec.key);
    this.byKey.set(rec.key, c);
    return c.meta;
  }

  /** Metadata read from the line `stamp` names (the stamp taken before the read began). */
  set(stamp: LineStamp, meta: EntryMeta, lineBytes: number): void {
    const bytes = estimate(lineBytes);
    if (bytes > this.maxBytes) return;
    this.drop(stamp.rec.key);
    this.byKey.set(stamp.rec.key, { ...stamp, meta, bytes });
    this.bytes += bytes;
    while (this.byKey.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.byKey.keys().next().value as string;
      this.drop(oldest);
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
