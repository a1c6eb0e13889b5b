// Slicing rules (what nginx's slice module decides): which responses may be
// stored as fixed-size slices instead of whole, and what ties the slices of one
// version together. Pure; the slicing itself is pipeline/slices.ts.

import type { HeaderMap } from '../http/headers.js';
import { ifRangeAllows, parseRanges, strongLastModified } from '../http/range.js';
import type { EntryMeta } from '../entry.js';
import { decideReuse, requestDirectives, type RequestDirectives } from './reuse.js';

/**
 * What ties the slices of one version together (RFC 9111 §3.4: ranges are combined
 * only under one strong validator): a strong ETag, else a Last-Modified that is
 * strong (a second or more before Date: an object rewritten within the second its
 * Last-Modified names would otherwise be stitched from two versions).
 */
export function objectValidator(headers: HeaderMap): string | undefined {
  const etag = headers['etag']?.trim();
  if (etag && etag.startsWith('"')) return etag;
  const lm = headers['last-modified']?.trim();
  return lm && strongLastModified(lm, headers['date']) ? `lm:${lm}` : undefined;
}

/**
 * Whether a whole 200 should rather be stored in slices: larger than the
 * threshold, and saying it can be (byte ranges advertised, a validator, no Vary).
 */
export function worthSlicing(status: number, headers: HeaderMap, thresholdBytes: number): boolean {
  const cl = headers['content-length'];
  return (
    status === 200 &&
    cl !== undefined &&
    /^\d+$/.test(cl) &&
    Number(cl) > thresholdBytes &&
    /(^|,)\s*bytes\s*(,|$)/i.test(headers['accept-ranges'] ?? '') &&
    objectValidator(headers) !== undefined &&
    headers['vary'] === undefined
  );
}

/** The Range an origin request for slice `index` carries (the last slice's too: the origin trims it). */
export function sliceRange(index: number, sliceBytes: number): string {
  return `bytes=${index * sliceBytes}-${(index + 1) * sliceBytes - 1}`;
}

/** Bytes of slice `index` within an object of `total` bytes (the last one is shorter). */
export function sliceSpan(index: number, bytes: number, total: number): { start: number; end: number } {
  const start = index * bytes;
  return { start, end: Math.min(start + bytes, total) - 1 };
}

/** Between a primary key and the rest of one of its slices' keys (a space never occurs in a primary key's URL). */
export const SLICE_KEY_MARK = ' slice ';

/**
 * The hit-for-pass key that turns slicing off for an object (coalesce.hitForPassS): its
 * origin answered a slice's range with something that is no slice of it. Remembered so
 * a small or unrangeable object costs no probe per request, and an origin whose answer
 * to one slice is wrong is not asked for slices (and the answer cut there) again and again.
 */
export function noSlicesKey(primaryKey: string): string {
  return `${primaryKey} slices`;
}

/** Entry key of slice `index`; also the key of its fetch's flight (coalesce/coalescer.ts). */
export function sliceKey(primaryKey: string, bytes: number, index: number): string {
  return `${primaryKey}${SLICE_KEY_MARK}${bytes} ${index}`;
}

/** A stored slice usable for a request: a slice, of version `validator` when one is named, and reusable now. */
export function reusableSlice(m: EntryMeta | undefined, validator: string | undefined, directives: RequestDirectives, nowMs: number): boolean {
  if (m?.slice === undefined) return false;
  if (validator !== undefined && m.slice.validator !== validator) return false;
  return decideReuse(directives, m, nowMs).reuse;
}

/**
 * Whether the stored slices `stored` (metadata of an object's slices, any order)
 * hold everything an answer to `requestHeaders` sends, each fresh for it and all
 * of one version. What it sends: its Range when one applies (If-Range allowing),
 * else the whole object; an unsatisfiable range needs only the first slice (the
 * 416 states the length).
 */
export function slicesCover(stored: readonly EntryMeta[], primaryKey: string, sliceBytes: number, requestHeaders: HeaderMap, nowMs: number): boolean {
  const any = stored[0];
  if (any?.slice === undefined) return false;
  const total = any.slice.totalBytes;
  const range = requestHeaders['range'];
  const r = range !== undefined && ifRangeAllows(requestHeaders['if-range'], any.headers['etag'], any.headers['last-modified'], any.headers['date']) ? parseRanges(range, total) : undefined;
  const spans = r?.kind === 'satisfiable' ? r.ranges : r?.kind === 'unsatisfiable' ? [{ start: 0, end: 0 }] : [{ start: 0, end: total - 1 }];
  const byKey = new Map(stored.map((m) => [m.key, m]));
  const directives = requestDirectives(requestHeaders);
  // One version throughout: the one If-Range was judged against.
  const validator = any.slice.validator;
  for (const { start, end } of spans) {
    for (let i = Math.floor(start / sliceBytes); i <= Math.floor(end / sliceBytes); i++) {
      const m = byKey.get(sliceKey(primaryKey, sliceBytes, i));
      if (!reusableSlice(m, validator, directives, nowMs) || m!.slice!.totalBytes !== total) return false;
    }
  }
  return true;
}
