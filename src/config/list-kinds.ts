// The kinds of list a setting can hold: host names, field names, content codings,
// media type patterns and status ranges, written comma-separated in a flag or env
// value or as a YAML list. See ./kinds.ts for what a kind is.

import { type Kind, notA, TOKEN } from './kinds.js';

/** "a, b" from a flag or env, or a YAML list; empty entries of a string are skipped, so "" is []. */
function listItems(raw: unknown): unknown[] | undefined {
  if (Array.isArray(raw)) return raw;
  return typeof raw === 'string' ? raw.split(',').filter((s) => s.trim() !== '') : undefined;
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** DNS names, comma-separated or a YAML list, lower-cased without a trailing dot ([] for none). */
export function hostNames(): Kind<string[]> {
  const expected = 'DNS names, comma-separated or a YAML list, e.g. admin.internal';
  return {
    arg: 'NAMES',
    parse: (raw) => {
      const items = listItems(raw);
      if (items === undefined) throw notA(raw, 'a list of host names', expected);
      return items.map((item) => {
        const name = typeof item === 'string' ? item.trim().toLowerCase().replace(/\.$/, '') : '';
        if (!HOST_NAME.test(name)) throw notA(item, 'a host name', expected);
        return name;
      });
    },
    format: (names) => [...names],
  };
}

/** HTTP field names (RFC 9110 §5.1), comma-separated or a YAML list, lower-cased ([] for none). */
export function fieldNames(example: string): Kind<string[]> {
  const expected = `HTTP field names, comma-separated or a YAML list, e.g. ${example}`;
  return {
    arg: 'FIELDS',
    parse: (raw) => {
      const items = listItems(raw);
      if (items === undefined) throw notA(raw, 'a list of field names', expected);
      return items.map((item) => {
        const name = typeof item === 'string' ? item.trim().toLowerCase() : '';
        if (!TOKEN.test(name)) throw notA(item, 'a field name', expected);
        return name;
      });
    },
    format: (names) => [...names],
  };
}

/** Content codings (names from a fixed set), comma-separated or a YAML list, lower-cased, in the order given ([] for none). */
export function codingNames(allowed: readonly string[], what: string): Kind<string[]> {
  const expected = `${what}, comma-separated or a YAML list, from ${allowed.join(', ')}`;
  return {
    arg: 'CODINGS',
    parse: (raw) => {
      const items = listItems(raw);
      if (items === undefined) throw notA(raw, `a list of ${what}`, expected);
      const out: string[] = [];
      for (const item of items) {
        const name = typeof item === 'string' ? item.trim().toLowerCase() : '';
        if (!allowed.includes(name)) throw notA(item, `one of ${what}`, expected);
        if (!out.includes(name)) out.push(name);
      }
      return out;
    },
    format: (names) => [...names],
  };
}

const MEDIA_PATTERN = /^(?:[a-z0-9][a-z0-9!#$&^_.+-]*\/(?:\*|[a-z0-9][a-z0-9!#$&^_.+-]*)|\+[a-z0-9][a-z0-9.-]*)$/;

/** Media types ("application/json"), type wildcards ("text/*") or structured suffixes ("+json"), comma-separated or a YAML list. */
export function mediaTypePatterns(): Kind<string[]> {
  const expected = 'media types, type/* or +suffix, comma-separated or a YAML list, e.g. text/*, application/json, +xml';
  return {
    arg: 'TYPES',
    parse: (raw) => {
      const items = listItems(raw);
      if (items === undefined) throw notA(raw, 'a list of media types', expected);
      return items.map((item) => {
        const t = typeof item === 'string' ? item.trim().toLowerCase() : '';
        if (!MEDIA_PATTERN.test(t)) throw notA(item, 'a media type pattern', expected);
        return t;
      });
    },
    format: (types) => [...types],
  };
}

export type StatusRanges = (readonly [number, number])[];

/** "200-399, 418" or a YAML list of codes and ranges → inclusive ranges. */
export function statusRanges(): Kind<StatusRanges> {
  const expected = 'status codes or ranges, e.g. 200-399, 418';
  return {
    arg: 'STATUSES',
    parse: (raw) => {
      const items = Array.isArray(raw) ? raw : typeof raw === 'string' || typeof raw === 'number' ? String(raw).split(',') : undefined;
      if (items === undefined || items.length === 0) throw notA(raw, 'a list of statuses', expected);
      return items.map((item) => {
        const m = /^\s*([1-5]\d\d)\s*(?:-\s*([1-5]\d\d)\s*)?$/.exec(String(item));
        const lo = Number(m?.[1]);
        const hi = m?.[2] === undefined ? lo : Number(m[2]);
        if (!m || hi < lo) throw notA(raw, 'a list of statuses', expected);
        return [lo, hi] as const;
      });
    },
    format: (ranges) => ranges.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}-${hi}`)).join(', '),
  };
}
