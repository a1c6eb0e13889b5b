// Single byte-range requests (RFC 9110 §14.1.2, §14.2). Anything that is not one
// valid byte range is ignored (full response), as the RFC allows; a valid range
// outside the representation is unsatisfiable (416).

import { parseHttpDate } from './dates.js';

export type RangeResult =
  | { kind: 'none' }
  | { kind: 'satisfiable'; start: number; end: number }
  | { kind: 'unsatisfiable' };

export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'none' };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return { kind: 'none' };
  const [, a, b] = m;
  if (a === '' && b === '') return { kind: 'none' };
  if (a === '') {
    // suffix range: the last N bytes
    const n = Number(b);
    if (n === 0) return { kind: 'unsatisfiable' };
    return size === 0 ? { kind: 'unsatisfiable' } : { kind: 'satisfiable', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  let end = b === '' ? size - 1 : Number(b);
  if (b !== '' && end < start) return { kind: 'none' };
  if (start >= size) return { kind: 'unsatisfiable' };
  if (end >= size) end = size - 1;
  return { kind: 'satisfiable', start, end };
}

/** If-Range (RFC 9110 §13.1.5): a strong ETag match or an exact Last-Modified date. */
export function ifRangeAllows(ifRange: string | undefined, etag: string | undefined, lastModified: string | undefined): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return etag !== undefined && !v.startsWith('W/') && !etag.startsWith('W/') && v === etag.trim();
  const date = parseHttpDate(v);
  return lastModified !== undefined && !Number.isNaN(date) && date === parseHttpDate(lastModified);
}
