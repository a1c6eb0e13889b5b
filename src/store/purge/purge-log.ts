// The recent purges, for writes whose origin fetch began before them. A fetch
// takes a mark (Store.purgeMark) when it starts; its response may arrive after a
// purge, and the write it then opens must land nowhere if that purge covers it
// (invariant 7: an in-flight fill never brings purged content back). Bounded: a
// write whose mark is older than everything kept is treated as purged, which
// costs at most one refetch. The bounds count the bytes of what a purge names
// (URLs, prefixes, tags) and of the keys invalidated, not only their number:
// clients choose them, and 200,000 remembered 7 KB URLs would hold 1.4 GB.

import { selectorMatcher } from './purge-match.js';
import { uriOfKey } from '../../cache/key.js';
import type { EntryMeta, PurgeSelector } from '../types.js';
import { BoundedKeys, keyBytes, KEY_SLOT_BYTES, type KeyFigures } from '../../util/bounded-keys.js';

/** Purges remembered, and their selectors' items (URLs, prefixes, tags) in all: a fetch spanning more is not stored. */
const KEPT = 256;
const KEPT_ITEMS = 200_000;
const KEPT_ITEM_BYTES = 16 * 2 ** 20;
/**
 * Invalidations remembered (one primary key each, an unsafe method's RFC 9111 §4.4):
 * a site taking 1,000 writes a second keeps 10 s of them, so fetches up to that long
 * are judged by key, not all refused.
 */
const KEPT_INVALIDATIONS = 10_000;
const KEPT_INVALIDATION_BYTES = 8 * 2 ** 20;

function itemsOf(s: PurgeSelector): number {
  return 1 + s.primaryKeys.length + s.paths.length + s.urlPrefixes.length + s.pathPrefixes.length + s.tags.length;
}

/** What a selector's matcher holds: keyBytes() of each item it names, and a slot for itself. */
function itemBytesOf(s: PurgeSelector): number {
  let n = KEY_SLOT_BYTES;
  for (const list of [s.primaryKeys, s.paths, s.urlPrefixes, s.pathPrefixes, s.tags]) for (const item of list) n += keyBytes(item);
  return n;
}

export class PurgeLog {
  private seq = 0;
  private readonly recent: { seq: number; items: number; bytes: number; matches: (meta: EntryMeta) => boolean }[] = [];
  private items = 0;
  private itemBytes = 0;
  /** The newest purge no longer kept: a mark before it may have been purged. */
  private forgottenUpTo = 0;
  /** Primary keys invalidated, with the sequence number of the latest, oldest first. */
  private readonly invalidated = new BoundedKeys<number>({ maxKeys: KEPT_INVALIDATIONS, maxKeyBytes: KEPT_INVALIDATION_BYTES }, (_key, seq) => {
    this.invalidationsForgottenUpTo = Math.max(this.invalidationsForgottenUpTo, seq);
  });
  private invalidationsForgottenUpTo = 0;

  get mark(): number {
    return this.seq;
  }

  add(selector: PurgeSelector): void {
    const items = itemsOf(selector);
    const bytes = itemBytesOf(selector);
    this.recent.push({ seq: ++this.seq, items, bytes, matches: selectorMatcher(selector) });
    this.items += items;
    this.itemBytes += bytes;
    // Each matcher holds its selector's sets: bounded, so that many large purges cannot pile up.
    while (this.recent.length > 1 && (this.recent.length > KEPT || this.items > KEPT_ITEMS || this.itemBytes > KEPT_ITEM_BYTES)) {
      const gone = this.recent.shift()!;
      this.items -= gone.items;
      this.itemBytes -= gone.bytes;
      this.forgottenUpTo = gone.seq;
    }
  }

  /**
   * Everything stored for the URI of `primaryKey` was removed, its keyed versions too (not a
   * purge: nothing journalled); fetches begun before must not store any of it.
   */
  invalidate(primaryKey: string): void {
    // Forgotten past a bound: the forgetting raises invalidationsForgottenUpTo (a key too long to keep at once).
    this.invalidated.set(primaryKey, ++this.seq);
  }

  /** What is remembered, and the bytes of what it names (/stats remembered). */
  get figures(): KeyFigures & { purges: number; invalidations: number } {
    const inv = this.invalidated.figures;
    return { keys: this.items - this.recent.length + inv.keys, keyBytes: this.itemBytes + inv.keyBytes, maxKeyBytes: KEPT_ITEM_BYTES + inv.maxKeyBytes, purges: this.recent.length, invalidations: inv.keys };
  }

  /** Has a purge or invalidation after `mark` matched this entry? When the log no longer reaches back that far: yes. */
  purgedSince(mark: number, meta: EntryMeta): boolean {
    if (mark >= this.seq) return false;
    if (mark < this.forgottenUpTo || mark < this.invalidationsForgottenUpTo) return true;
    for (let i = this.recent.length - 1; i >= 0 && this.recent[i]!.seq > mark; i--) if (this.recent[i]!.matches(meta)) return true;
    if (this.invalidated.size === 0) return false;
    const at = this.invalidated.get(meta.primaryKey);
    if (at !== undefined && at > mark) return true;
    // A version a route keyed after "#" (cache/key.ts keySuffix) is one of its URI's.
    const uri = uriOfKey(meta.primaryKey);
    if (uri === meta.primaryKey) return false;
    const uriAt = this.invalidated.get(uri);
    return uriAt !== undefined && uriAt > mark;
  }
}
