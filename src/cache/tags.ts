// Purge tags an origin attaches to a response: Surrogate-Key (space-separated,
// Fastly's convention) and Cache-Tag (comma-separated, Cloudflare's and Akamai's).
// Both are read; the tags are stored with the entry so a purge by tag finds it.

import type { HeaderMap } from '../http/headers.js';

/** The request/response fields that carry purge tags. */
export const TAG_FIELDS: readonly string[] = ['surrogate-key', 'cache-tag'];

/** Tags named by a Surrogate-Key and/or Cache-Tag field, de-duplicated, in order. */
export function tagsOf(headers: HeaderMap): string[] {
  // Nearly every response carries neither: no Set, no split.
  if (headers['surrogate-key'] === undefined && headers['cache-tag'] === undefined) return [];
  const out = new Set<string>();
  // Node joins repeated fields with ", ", so a comma separates Surrogate-Keys too.
  for (const t of (headers['surrogate-key'] ?? '').split(/[ \t,]+/)) if (t !== '') out.add(t);
  for (const t of (headers['cache-tag'] ?? '').split(',')) {
    const tag = t.trim();
    if (tag !== '') out.add(tag);
  }
  return [...out];
}
