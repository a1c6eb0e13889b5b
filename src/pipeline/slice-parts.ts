// Pieces of slicing (pipeline/slices.ts) that hold no state: what opening an object
// finds, what a version of an object is, the object's fields built from a slice's,
// why a slice fetch gave no slice, a slice read for one request alone, and a slice
// body trimmed to the bytes an answer reads.

import type { Readable } from 'node:stream';
import { isOriginError, type StaleOnFailure } from '../cache/decide.js';
import { objectValidator, sliceSpan } from '../cache/slicing.js';
import { REQUEST_SPECIFIC_REASONS } from '../cache/storable.js';
import { readerOf } from '../coalesce/shared-body.js';
import { CONTENT_DIGEST_FIELDS, type HeaderMap } from '../http/headers.js';
import { parseContentRange } from '../http/range.js';
import type { StrataError } from '../errors.js';
import type { EntryMeta, StoredEntry } from '../store/types.js';
import type { FetchOutcome } from './fetch-outcome.js';

/** What the slicer's open() finds (pipeline/slices.ts). */
export type SlicedObject =
  | {
      kind: 'object';
      /** The object as one stored 200: metadata of its first needed slice, a body reading slices. */
      entry: StoredEntry;
      ageS: number;
      /** The first needed slice was fresh in the cache (no origin request so far; later ones may still need one: holds()). */
      fromCache: boolean;
      /** The first needed slice came from another request's fetch, joined in flight (RFC 9211 collapsed). */
      collapsed: boolean;
      /** The first needed slice is a stale one the origin's failure let answer. */
      stale?: StaleOnFailure;
      upstream?: string;
      /** Call once the answer is over. */
      release: () => void;
    }
  /**
   * Not an object Strata slices: `small` (a whole entry suits it), `unsatisfiable`
   * (the range is beyond the end: nothing learnt), `origin-error` (isOriginError:
   * nothing learnt either, the request is passed on), or a reason it cannot be sliced
   * (no range support, no validator, not storable, Vary).
   */
  | { kind: 'unsliceable'; why: string }
  /**
   * The origin ignored the range and answered the whole object (200): that response, being
   * stored when storable (fetch-and-store.ts), for the caller to answer from. `collapsed`:
   * it was another request's fetch.
   */
  | { kind: 'whole'; outcome: WholeAnswer; collapsed: boolean }
  | { kind: 'failed'; error: StrataError };

/** A whole response to a slice's range request (the origin ignored Range). */
export type WholeAnswer = Extract<FetchOutcome, { kind: 'storing' | 'passing' }>;

/** Whether a slice fetch's outcome is the whole object, not a slice: a 200, stored whole or passed on. */
export function isWholeAnswer(o: FetchOutcome): boolean {
  return (o.kind === 'storing' && o.stored.slice === undefined) || (o.kind === 'passing' && o.status === 200);
}

/** Why a slice fetch gave no slice, for logs and Cache-Status. */
export function whyNot(o: FetchOutcome): string {
  if (o.kind === 'failed') return o.error.code.toLowerCase();
  if (o.kind === 'validated') return 'validated';
  if (o.kind === 'passing') return o.reason;
  return o.kind === 'storing' ? `status-${o.status}` : o.kind;
}

/**
 * Whether a slice fetch's outcome says something about the object (it changed, lost
 * range support, refuses storing): the origin failing (no answer; a 500, 502, 503 or
 * 504: isOriginError) says nothing of it, nor does a refusal that is this request's own.
 */
export function newsOfObject(o: FetchOutcome): boolean {
  if (o.kind === 'storing') return true;
  return o.kind === 'passing' && !isOriginError(o.status) && !REQUEST_SPECIFIC_REASONS.has(o.reason);
}

/**
 * The object's response fields, as a whole 200 would carry them. The first slice's
 * digests of its own bytes (Content-Digest, RFC 9530; the obsolete Content-MD5 and
 * Digest) would be wrong on the whole object and on any other range: dropped.
 * Repr-Digest covers the whole representation and stays.
 */
export function objectHeaders(meta: EntryMeta): HeaderMap {
  const h: HeaderMap = { ...meta.headers };
  for (const name of ['content-range', ...CONTENT_DIGEST_FIELDS, 'digest']) delete h[name];
  h['content-length'] = String(meta.slice!.totalBytes);
  return h;
}

/** One version of the object: its validator and its complete length (a grown object may keep its ETag). */
export type SliceVersion = Pick<NonNullable<EntryMeta['slice']>, 'validator' | 'totalBytes'>;

export function sameVersion(a: SliceVersion, b: SliceVersion): boolean {
  return a.validator === b.validator && a.totalBytes === b.totalBytes;
}

/** A slice an answer reads: stored, fetched for the object, or this request's own. */
export interface SliceSource {
  /** The stored slice's metadata; none for a slice read for this request alone (ownSlice). */
  meta?: EntryMeta;
  version: SliceVersion;
  read: (from: number, to: number) => AsyncIterable<Buffer>;
  /** Set when the slice comes from the origin (not the cache). */
  upstream?: string;
  /** The slice came from another request's fetch, joined in flight. */
  joined?: boolean;
  /** Stop holding the shared body if this source is never read. */
  release: () => void;
  /** A stale stored slice, read because the origin failed. */
  stale?: StaleOnFailure;
}

/**
 * A slice this request alone may not store (REQUEST_SPECIFIC_REASONS: its no-store,
 * its credentials, a Cookie under heuristic freshness) says nothing about the object:
 * read for this answer only when it is exactly slice `index` of the answer's version
 * (its Content-Range, validator and length), never stored, nothing dropped for it.
 * Undefined when it is anything else (the caller cuts the answer).
 */
export function ownSlice(o: Extract<FetchOutcome, { kind: 'passing' }>, index: number, sliceBytes: number, version: SliceVersion): SliceSource | undefined {
  if (!REQUEST_SPECIFIC_REASONS.has(o.reason) || o.status !== 206 || o.headers['vary'] !== undefined) return undefined;
  const cr = parseContentRange(o.headers['content-range']);
  if (!cr || cr.total !== version.totalBytes || objectValidator(o.headers) !== version.validator) return undefined;
  const span = sliceSpan(index, sliceBytes, cr.total);
  if (cr.start !== span.start || cr.end !== span.end) return undefined;
  // Read in the turn the outcome arrived: an unread passing body is abandoned after it.
  const r = readerOf(o.body);
  if (!r) return undefined;
  return { version, read: (from, to) => trimmed(r, from, to), upstream: o.upstream, release: () => r.destroy() };
}

export class SliceChangedError extends Error {
  readonly code = 'ESLICECHANGED';
}

/** Bytes [from, to] of one shared slice body (relative to the slice), read as they arrive. */
export async function* trimmed(reader: Readable, from: number, to: number): AsyncGenerator<Buffer> {
  let at = 0;
  try {
    for await (const chunk of reader as AsyncIterable<Buffer>) {
      const next = at + chunk.length;
      if (next > from) yield chunk.subarray(Math.max(0, from - at), Math.min(chunk.length, to - at + 1));
      at = next;
      if (at > to) return;
    }
    if (at <= to) throw new SliceChangedError(`slice ended after ${at} bytes, ${to + 1} expected`);
  } finally {
    // Leaving early detaches this reader only: the slice's cache fill goes on.
    reader.destroy();
  }
}
