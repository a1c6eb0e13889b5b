// The disk tier's vocabulary: its options, what it keeps per entry in RAM, its figures.
//
// A record is compact: the key, where the body is, where its index line is, and the
// purge-ban stamp. The entry's full metadata stays in its index line on disk and is
// read on a disk hit (record-lines.ts). A minority keeps its metadata in RAM (`more.meta`):
// entries the synchronous look-up needs more of than the key (variants under Vary,
// slices), blob-file bodies (their blob is named by the integrity), entries whose
// primary key or URL cannot be derived from the key, and any record whose newest
// metadata is still on its way to the index (pinned until its line lands).

import type { Logger } from 'pino';
import { urlOfKey } from '../../cache/key.js';
import type { EntryMeta, ExpireFn, TierStats, WriteOptions } from '../types.js';
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
 * the URL order (~17), rounded up.
 */
export const RECORD_OVERHEAD_BYTES = 192;

/** Estimated RAM of a compact record under this key (one with metadata in RAM costs that metadata more). */
export function recordRamBytes(key: string): number {
  return RECORD_OVERHEAD_BYTES + heapStringBytes(key);
}

/** May an entry's metadata stay on disk only? Its primary key and URL follow from its key, and look-up needs no more than the key. */
export function compactable(meta: EntryMeta): boolean {
  return meta.varyNames.length === 0 && meta.slice === undefined && meta.key === meta.primaryKey && meta.url === urlOfKey(meta.key);
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

  /** What purges select by (derived from the key unless held). */
  get meta(): Selectable {
    const held = this.more?.meta;
    if (held) return held;
    return { key: this.key, primaryKey: this.key, url: urlOfKey(this.key), tags: this.more?.tags ?? NO_TAGS };
  }

  get primaryKey(): string {
    return this.more?.meta?.primaryKey ?? this.key;
  }

  get tags(): readonly string[] {
    return this.more?.meta?.tags ?? this.more?.tags ?? NO_TAGS;
  }

  /** The blob's integrity (blob records always hold their metadata). */
  get integrity(): string {
    return this.more?.meta?.integrity ?? '';
  }

  /** Can its metadata leave RAM once its line is in the index? */
  get compactable(): boolean {
    const m = this.more?.meta;
    return this.segment !== undefined && this.lineOff >= 0 && (m === undefined || compactable(m));
  }

  /** Hold `meta` in RAM (a line carrying it is on its way, or the record is rich). */
  hold(meta: EntryMeta, time: number): void {
    this.more = { meta, time };
  }

  /** Drop held metadata once its line is in the index, keeping what purges need (tags). */
  release(): void {
    if (!this.compactable) return;
    const tags = this.tags;
    this.more = tags.length ? { tags: tags as string[] } : undefined;
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
  /** Read errors that were not the data's fault (EMFILE, EIO…), since start. */
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
   * Estimated RAM of the records (recordRamBytes each), and of the metadata records of
   * variants, slices and blob files keep (record-ram.ts). Not counted against any
   * budget: bounded by the disk size (CACHING.md, Storage limits).
   */
  recordBytes: number;
}
