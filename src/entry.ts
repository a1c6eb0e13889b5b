// The vocabulary cache/ (policy) and store/ (storage) share: what a stored
// response's metadata is, its format version, and what a purge selects. Plain JSON
// throughout: metadata is written to the disk index, selectors to the purge journal.

import { hasNoTransform } from './http/cache-control.js';
import type { HeaderMap } from './http/headers.js';

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
  /**
   * Set by a soft purge (cache/soft-purge.ts): the earliest purge instant, ms since
   * epoch. Such an entry is never reused under a client's max-stale (only the
   * response's stale-while-revalidate / stale-if-error windows, counted from the
   * purge, may serve it): a purge means "not without the origin". Absent in
   * metadata stored before this field existed (read as "not purged"); a 304's
   * merge makes new metadata without it.
   */
  softPurgedAtMs?: number;
  /** Purge tags the origin gave the response (Surrogate-Key / Cache-Tag), de-duplicated. */
  tags: string[];
  /**
   * Set when the entry is one slice of a larger object (bytes [index × bytes,
   * min((index + 1) × bytes, totalBytes) − 1]), stored under the object's primary key
   * but never selected as its variant. `validator` ties the slices of one version.
   */
  slice?: { index: number; bytes: number; totalBytes: number; validator: string };
  /**
   * Set when Strata made this body from another variant of the same response
   * (src/transform/): `coding` of its bytes, `level` it was made at ("decoded":
   * decoded from the origin's coding). The stored ETag stays the origin's (it
   * validates with the origin); clients see a weak, suffixed one.
   */
  transform?: { coding: string; level: 'fast' | 'best' | 'decoded'; sourceBytes: number };
  /**
   * Stored with compression on: varyValues['accept-encoding'] is the coding of this
   * body (transform/select.ts), not the request's Accept-Encoding as normalised.
   */
  byCoding?: boolean;
}

/**
 * What Vary selection reads of a stored variant (RFC 9111 §4.1): a tier may answer
 * with no more than this for an unvaried entry whose full metadata it keeps on disk.
 */
export type VariantMeta = Pick<EntryMeta, 'key' | 'primaryKey' | 'varyNames' | 'varyValues' | 'responseTimeMs' | 'slice' | 'byCoding' | 'transform'>;

/**
 * What coding selection (transform/select.ts) reads of a variant beyond VariantMeta: its
 * status and size, the validators a made variant is judged by against its source, and
 * whether it may be decoded (no-transform, RFC 9110 §7.7). The disk tier holds this in
 * RAM for a varied entry instead of its whole metadata (store/disk/records.ts), and
 * reads the rest from the entry's index line on a hit. Made by summaryOf(); a chooser
 * reads these fields through the accessors below, which give the same answers from a
 * whole EntryMeta, so a choice never depends on which tier answered.
 */
export interface VariantSummary extends VariantMeta {
  status: number;
  bodySize: number;
  etag: string | undefined;
  lastModified: string | undefined;
  noTransform: boolean;
}

/** A variant whose selection fields are known: whole metadata, or its summary. */
export type Summarized = EntryMeta | VariantSummary;

/**
 * Did the tier give the variant's whole metadata? The memory tier does for every varied
 * entry; the disk tier for slices and blob-file bodies, and for a varied entry only while
 * its index line is on its way (else its VariantSummary); an unvaried disk entry may come
 * as VariantMeta alone. A caller that needs more than selection reads the entry (get()).
 */
export function isWhole(m: VariantMeta): m is EntryMeta {
  return 'headers' in m;
}

/** Are the variant's selection fields known (whole, or a VariantSummary)? Only a bare unvaried disk entry's are not. */
export function isSummarized(m: VariantMeta): m is Summarized {
  return 'status' in m;
}

export function etagOf(m: Summarized): string | undefined {
  return 'headers' in m ? m.headers['etag'] : m.etag;
}

export function lastModifiedOf(m: Summarized): string | undefined {
  return 'headers' in m ? m.headers['last-modified'] : m.lastModified;
}

/** Cache-Control: no-transform (RFC 9110 §7.7) on the stored response. */
export function noTransformOf(m: Summarized): boolean {
  return 'headers' in m ? hasNoTransform(m.headers['cache-control']) : m.noTransform;
}

/**
 * The summary of whole metadata (`primaryKey`: the string to hold for it, e.g. one shared
 * with the key). Every field read through the accessors above, so a chooser answers alike
 * from either (test/unit/variant-summary.test.ts checks it on generated variant sets).
 */
export function summaryOf(meta: EntryMeta, primaryKey = meta.primaryKey): VariantSummary {
  return {
    key: meta.key,
    primaryKey,
    varyNames: meta.varyNames,
    varyValues: meta.varyValues,
    responseTimeMs: meta.responseTimeMs,
    slice: meta.slice,
    byCoding: meta.byCoding,
    transform: meta.transform,
    status: meta.status,
    bodySize: meta.bodySize,
    etag: etagOf(meta),
    lastModified: lastModifiedOf(meta),
    noTransform: noTransformOf(meta),
  };
}

/**
 * Which entries a purge takes. An entry matches when any one part matches. URLs are
 * absolute and compared as stored in EntryMeta.url; `paths` and `pathPrefixes` match
 * the path-and-query of the URL under any authority. Plain JSON: it is journalled.
 */
export interface PurgeSelector {
  /** Primary keys: every variant of each. */
  primaryKeys: string[];
  /** Origin-form targets (path + query), exactly, under any authority, with or without the members a key carries after "#". */
  paths: string[];
  /** A prefix ending at its only "#" takes that URL's keyed versions (matched by a set look-up, however many). */
  urlPrefixes: string[];
  pathPrefixes: string[];
  tags: string[];
  all: boolean;
}
