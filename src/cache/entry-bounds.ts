// What one stored entry may cost. A response over a bound is served but not stored,
// with the bound as its Cache-Status detail: a 7 KB URL, a response with 100 KB of
// headers, or the thousandth variant of one URL would otherwise cost the tiers (and
// the disk index, which keeps every stored field) far more than its body.

import type { HeaderMap } from '../http/headers.js';

export interface EntryBounds {
  /** Longest URL (cache key) stored, in bytes. */
  maxUrlBytes: number;
  /** Largest stored header block (names and values), in bytes. */
  maxHeaderBytes: number;
  /** Most variants (RFC 9111 §4.1) stored under one URL; Traffic Server keeps 5. */
  maxVariants: number;
}

export type OverBound = 'url-too-long' | 'headers-too-large' | 'too-many-variants';

/** Bytes of a header block as stored: names, values and a separator each. */
export function headerBytes(headers: HeaderMap): number {
  let n = 0;
  for (const k in headers) n += k.length + headers[k]!.length + 4;
  return n;
}

/**
 * The bound a new entry would exceed, or undefined. `variantsStored`: variants under
 * its URL now; `replacesVariant`: it replaces one of them (it adds none).
 */
export function overBound(entry: { url: string; headers: HeaderMap; variantsStored: number; replacesVariant: boolean }, bounds: EntryBounds): OverBound | undefined {
  if (Buffer.byteLength(entry.url) > bounds.maxUrlBytes) return 'url-too-long';
  if (headerBytes(entry.headers) > bounds.maxHeaderBytes) return 'headers-too-large';
  if (!entry.replacesVariant && entry.variantsStored >= bounds.maxVariants) return 'too-many-variants';
  return undefined;
}
