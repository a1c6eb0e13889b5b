// What the tiers count for what they hold in RAM besides body bytes: estimates
// of V8 heap sizes, calibrated by test/unit/memory-accounting.test.ts (which
// measures the heap an entry really takes and fails when the estimate falls short).

import type { EntryMeta } from '../entry.js';

/** Per stored field: its slot in the headers object (the name and value are counted as strings). */
const FIELD_BYTES = 16;

/** A heap string: a 16-byte header and its characters rounded up to whole 8-byte words (one byte each for Latin-1). */
export function heapStringBytes(s: string): number {
  return 16 + ((s.length + 7) & ~7);
}

/** The strings of an entry's metadata and their slots: key, URL, fields, tags, vary values. */
export function metaStringsBytes(meta: EntryMeta): number {
  let n = heapStringBytes(meta.key) + heapStringBytes(meta.url) + heapStringBytes(meta.cacheControl);
  if (meta.primaryKey !== meta.key) n += heapStringBytes(meta.primaryKey);
  if (meta.integrity) n += heapStringBytes(meta.integrity);
  for (const k in meta.headers) n += FIELD_BYTES + heapStringBytes(k) + heapStringBytes(meta.headers[k]!);
  for (const t of meta.tags) n += 8 + heapStringBytes(t);
  for (const k in meta.varyValues) n += FIELD_BYTES + heapStringBytes(k) + heapStringBytes(meta.varyValues[k]!);
  return n;
}
