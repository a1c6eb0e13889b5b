// Vary (RFC 9111 §4.1): which request fields a stored response was selected by,
// normalised so that equivalent requests select the same variant. `Vary: *`
// never matches. Pure; no I/O.

import { createHash } from 'node:crypto';
import type { HeaderMap } from '../http/headers.js';

/**
 * Credentials a response may vary on: only their digest is kept in keys and
 * metadata, so the disk tier never holds a user's cookie or token in clear.
 */
const SECRET_FIELDS = new Set(['cookie', 'authorization', 'proxy-authorization']);

/**
 * List fields whose members are case-insensitive tokens: lower-cased and their
 * white space removed, so "en-US, fr" and "en-us,fr" select one variant. Their
 * order is kept: members of equal weight ("en-US, fr", no q) are ties an origin
 * commonly breaks by order (Django, Rails, most language negotiators), so
 * "fr, en-US" may well be answered in French and must not be served the English page.
 */
const CASELESS_LIST_FIELDS = new Set(['accept', 'accept-encoding', 'accept-language', 'accept-charset']);

/** Varied field names of a response, lower-cased; ['*'] when it varies on everything. */
export function varyNames(vary: string | undefined): string[] {
  if (!vary) return [];
  const names: string[] = [];
  for (const part of vary.split(',')) {
    const n = part.trim().toLowerCase();
    if (!n) continue;
    if (n === '*') return ['*'];
    if (!names.includes(n)) names.push(n);
  }
  return names.sort();
}

/** Stands for an absent field: it matches only absence, never an empty value (RFC 9111 §4.1). */
export const ABSENT = '\u0000';

/** Normalised value of one request field for variant matching. */
export function normaliseVaryValue(name: string, value: string | undefined): string {
  if (value === undefined) return ABSENT;
  if (SECRET_FIELDS.has(name)) return 'sha256:' + createHash('sha256').update(value.trim()).digest('base64');
  if (CASELESS_LIST_FIELDS.has(name)) {
    const members: string[] = [];
    for (const m of value.split(',')) {
      const t = m.replace(/\s+/g, '').toLowerCase();
      if (t) members.push(t);
    }
    return members.join(',');
  }
  // Other fields: only white space is normalised (RFC 9111 §4.1 allows
  // removing white space and combining lines; nothing more is safe in general).
  return value.trim().replace(/\s*,\s*/g, ',').replace(/[ \t]+/g, ' ');
}

/** The request's selecting values for the given varied names. */
export function selectingValues(names: readonly string[], req: HeaderMap): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) out[n] = normaliseVaryValue(n, req[n]);
  return out;
}

/**
 * Does this request select the stored variant? (RFC 9111 §4.1) `seen` keeps the
 * request's normalised values across the variants of one look-up: with `Vary: Cookie`
 * there is a variant per user, and each would otherwise hash the same cookie again.
 */
export function varyMatches(names: readonly string[], stored: Record<string, string>, req: HeaderMap, seen: Map<string, string> = new Map(), skip?: string): boolean {
  for (const n of names) {
    if (n === '*') return false;
    // A field the caller matches itself (Accept-Encoding, by negotiated coding: transform/select.ts).
    if (n === skip) continue;
    let v = seen.get(n);
    if (v === undefined) {
      v = normaliseVaryValue(n, req[n]);
      seen.set(n, v);
    }
    if (v !== (stored[n] ?? ABSENT)) return false;
  }
  return true;
}

/** Store key of one variant under a primary key. */
export function variantKey(primary: string, names: readonly string[], values: Record<string, string>): string {
  if (names.length === 0) return primary;
  let s = primary + '\n';
  for (const n of names) s += `${n}=${values[n] ?? ''}\n`;
  return s;
}
