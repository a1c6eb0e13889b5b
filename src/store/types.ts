// The Store contract: what every tier (memory, disk, the tiered pair) offers. A
// store holds no HTTP policy: it keeps what it is given under a key, bounded by
// bytes, and makes a body visible only once it is committed whole.
//
// A Body is addressed by byte ranges so a tier may hold it as one buffer, a file,
// or (later) fixed-size slices, without the callers changing.

import type { Readable } from 'node:stream';

export { ENTRY_FORMAT, type EntryMeta, type PurgeSelector, type VariantMeta } from '../entry.js';
import type { EntryMeta, PurgeSelector, VariantMeta } from '../entry.js';

export interface PurgeOptions {
  /**
   * Soft purge at this instant (ms since epoch, the caller's clock): matching entries
   * stay, their metadata replaced by the tier's `expire(meta, softAtMs)` (policy the
   * tier is given at construction, which makes them stale). Absent: hard, removed.
   */
  softAtMs?: number;
  /**
   * Called in the synchronous step in which the purge takes effect, so that state
   * kept outside the store (fetches in flight) is dropped at the same instant.
   */
  onApply?: () => void;
  /**
   * Called when the count the purge resolves with is a lower bound: a tier's index was
   * still loading, so entries not loaded yet are purged as they load, uncounted.
   */
  onPartialCount?: () => void;
}

export interface WriteOptions {
  /**
   * purgeMark() taken when the origin fetch behind this write began: if a purge since
   * then covers the entry, the write (or update) lands nowhere.
   */
  purgeMark?: number;
  /**
   * Keep the entry in memory only (a cluster's edge copy): a body memory does not
   * admit is not stored anywhere (commit rejects).
   */
  memoryOnly?: boolean;
  /**
   * For update(): the stored entry (as a look-up handed it out) whose metadata this
   * refreshes — the body a 304 validated. A tier whose entry under the key is no longer
   * that body (a newer one was stored while the validation was in flight) drops the
   * update: the 304's validators and fields are not the newer body's. Absent: any body.
   */
  refreshes?: StoredEntry;
}

/** Policy a tier is given to carry out soft purges: the metadata of `meta` made stale at `atMs`. */
export type ExpireFn = (meta: EntryMeta, atMs: number) => EntryMeta;

export interface Body {
  readonly size: number;
  /** The whole body, when the tier holds it in memory (joined into one Buffer on first use). */
  readonly buffer?: Buffer;
  /** The body held in memory as it is kept (one Buffer, or the chunks it arrived in), without joining them. */
  readonly chunks?: readonly Buffer[];
  /** Bytes [start, end] inclusive (defaults: the whole body). Errors if the stored bytes fail their check. */
  stream(start?: number, end?: number): Readable;
  /**
   * Present on a body in a lent buffer (a disk hit read whole, disk/read-buffers.ts):
   * called once no byte of it can be read any more (the one answer that sent it has
   * finished), the buffer is lent again. Never called: it is simply not reused.
   */
  release?(): void;
}

export interface StoredEntry {
  meta: EntryMeta;
  body: Body;
}

/** A body being written. Nothing is visible until commit() resolves. */
export interface BodyWriter {
  /**
   * Take a chunk: undefined when it was taken at once (a body held in memory), else a promise
   * that resolves when the writer can take more (backpressure) or rejects when it failed. Why
   * not always a promise: a promise for every chunk, and one more for each tier it passed
   * through, was paid on every miss, and a miss's allocation is what its scavenges cost.
   */
  write(chunk: Buffer): void | Promise<void>;
  /**
   * Make the entry visible. When meta.bodySize was known at open, a different
   * length rejects and stores nothing; otherwise meta.bodySize is set.
   */
  commit(): Promise<void>;
  /** Drop everything written so far. */
  abort(reason?: Error): void;
}

export interface TierStats {
  items: number;
  bytes: number;
  maxBytes: number;
  /** Entries removed to stay within maxBytes, since start. */
  evictions: number;
}

/** What every store offers: look-up, writes visible only once committed, removal, figures. */
export interface Store {
  /** Synchronous look-up when the tier can answer without I/O; undefined otherwise. */
  peek(key: string): StoredEntry | undefined;
  get(key: string): Promise<StoredEntry | undefined>;
  /**
   * get() without a promise when the tier answers at once (a disk hit whose metadata
   * is in RAM and whose body is read on the event loop); a promise otherwise.
   */
  find?(key: string): StoredEntry | undefined | Promise<StoredEntry | undefined>;
  /**
   * After a memory miss (peek() found nothing): the entry under `key` when it is at hand
   * without waiting and varies on nothing (it answers every request for its URL); undefined otherwise.
   */
  findUnvaried?(key: string): StoredEntry | undefined;
  /** What Vary selection needs of every stored variant under a primary key (get() gives the whole metadata). */
  variants(primaryKey: string): VariantMeta[];
  /** The whole metadata under `key`, without its body and without touching recency (a read when the tier keeps it on disk). */
  readMeta?(key: string): Promise<EntryMeta | undefined>;
  open(meta: EntryMeta, opts?: WriteOptions): BodyWriter;
  /** Replace the metadata of a stored entry (e.g. after a 304); the body is unchanged. */
  update(meta: EntryMeta, opts?: WriteOptions): Promise<void>;
  delete(key: string): Promise<boolean>;
  stats(): TierStats | Record<string, TierStats>;
  /** Wait for pending writes, then release resources. */
  close(): Promise<void>;
}

/**
 * Called in the synchronous step in which a purge takes effect (before it is
 * acknowledged). A promise returned is awaited before the purge resolves (a record
 * that must be durable with it: cluster/purge-times.ts); it must not reject.
 */
export type PurgedListener = (selector: PurgeSelector, soft: boolean) => unknown;

/**
 * Called in the synchronous step in which an invalidation (Purgeable.invalidate) takes
 * effect, before any of it is removed: state kept outside the store (fetches in flight)
 * is dropped at the same instant.
 */
export type InvalidatedListener = (primaryKey: string) => void;

/** Removing by selection: invalidation and purges, and keeping fetches begun before them out. */
export interface Purgeable {
  /**
   * A mark for WriteOptions.purgeMark, taken when an origin fetch begins. The tiered
   * store honours it; a single tier returns 0 and ignores it (as it does not
   * supersede writes in flight either).
   */
  purgeMark(): number;
  /**
   * Remove everything stored for one URI (an unsafe method's invalidation, RFC 9111
   * §4.4): every variant under its primary key and every version a route keyed after
   * "#" (keys `primaryKey#…`, cache/key.ts keySuffix), with their variants. A write
   * under any of them opened before this call never becomes visible (its commit rejects
   * with SupersededError), so an in-flight fill cannot bring removed content back.
   * Not a purge: nothing is journalled and purge listeners are not told; each removal
   * is written as a delete() writes it. Resolves with the number of entries removed.
   */
  invalidate(primaryKey: string): Promise<number>;
  /**
   * Remove (hard) or expire (soft) every entry the selector matches. As with
   * invalidate, matching writes opened before this call never become visible.
   * Once it resolves, the effect is durable in tiers that persist. Resolves with the
   * number of entries affected.
   */
  purge(selector: PurgeSelector, opts?: PurgeOptions): Promise<number>;
}

/** The store the request path and the admin API use: the tiers together. */
export interface CacheStore extends Store, Purgeable {
  /** Be told of every purge in the synchronous step in which it takes effect. */
  onPurged(listener: PurgedListener): void;
  /** Be told of every invalidation in the synchronous step in which it takes effect. */
  onInvalidated(listener: InvalidatedListener): void;
}

/** A body whose length differs from the one announced: never stored. */
export class BodyLengthError extends Error {
  readonly code = 'EBADSIZE';
  constructor(tier: string, actual: number, expected: number) {
    super(`${tier}: body is ${actual} bytes, expected ${expected}`);
  }
}

/** A write cancelled while in flight: by a delete, an invalidate() or a purge covering it, or the commit of a newer response of its key. */
export class SupersededError extends Error {
  readonly code = 'ESUPERSEDED';
  constructor(key: string) {
    super(`entry ${JSON.stringify(key)} was superseded while being written (a purge, a delete, or a newer response of the key); not stored`);
  }
}
