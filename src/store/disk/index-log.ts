// The disk tier's index on disk (index-v2.log): one JSON line per record, appended in
// the order the writes happened, the later line for a key winning. Shapes:
//   {"k":key,"t":ms,"s":size[,"g":segment,"o":offset][,"x":1][,"tg":[tags]],"m":meta,"i":integrity}
//                                   a body stored, its metadata replaced, or its body moved
//   {"k":key,"t":ms,"d":1}          the key removed
//   {"h":2}                         first line of a compacted file: it holds every live record,
//                                   so an older index-v1.log beside it is obsolete
// `m` is the EntryMeta without what the line says already (key, size, integrity) and
// without primaryKey and url when they follow from the key. Everything RAM keeps comes
// before `"m":`, so a load parses only that head (the integrity, needed on a hit only, after it); "x":1 marks a record that
// keeps more than its key in RAM (a variant's summary, or the whole metadata: records.ts), its line parsed whole at
// load; "tg" the tags of one that does not. `t` is the wall clock
// when the line was queued: purge journal records (purge-journal.ts) apply at start to
// the lines written before them. A torn last line (a crash mid-append) is skipped.
// `m.softPurgedAtMs` is on the lines of soft-purged entries only; a line written
// before it existed has none and reads as an entry no soft purge touched (the
// journal's soft purge, if still pending, stamps it again at load).
// Compaction (compaction.ts) rewrites the file with one line per live record.
//
// index-v1.log (the format before: the whole EntryMeta in RAM per record) is still
// read at start (legacy-index.ts) and converted by the first compaction.

import { urlOfKey } from '../../cache/key.js';
import { ENTRY_FORMAT, type EntryMeta } from '../types.js';
import { compactable } from './records.js';
import type { SegmentLocation } from './write-ops.js';

export const HEADER_LINE = '{"h":2}\n';

/** Where a record line's metadata begins: the head before it is what a load parses. */
export const META_MARK = ',"m":';

/**
 * The parts of a record line around what the writer thread adds (place and integrity):
 * `head` + `[,"g":…,"o":…]` + `tail` + `,"i":…}`.
 */
export function lineParts(meta: EntryMeta, time: number): { head: string; tail: string } {
  const { key, bodySize, primaryKey, url } = meta;
  const derived = primaryKey === key && url === urlOfKey(key);
  // A literal, not a rest spread: the spread copied the fields one by one through the
  // runtime on every stored miss. Undefined fields are left out by JSON.stringify.
  const m = {
    primaryKey: derived ? undefined : primaryKey,
    url: derived ? undefined : url,
    status: meta.status,
    headers: meta.headers,
    varyNames: meta.varyNames,
    varyValues: meta.varyValues,
    requestTimeMs: meta.requestTimeMs,
    responseTimeMs: meta.responseTimeMs,
    initialAgeS: meta.initialAgeS,
    freshnessLifetimeS: meta.freshnessLifetimeS,
    cacheControl: meta.cacheControl,
    noCache: meta.noCache,
    staleForbidden: meta.staleForbidden,
    staleWhileRevalidateS: meta.staleWhileRevalidateS,
    staleIfErrorS: meta.staleIfErrorS,
    softPurgedAtMs: meta.softPurgedAtMs,
    tags: meta.tags,
    slice: meta.slice,
    transform: meta.transform,
    byCoding: meta.byCoding,
  } satisfies { [K in keyof Omit<EntryMeta, 'v' | 'key' | 'bodySize' | 'integrity'>]-?: unknown };
  const flags = !compactable(meta) ? ',"x":1' : meta.tags.length ? `,"tg":${JSON.stringify(meta.tags)}` : '';
  return { head: `{"k":${JSON.stringify(key)},"t":${time},"s":${bodySize}`, tail: `${flags}${META_MARK}${JSON.stringify(m)}` };
}

export function assembleLine(head: string, integrity: string, at: SegmentLocation | undefined, tail: string): string {
  const loc = at ? `,"g":${at.segment},"o":${at.off}` : '';
  return `${head}${loc}${tail},"i":${JSON.stringify(integrity)}}\n`;
}

/** A whole record line (metadata held in RAM, integrity and size in it). */
export function recordLine(meta: EntryMeta, time: number, at?: { segment?: number | undefined; off?: number | undefined }): string {
  const { head, tail } = lineParts(meta, time);
  return assembleLine(head, meta.integrity ?? '', at?.segment !== undefined ? { segment: at.segment, off: at.off! } : undefined, tail);
}

export function removalLine(key: string, nowMs: number): string {
  return `${JSON.stringify({ k: key, t: nowMs, d: 1 })}\n`;
}

/** The same line with its body at another place in the segment files (a relocation). */
export function relocatedLine(line: string, at: SegmentLocation): string {
  const g = line.indexOf(',"g":');
  const o = line.indexOf(',"o":', g);
  if (g < 0 || o < 0) throw Object.assign(new Error('index line has no segment place'), { code: 'EINDEX' });
  let end = o + 5;
  while (end < line.length && line.charCodeAt(end) >= 48 && line.charCodeAt(end) <= 57) end++;
  return `${line.slice(0, g)},"g":${at.segment},"o":${at.off}${line.slice(end)}`;
}

/** What a record line's head says (everything before its metadata). */
export interface LineHead {
  k?: string;
  t?: number;
  s?: number;
  i?: string;
  g?: number;
  o?: number;
  x?: number;
  tg?: string[];
  d?: number;
  h?: number;
  m?: Record<string, unknown>;
}

/** The metadata of a whole record line read back (undefined: not a record line of `key`). */
export function metaOfLine(line: string, key: string): EntryMeta | undefined {
  let rec: LineHead;
  try {
    rec = JSON.parse(line) as LineHead;
  } catch {
    return undefined;
  }
  return metaOfParsed(rec, key);
}

export function metaOfParsed(rec: LineHead, key: string): EntryMeta | undefined {
  if (rec.k !== key || typeof rec.i !== 'string' || !validSize(rec.s) || !wellFormedMeta(rec.m)) return undefined;
  const m = rec.m as Partial<EntryMeta>;
  const meta = { v: ENTRY_FORMAT, key, primaryKey: m.primaryKey ?? key, url: m.url ?? urlOfKey(key), ...m, bodySize: rec.s, integrity: rec.i } as EntryMeta;
  meta.tags ??= [];
  return meta;
}

/** A body size a record may have: a whole number of bytes (a line's `s`). */
export function validSize(s: unknown): s is number {
  return typeof s === 'number' && s >= 0 && Number.isInteger(s);
}

/**
 * Has read-back metadata the shape every reader of EntryMeta relies on (a status, a
 * map of string fields, lists where lists are)? Why: a line that is valid JSON but not
 * of this shape (foreign, hand-edited, damaged) was loaded as an entry, and answering
 * it threw in the middle of a response, cutting the client (CACHING.md: a record that
 * cannot be read is a miss). A few typeof checks: the loader runs it per line.
 */
export function wellFormedMeta(m: unknown): boolean {
  if (typeof m !== 'object' || m === null) return false;
  const { status, headers, varyNames, varyValues, tags } = m as Record<string, unknown>;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 999) return false;
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) return false;
  for (const name in headers) if (typeof (headers as Record<string, unknown>)[name] !== 'string') return false;
  if (varyNames !== undefined && !Array.isArray(varyNames)) return false;
  if (varyValues !== undefined && (typeof varyValues !== 'object' || varyValues === null)) return false;
  return tags === undefined || Array.isArray(tags);
}
