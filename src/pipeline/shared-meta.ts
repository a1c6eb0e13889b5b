// What the metadata of a stored entry shares with every other entry: the empty
// lists nearly every entry has (no Vary, no purge tags) are one frozen object each,
// and a header value many entries repeat (Content-Type, Cache-Control, a Date of the
// same second) is one string. Why: the memory tier holds ~2 KB of objects per entry
// on V8's heap, and a full collection marks every one of them; under a stream of
// misses those collections are where most of the CPU beyond a bare proxy went
// (bench "miss 1 KiB": a 256 MiB memory tier is ~100,000 entries).
//
// Invariant: shared objects are frozen, so a stage that tried to change one entry's
// list in place would throw rather than change every entry's.

import type { EntryMeta } from '../store/types.js';

const NO_ITEMS = Object.freeze([]) as unknown as string[];
const NO_VALUES = Object.freeze({}) as Record<string, string>;

/** Values longer than this are seldom repeated (ETags, long URLs): not worth a look-up. */
const MAX_SHARED_CHARS = 64;
/** Distinct values remembered; past it the table starts again (bounded, whatever the origin sends). */
const MAX_SHARED_VALUES = 4096;

export class SharedMeta {
  private readonly values = new Map<string, string>();

  /** Make `meta` (not yet stored anywhere) use the shared lists and strings. */
  share(meta: EntryMeta): void {
    if (meta.varyNames.length === 0) meta.varyNames = NO_ITEMS;
    if (meta.tags.length === 0) meta.tags = NO_ITEMS;
    if (isEmpty(meta.varyValues)) meta.varyValues = NO_VALUES;
    const h = meta.headers;
    for (const name in h) h[name] = this.value(h[name]!);
    meta.cacheControl = this.value(meta.cacheControl);
  }

  private value(v: string): string {
    if (v.length > MAX_SHARED_CHARS) return v;
    const held = this.values.get(v);
    if (held !== undefined) return held;
    if (this.values.size >= MAX_SHARED_VALUES) this.values.clear();
    this.values.set(v, v);
    return v;
  }
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}
