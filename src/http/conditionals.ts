// Evaluating a client's own conditional GET/HEAD against a stored response
// (RFC 9110 §13.1.2, §13.1.3, precedence §13.2.2). Pure.

import type { HeaderMap } from './headers.js';
import { parseHttpDate } from './dates.js';

function opaque(tag: string): string {
  const t = tag.trim();
  return t.startsWith('W/') ? t.slice(2) : t;
}

/** Entity-tags of a list field; a tag may itself contain commas (RFC 9110 §8.8.3). */
function entityTags(list: string): string[] {
  return list.match(/(?:W\/)?"[^"]*"/g) ?? [];
}

/**
 * If-None-Match with weak comparison (RFC 9110 §13.1.2), evaluated against a
 * stored representation: "*" matches since one exists.
 */
export function noneMatchHits(ifNoneMatch: string, etag: string | undefined): boolean {
  if (ifNoneMatch.trim() === '*') return true;
  if (etag === undefined) return false;
  const mine = opaque(etag);
  for (const t of entityTags(ifNoneMatch)) if (opaque(t) === mine) return true;
  return false;
}

/** True when a GET/HEAD for `stored` should be answered 304 Not Modified. */
export function isNotModified(req: HeaderMap, stored: HeaderMap): boolean {
  const inm = req['if-none-match'];
  if (inm !== undefined) return noneMatchHits(inm, stored['etag']);
  const ims = req['if-modified-since'];
  if (ims === undefined) return false;
  const since = parseHttpDate(ims);
  const lm = parseHttpDate(stored['last-modified'] ?? stored['date']);
  if (Number.isNaN(since) || Number.isNaN(lm)) return false;
  return lm <= since;
}

/** Fields a 304 carries from the stored 200 (RFC 9110 §15.4.5). */
export const NOT_MODIFIED_FIELDS = ['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'last-modified'];
