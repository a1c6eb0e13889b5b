// What the compression stage may touch (pure): which responses are compressed,
// which are keyed by content coding, and the one reason a body is left alone.
//
// Never compressed, whatever compress.types says: media and already-compressed
// types, bodies with a Content-Encoding, Cache-Control: no-transform (RFC 9110
// §7.7), anything but a 200 (so never a 206), bodies below compress.minBytes,
// objects stored in slices, and HEAD (the caller's rule: nothing is made for a
// request that reads no body).

import { hasNoTransform } from '../http/cache-control.js';
import type { HeaderMap } from '../http/headers.js';
import { DECODABLE } from './codings.js';

export const ACCEPT_ENCODING = 'accept-encoding';

export interface CompressRules {
  /** Media type patterns: exact, type/*, or +suffix (config compress.types). */
  types: readonly string[];
  minBytes: number;
}

/** Why a body is not compressed; undefined when it may be. */
export type NotCompressed = 'status' | 'encoded' | 'no-transform' | 'type' | 'small' | 'size-unknown' | 'slice';

/** Types that are media or compressed already: never compressed (a pattern cannot bring them back). */
const NEVER_TYPES = /^(?:image\/(?!svg\+xml$)|audio\/(?!(?:x-)?mpegurl$)|video\/|application\/(?:zip|gzip|x-gzip|zstd|x-bzip2|x-xz|x-7z-compressed|x-rar-compressed|pdf|octet-stream)$|font\/woff2?$|text\/event-stream$)/;

/** The media type of a Content-Type value, lower-case, without parameters. */
export function mediaType(contentType: string | undefined): string {
  if (!contentType) return '';
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

export function typeMatches(type: string, patterns: readonly string[]): boolean {
  if (!type || NEVER_TYPES.test(type)) return false;
  for (const p of patterns) {
    if (p.startsWith('+') ? type.endsWith(p) : p.endsWith('/*') ? type.startsWith(p.slice(0, -1)) : type === p) return true;
  }
  return false;
}

export function noTransform(headers: HeaderMap): boolean {
  return hasNoTransform(headers['cache-control']);
}

/**
 * The body's content coding, lower-case; identity when absent. x-gzip is gzip (RFC 9110
 * §8.4.1.3), as in Accept-Encoding (negotiate.ts): one name for what is keyed and accepted.
 * Identity members are dropped: they change no byte, and "gzip, identity" left whole was
 * no coding Strata knows, so its gzip bytes went to clients without gzip. Several codings
 * applied in turn stay a list (nothing Strata decodes, so never keyed by coding).
 */
export function contentCoding(headers: HeaderMap): string {
  const ce = headers['content-encoding'];
  if (!ce) return 'identity';
  const codings: string[] = [];
  for (const member of ce.split(',')) {
    const c = member.trim().toLowerCase();
    if (c !== '' && c !== 'identity') codings.push(c === 'x-gzip' ? 'gzip' : c);
  }
  return codings.length === 0 ? 'identity' : codings.join(', ');
}

/**
 * Whether a stored response is keyed by content coding (Accept-Encoding in its
 * variant key with the coding of its bytes as the value): a 200 Strata may
 * compress, or one in a coding Strata can decode for clients without it.
 */
export function codingKeyed(status: number, headers: HeaderMap, rules: CompressRules): boolean {
  if (status !== 200 || noTransform(headers)) return false;
  if (headers['vary']?.includes('*')) return false;
  const coding = contentCoding(headers);
  if (coding !== 'identity') return DECODABLE.has(coding);
  return typeMatches(mediaType(headers['content-type']), rules.types);
}

/**
 * Whether Strata may decode a body in `coding` (RFC 9110 §7.7: decoding is a transformation
 * too): a 200 without no-transform, in a coding it can decode. Unlike keying, whatever the
 * Vary: a response never stored (Vary: *) is decoded for its client all the same.
 */
export function mayDecode(status: number, headers: HeaderMap, coding: string): boolean {
  return decodeAllowed(status, noTransform(headers), coding);
}

/** mayDecode() from what a variant's summary says (entry.ts noTransformOf). */
export function decodeAllowed(status: number, noTransform: boolean, coding: string): boolean {
  return status === 200 && DECODABLE.has(coding) && !noTransform;
}

/** Why a body of `bodySize` bytes (-1: not known yet) is not compressed; undefined when it may be. */
export function whyNotCompressed(status: number, headers: HeaderMap, bodySize: number, rules: CompressRules, slice = false): NotCompressed | undefined {
  if (slice) return 'slice';
  if (status !== 200) return 'status';
  if (contentCoding(headers) !== 'identity') return 'encoded';
  if (noTransform(headers)) return 'no-transform';
  if (!typeMatches(mediaType(headers['content-type']), rules.types)) return 'type';
  // Decided once the size is known (the next request, from the stored copy).
  if (bodySize < 0) return 'size-unknown';
  if (bodySize < rules.minBytes) return 'small';
  return undefined;
}
