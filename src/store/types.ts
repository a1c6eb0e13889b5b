// The Store contract: what every tier (memory, disk, the tiered pair) offers. A
// store holds no HTTP policy: it keeps what it is given under a key, bounded by
// bytes, and makes a body visible only once it is committed whole.
//
// A Body is addressed by byte ranges so a tier may hold it as one buffer, a file,
// or (later) fixed-size slices, without the callers changing.

import type { Readable } from 'node:stream';
import type { HeaderMap } from '../http/headers.js';

/** Format version of stored metadata; a record of another version is a miss. */
export const ENTRY_FORMAT = 1;

/** Everything known about a stored response except its body. Plain JSON. */
export interface EntryMeta {
  v: typeof ENTRY_FORMAT;
  /** Variant key: the store's key. */
  key: string;
  /** Primary key (RFC 9111 §2) all variants of one URL share. */
  primaryKey: string;
  /** Absolute URL, for logs, purge and invalidation. */
  url: string;
  status: number;
  /** Stored response fields (lower-case names; hop-by-hop and Set-Cookie removed). */
  headers: HeaderMap;
  /** Varied request fields (sorted, lower-case) and the normalised values this variant was selected by. */
  varyNames: string[];
  varyValues: Record<string, string>;
  /** RFC 9111 §4.2.3 inputs, ms since epoch. */
  requestTimeMs: number;
  responseTimeMs: number;
  /** corrected_initial_age, seconds. */
  initialAgeS: number;
  /** Freshness lifetime (RFC 9111 §4.2.1), seconds, under Strata's effective directives. */
  freshnessLifetimeS: number;
  /** Effective caching directives (after CDN-Cache-Control / targeted field precedence). */
  cacheControl: string;
  /** Derived from cacheControl once at store time, so a hit parses nothing. */
  noCache: boolean;
  staleForbidden: boolean;
  staleWhileRevalidateS: number;
  staleIfErrorS: number;
  /** Body length in bytes; -1 while unknown (a writer sets it at commit). */
  bodySize: number;
  /** Subresource-integrity string of the body, when the tier computed one. */
  integrity?: string;
  /** Purge tags the origin gave the response (Surrogate-Key / Cache-Tag), de-duplicated. */
  tags: string[];
  /**
   * Set when the entry is one slice of a larger object (bytes [index × bytes,
   * min((index + 1) × bytes, totalBytes) − 1]), stored under the object's primary key
   * but never selected as its variant. `validator` ties the slices of one version.
   */
  slice?: { index: number; bytes: number; totalBytes: number; validator: string };
}

/**
 * Which entries a purge takes. An entry matches when any one part matches. URLs are
 * absolute and compared as stored in EntryMeta.url; `paths` and `pathPrefixes` match
 * the path-and-query of the URL under any authority. Plain JSON: it is journalled.
 */
export interface PurgeSelector {
  /** Primary keys: every variant of each. */
  primaryKeys: string[];
  /** Origin-form targets (path + query), exactly, under any authority. */
  paths: string[];
  urlPrefixes: string[];
  pathPrefixes: string[];
  tags: string[];
  all: boolean;
}

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
}

export interface WriteOptions {
  /**
   * purgeMark() taken when the origin fetch behind this write began: if a purge since
   * then covers the entry, the write (or update) lands nowhere.
   */
  purgeMark?: number;
}

/** Policy a tier is given to carry out soft purges: the metadata of `meta` made stale at `atMs`. */
export type ExpireFn = (meta: EntryMeta, atMs: number) => EntryMeta;

export interface Body {
  readonly size: number;
  /** The whole body, when the tier holds it in memory. */
  readonly buffer?: Buffer;
  /** Bytes [start, end] inclusive (defaults: the whole body). Errors if the stored bytes fail their check. */
  stream(start?: number, end?: number): Readable;
}

export interface StoredEntry {
  meta: EntryMeta;
  body: Body;
}

/** A body being written. Nothing is visible until commit() resolves. */
export interface BodyWriter {
  /** Resolves when the chunk is accepted (backpressure). */
  write(chunk: Buffer): Promise<void>;
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
}

export interface Store {
  /** Synchronous look-up when the tier can answer without I/O; undefined otherwise. */
  peek(key: string): StoredEntry | undefined;
  get(key: string): Promise<StoredEntry | undefined>;
  /** Metadata of every stored variant under a primary key. */
  variants(primaryKey: string): EntryMeta[];
  open(meta: EntryMeta, opts?: WriteOptions): BodyWriter;
  /** Replace the metadata of a stored entry (e.g. after a 304); the body is unchanged. */
  update(meta: EntryMeta, opts?: WriteOptions): Promise<void>;
  /**
   * A mark for WriteOptions.purgeMark, taken when an origin fetch begins. The tiered
   * store honours it; a single tier returns 0 and ignores it (as it does not
   * supersede writes in flight either).
   */
  purgeMark(): number;
  delete(key: string): Promise<boolean>;
  /**
   * Remove every variant under a primary key. A write under that primary key that
   * was opened before this call never becomes visible (its commit rejects with
   * SupersededError), so an in-flight fill cannot bring removed content back.
   * Resolves with the number of entries removed.
   */
  deleteVariants(primaryKey: string): Promise<number>;
  /**
   * Remove (hard) or expire (soft) every entry the selector matches. As with
   * deleteVariants, matching writes opened before this call never become visible.
   * Once it resolves, the effect is durable in tiers that persist. Resolves with the
   * number of entries affected.
   */
  purge(selector: PurgeSelector, opts?: PurgeOptions): Promise<number>;
  stats(): TierStats | Record<string, TierStats>;
  /** Wait for pending writes, then release resources. */
  close(): Promise<void>;
}

/** A body whose length differs from the one announced: never stored. */
export class BodyLengthError extends Error {
  readonly code = 'EBADSIZE';
  constructor(tier: string, actual: number, expected: number) {
    super(`${tier}: body is ${actual} bytes, expected ${expected}`);
  }
}

/** A write that lost to a deleteVariants() issued while it was in flight. */
export class SupersededError extends Error {
  readonly code = 'ESUPERSEDED';
  constructor(key: string) {
    super(`entry ${JSON.stringify(key)} was invalidated while being written; not stored`);
  }
}
