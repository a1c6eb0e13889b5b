// Byte-range requests (RFC 9110 §14.1.2, §14.2) and If-Range (§13.1.5). Pure.
//
// Rules (CACHING.md "Ranges"):
// - A Range field that is not valid `bytes=` syntax anywhere in its list is ignored
//   (full response), as §14.2 allows.
// - Satisfiable ranges are clamped to the representation, sorted, and ranges that
//   overlap or touch are merged (§14.2 permits coalescing), so no byte is sent twice.
// - A list where no range is satisfiable is unsatisfiable (416); a suffix-range of an
//   empty representation is satisfiable but selects nothing: ignored (200).
// - Abuse is answered with the whole representation (200), never with work
//   proportional to the list (§14.2 "MAY ignore"): more than MAX_RANGES ranges, or
//   several ranges whose requested lengths add up to more than the representation
//   (overlap used to multiply the response, the "Apache killer" pattern).

import { parseHttpDate } from './dates.js';

export interface ByteRange {
  /** First and last byte, inclusive. */
  start: number;
  end: number;
}

export type RangeResult =
  | { kind: 'none' }
  | { kind: 'satisfiable'; ranges: ByteRange[] }
  | { kind: 'unsatisfiable' };

/** More ranges than this in one request: the whole representation is sent. */
export const MAX_RANGES = 16;

const NONE: RangeResult = { kind: 'none' };
const UNSATISFIABLE: RangeResult = { kind: 'unsatisfiable' };
const SPEC = /^\s*(\d*)\s*-\s*(\d*)\s*$/;

/** One range-spec as written: `first-[last]` (last Infinity when open), or a suffix `-n`. */
type RangeSpec = { first: number; last: number } | { suffix: number };

/**
 * The range-specs of a Range field, or undefined when the field is ignored whatever the
 * representation (§14.2): not `bytes`, invalid syntax anywhere (§14.1.1: a last-pos below
 * its first-pos included), no range at all, or more than MAX_RANGES. One reading for a hit
 * (parseRanges) and a miss (asksForRanges): a field ignored on one is ignored on the other.
 */
function rangeSpecs(header: string | undefined): RangeSpec[] | undefined {
  if (header === undefined) return undefined;
  const eq = header.indexOf('=');
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return undefined;
  // §5.6.1: empty list elements are allowed and ignored.
  const items = header
    .slice(eq + 1)
    .split(',')
    .filter((s) => s.trim() !== '');
  if (items.length === 0 || items.length > MAX_RANGES) return undefined;
  const specs: RangeSpec[] = [];
  for (const item of items) {
    const m = SPEC.exec(item);
    if (!m) return undefined;
    const [, a, b] = m as unknown as [string, string, string];
    if (a === '' && b === '') return undefined;
    // Why no integer check: a digit string too long for exact arithmetic is still far
    // beyond any representation, and compares so.
    if (a === '') {
      specs.push({ suffix: Number(b) });
      continue;
    }
    const first = Number(a);
    const last = b === '' ? Infinity : Number(b);
    if (last < first) return undefined;
    specs.push({ first, last });
  }
  return specs;
}

/** Whether a request's Range field asks for byte ranges at all: one Strata would not ignore on any representation. */
export function asksForRanges(header: string | undefined): boolean {
  return rangeSpecs(header) !== undefined;
}

export function parseRanges(header: string | undefined, size: number): RangeResult {
  const specs = rangeSpecs(header);
  if (specs === undefined) return NONE;
  const wanted: ByteRange[] = [];
  let requested = 0;
  // §14.1.2: of an empty representation a non-zero suffix-range is satisfiable, yet no
  // Content-Range (§14.4) can name the nothing it selects: the field is ignored (§14.2 lets
  // a server ignore Range when the representation has no content), a 200, never a 416.
  let emptySuffix = false;
  for (const spec of specs) {
    if ('suffix' in spec) {
      // suffix-range: the last N bytes
      const n = spec.suffix;
      requested += Math.min(n, size);
      if (n > 0 && size > 0) wanted.push({ start: Math.max(0, size - n), end: size - 1 });
      else if (n > 0) emptySuffix = true;
      continue;
    }
    if (spec.first >= size) continue;
    const end = Math.min(spec.last, size - 1);
    requested += end - spec.first + 1;
    wanted.push({ start: spec.first, end });
  }
  if (wanted.length === 0) return emptySuffix ? NONE : UNSATISFIABLE;
  if (specs.length > 1 && requested > size) return NONE;
  return { kind: 'satisfiable', ranges: coalesce(wanted) };
}

/** Sorted, with overlapping or adjacent ranges merged. */
function coalesce(ranges: ByteRange[]): ByteRange[] {
  if (ranges.length === 1) return ranges;
  const sorted = ranges.slice().sort((x, y) => x.start - y.start);
  const out: ByteRange[] = [{ ...sorted[0]! }];
  for (let i = 1; i < sorted.length; i++) {
    const r = sorted[i]!;
    const last = out[out.length - 1]!;
    if (r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out;
}

/**
 * The lowest first-pos in a Range field, or 0 when the field names the end
 * (suffix ranges), is ignored (asksForRanges), or absent: where reading an object
 * of unknown length should start.
 */
export function firstRequestedByte(header: string | undefined): number {
  let first = Infinity;
  for (const spec of rangeSpecs(header) ?? []) {
    if ('suffix' in spec) return 0;
    first = Math.min(first, spec.first);
  }
  return Number.isFinite(first) ? first : 0;
}

/** Content-Range of a 206 (RFC 9110 §14.4): `bytes first-last/complete-length`, else undefined. */
export function parseContentRange(value: string | undefined): { start: number; end: number; total: number } | undefined {
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+)\s*$/i.exec(value ?? '');
  if (!m) return undefined;
  const r = { start: Number(m[1]), end: Number(m[2]), total: Number(m[3]) };
  return r.start <= r.end && r.end < r.total && Number.isSafeInteger(r.total) ? r : undefined;
}

/** The complete length a 416's Content-Range names (RFC 9110 §14.4 unsatisfied-range: `bytes *` `/length`), else undefined. */
export function unsatisfiedRangeLength(value: string | undefined): number | undefined {
  const m = /^\s*bytes\s+\*\/(\d+)\s*$/i.exec(value ?? '');
  const total = m ? Number(m[1]) : NaN;
  return Number.isSafeInteger(total) ? total : undefined;
}

/**
 * If-Range (RFC 9110 §13.1.5): a strong ETag match, or a date that is exactly the
 * stored Last-Modified when that Last-Modified is strong. `date` is the stored
 * response's Date: by §8.8.2.2 a Last-Modified is a strong validator only when it
 * is at least one second before Date (the resource could have changed twice
 * within the second it names otherwise). Without a Date it is weak, and a weak
 * date never allows the range: the whole representation is sent.
 */
export function ifRangeAllows(ifRange: string | undefined, etag: string | undefined, lastModified: string | undefined, date: string | undefined): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return etag !== undefined && !v.startsWith('W/') && !etag.startsWith('W/') && v === etag.trim();
  const asked = parseHttpDate(v);
  return !Number.isNaN(asked) && asked === parseHttpDate(lastModified) && strongLastModified(lastModified, date);
}

/**
 * Whether a stored response's Last-Modified is a strong validator (RFC 9110
 * §8.8.2.2): its Date at least one second later. Within the second it names, the
 * resource could have changed again under the same date; without a Date, unknown.
 */
export function strongLastModified(lastModified: string | undefined, date: string | undefined): boolean {
  const modified = parseHttpDate(lastModified);
  const dated = parseHttpDate(date);
  return !Number.isNaN(modified) && !Number.isNaN(dated) && dated - modified >= 1000;
}
