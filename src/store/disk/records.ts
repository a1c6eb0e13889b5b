// The disk tier's vocabulary: its options, what it keeps per entry in RAM, its figures.
//
// A record is compact: the key, where the body is, where its index line is, and the
// purge-ban stamp. The entry's full metadata stays in its index line on disk and is
// read on a disk hit (record-lines.ts). A variant under Vary keeps beside it what the
// synchronous Vary selection reads (`more.sel`, entry.ts VariantSummary: no header
// section). A minority keeps its whole metadata in RAM (`more.meta`): slices (their
// look-up, pipeline/slices.ts, reads it synchronously), blob-file bodies (their blob is
// named by the integrity), entries whose URL cannot be derived from the (primary) key,
// and any record whose newest metadata is still on its way to the index (pinned until
// its line lands).

import type { Logger } from 'pino';
import { urlOfKey } from '../../cache/key.js';
import type { EntryMeta, ExpireFn, TierStats, WriteOptions } from '../types.js';
import { summaryOf, type VariantMeta, type VariantSummary } from '../../entry.js';
import { TierIndex } from '../tier-index.js';
import { UrlOrder } from '../url-order.js';
import { VariantIndex } from '../variant-index.js';
import type { WriteQueueStats } from './write-queue.js';
import { heapStringBytes } from '../ram-estimate.js';
import type { UnservedJournals } from '../purge/unserved-journals.js';

export interface DiskTierOptions {
  dir: string;
  maxBytes: number;
  logger: Logger;
  /**
   * Entries the tier above is serving right now (the memory tier holds them): the
   * disk's LRU passes over them while anything else can go, so a hot entry is not
   * lost from disk (and so from the next start) because memory answered its hits.
   */
  inUse?: (key: string) => boolean;
  /** How a soft purge makes an entry stale (cache policy). Without it, soft purges journalled earlier are applied as hard ones. */
  expire?: ExpireFn;
  /** Body writes queued at once (beyond: shed). */
  writeQueueMaxWrites?: number;
  /** Body bytes queued at once (beyond: shed). */
  writeQueueMaxBytes?: number;
  /** Serve at once and load the index beside the requests (load.ts). */
  loadInBackground?: boolean;
  /** Cache directories nobody serves now: every purge is journalled into them too (purge/unserved-journals.ts). */
  unserved?: UnservedJournals;
}

import type { Selectable } from '../purge/purge-bans.js';

/** What a minority of records keeps beyond the compact fields. */
export interface RecordMore {
  /** Metadata held in RAM: always for rich records, until its line lands for the others. */
  meta?: EntryMeta;
  /** What Vary selection reads of a summarized record (a variant) once its line has landed. */
  sel?: VariantSummary;
  /** When the line carrying `meta` was (or will be) written, ms: compaction writes it again with it. */
  time?: number;
  /** Purge tags of a compact record that has any. */
  tags?: string[];
  /** A soft purge instant not yet written to its line: applied to the metadata when it is read. */
  softAt?: number;
}

const NO_TAGS: string[] = [];

/**
 * RAM a compact record costs besides its key's characters, measured on Node 20
 * (test/unit/memory-accounting.test.ts): the DiskRecord object (96 bytes), its
 * slot in the records Map (28-56 as its table fills and doubles) and its place in
 * the URL order (~17), rounded up. 192 undercounted by 2-5 % on Node 20.20 (270-278 bytes
 * measured against 264 counted for a 72-byte key): the table's doubling lands in the count.
 */
export const RECORD_OVERHEAD_BYTES = 216;

/** Estimated RAM of a compact record under this key (one with metadata in RAM costs that metadata more). */
export function recordRamBytes(key: string): number {
  return RECORD_OVERHEAD_BYTES + heapStringBytes(key);
}

/** May an entry's metadata stay on disk only? Its primary key and URL follow from its key, and look-up needs no more than the key. */
export function compactable(meta: EntryMeta): boolean {
  return meta.varyNames.length === 0 && meta.slice === undefined && meta.key === meta.primaryKey && meta.url === urlOfKey(meta.key);
}

/**
 * May an entry's metadata stay on disk, RAM keeping its selection summary (a variant
 * under Vary, not compactable)? Not a slice, and its URL follows from its primary key
 * (purges select by it: `meta` below).
 */
export function summarizable(meta: EntryMeta): boolean {
  return !compactable(meta) && meta.slice === undefined && meta.url === urlOfKey(meta.primaryKey);
}

/** Distinct Vary name lists and value sets a tier's summaries share; past it the table starts again (bounded, whatever the origin sends). */
const MAX_SHARED_VARY = 4096;

/**
 * The summaries a tier's records keep. Its primary key is a slice of its key when the key
 * begins with it (a variant key does, cache/vary.ts): V8 keeps a reference into the key
 * rather than a second copy of the URL. Its Vary names and values are one frozen pair per
 * distinct set (a handful of codings for most sites), not two objects per record. One
 * per tier (its table is the tier's, as everything else it keeps).
 */
export class RecordSummaries {
  private readonly shared = new Map<string, { names: string[]; values: Record<string, string> }>();

  of(meta: EntryMeta): VariantSummary {
    const pk = meta.primaryKey;
    const s = summaryOf(meta, meta.key.length > pk.length && meta.key.startsWith(pk) ? meta.key.slice(0, pk.length) : pk);
    let id = meta.varyNames.join(',');
    for (const n in meta.varyValues) id += `\n${n}=${meta.varyValues[n]}`;
    let shared = this.shared.get(id);
    if (shared === undefined) {
      if (this.shared.size >= MAX_SHARED_VARY) this.shared.clear();
      shared = { names: Object.freeze([...meta.varyNames]) as string[], values: Object.freeze({ ...meta.varyValues }) };
      this.shared.set(id, shared);
    }
    s.varyNames = shared.names;
    s.varyValues = shared.values;
    return s;
  }
}

/**
 * The disk tier's indexes, spare for millions of entries: an entry stored under its
 * primary key is listed by `stored(primaryKey)` (no Set per URL), and the URL order
 * sorts by "GET " + URL, the key itself for most entries (no URL string; url-order.ts).
 */
export function diskIndexes(stored: (primaryKey: string) => boolean): TierIndex {
  return new TierIndex(new VariantIndex(stored), new UrlOrder({ mark: 'GET ', byKey: false }));
}

/** The largest hitSeq: with the verified bit, `bits` stays a small integer (under 2^30) on every V8 build. */
export const MAX_HIT_SEQ = 2 ** 29 - 1;

export class DiskRecord {
  /** Newest purge ban this record was checked against (purge-bans.ts). */
  bansChecked = 0;
  /**
   * `verified` (bit 0) and `hitSeq` (the bits above) in one small integer: a field
   * more would cost every record 8 bytes (RECORD_OVERHEAD_BYTES).
   */
  private bits = 0;

  /**
   * Its bytes were hashed by this process (written by it, or read whole and checked).
   * Later reads are length-checked only; a restart forgets it, so a body is verified
   * again before any of it is served, ranges included (file-body.ts).
   */
  get verified(): boolean {
    return (this.bits & 1) === 1;
  }

  set verified(v: boolean) {
    this.bits = v ? this.bits | 1 : this.bits & ~1;
  }

  /** Its latest hit's number since the LRU order was last brought up to date (record-order.ts); 0: none since. */
  get hitSeq(): number {
    return this.bits >>> 1;
  }

  set hitSeq(n: number) {
    this.bits = (n << 1) | (this.bits & 1);
  }

  constructor(
    readonly key: string,
    public size: number,
    /** Set for a small body in a segment file (segments.ts); undefined for a blob file of its own. */
    public segment: number | undefined,
    public off: number | undefined,
    /** Where its newest landed index line starts in the index file (-1: none in this file; `more.meta` holds the metadata). */
    public lineOff: number,
    /** Bytes of that line. */
    public lineBytes: number,
    public more: RecordMore | undefined,
  ) {}

  /** The metadata held in RAM, if any. */
  get held(): EntryMeta | undefined {
    return this.more?.meta;
  }

  /** What Vary selection reads, when RAM has more than the key: the whole metadata, or its summary. */
  get variant(): VariantMeta | undefined {
    const more = this.more;
    return more === undefined ? undefined : (more.meta ?? more.sel);
  }

  /** What purges select by (derived from the key, or the summary's primary key, unless held). */
  get meta(): Selectable {
    const held = this.more?.meta;
    if (held) return held;
    const primaryKey = this.primaryKey;
    return { key: this.key, primaryKey, url: urlOfKey(primaryKey), tags: this.more?.tags ?? NO_TAGS };
  }

  get primaryKey(): string {
    const more = this.more;
    return more === undefined ? this.key : (more.meta?.primaryKey ?? more.sel?.primaryKey ?? this.key);
  }

  get tags(): readonly string[] {
    return this.more?.meta?.tags ?? this.more?.tags ?? NO_TAGS;
  }

  /** The blob's integrity (blob records always hold their metadata). */
  get integrity(): string {
    return this.more?.meta?.integrity ?? '';
  }

  /** Hold `meta` in RAM (a line carrying it is on its way, or the record is rich). */
  hold(meta: EntryMeta, time: number): void {
    this.more = { meta, time };
  }

  /**
   * Drop held metadata once its line is in the index, keeping what purges need (tags) and,
   * for a variant, what Vary selection needs (its summary). A rich record keeps it all.
   */
  release(summaries: RecordSummaries): void {
    const m = this.more?.meta;
    if (m === undefined || this.segment === undefined || this.lineOff < 0) return;
    const tags = m.tags;
    if (compactable(m)) this.more = tags.length ? { tags } : undefined;
    else if (summarizable(m)) this.more = tags.length ? { sel: summaries.of(m), tags } : { sel: summaries.of(m) };
  }
}

export interface DiskWriteOptions extends WriteOptions {
  /**
   * Asked when the write lands: once false (the key was deleted, or a newer body
   * committed above this tier while this one was landing), the write lands nowhere
   * and leaves no older record for the key behind.
   */
  wanted?: () => boolean;
}

export interface DiskTierStats extends TierStats, WriteQueueStats {
  /** Reads that failed without a body found corrupt, since start: I/O errors (EMFILE, EIO…) and index lines unreadable when a hit read them (answered from the origin, nothing deleted). */
  ioErrors: number;
  /** Writes the disk refused (ENOSPC, EIO…: bodies, index lines, temp files), since start; the answers were served. */
  writeErrors: number;
  /** Entries removed because their blob failed its check or was missing, since start. */
  corrupt: number;
  /** Bytes of segment files no record refers to any more, until reclaimed (included in bytes). */
  deadBytes: number;
  /** Bytes of the index file (dead lines included until the next compaction). */
  indexBytes: number;
  /** The index is still loading (items and bytes cover what is loaded). */
  loading: boolean;
  /**
   * Estimated RAM of the records (recordRamBytes each), of the summaries variants keep,
   * and of the whole metadata slices and blob files keep (record-ram.ts). Not counted
   * against any budget: bounded by the disk size (CACHING.md, Storage limits).
   */
  recordBytes: number;
}
