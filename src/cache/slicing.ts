// Slicing rules (what nginx's slice module decides): which responses may be
// stored as fixed-size slices instead of whole, and what ties the slices of one
// version together. Pure; the slicing itself is pipeline/slices.ts.

import type { HeaderMap } from '../http/headers.js';

/** What ties the slices of one version together: a strong ETag, else Last-Modified. */
export function objectValidator(headers: HeaderMap): string | undefined {
  const etag = headers['etag']?.trim();
  if (etag && etag.startsWith('"')) return etag;
  const lm = headers['last-modified']?.trim();
  return lm ? `lm:${lm}` : undefined;
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
