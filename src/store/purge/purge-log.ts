// The recent purges, for writes whose origin fetch began before them. A fetch
// takes a mark (Store.purgeMark) when it starts; its response may arrive after a
// purge, and the write it then opens must land nowhere if that purge covers it
// (invariant 7: an in-flight fill never brings purged content back). Bounded: a
// write whose mark is older than everything kept is treated as purged, which
// costs at most one refetch.

import { selectorMatcher } from './purge-match.js';
import { uriOfKey } from '../../cache/key.js';
import type { EntryMeta, PurgeSelector } from '../types.js';

/** Purges remembered, and their selectors' items (URLs, prefixes, tags) in all: a fetch spanning more is not stored. */
const KEPT = 256;
const KEPT_ITEMS = 200_000;
/**
 * Invalidations remembered (one primary key each, an unsafe method's RFC 9111 §4.4):
 * a site taking 1,000 writes a second keeps 10 s of them, so fetches up to that long
 * are judged by key, not all refused.
 */
const KEPT_INVALIDATIONS = 10_000;

function itemsOf(s: PurgeSelector): number {
  return 1 + s.primaryKeys.length + s.paths.length + s.urlPrefixes.length + s.pathPrefixes.length + s.tags.length;
}

export class PurgeLog {
  private seq = 0;
  private readonly recent: { seq: number; items: number; matches: (meta: EntryMeta) => boolean }[] = [];
  private items = 0;
  /** The newest purge no longer kept: a mark before it may have been purged. */
  private forgottenUpTo = 0;
  /** Primary keys invalidated, with the sequence number of the latest, oldest first. */
  private readonly invalidated = new Map<string, number>();
  private invalidationsForgottenUpTo = 0;

  get mark(): number {
    return this.seq;
  }

  add(selector: PurgeSelector): void {
    const items = itemsOf(selector);
    this.recent.push({ seq: ++this.seq, items, matches: selectorMatcher(selector) });
    this.items += items;
    // Each matcher holds its selector's sets: bounded, so that many large purges cannot pile up.
    while (this.recent.length > 1 && (this.recent.length > KEPT || this.items > KEPT_ITEMS)) {
      const gone = this.recent.shift()!;
      this.items -= gone.items;
      this.forgottenUpTo = gone.seq;
    }
  }

  /**
   * Everything stored for the URI of `primaryKey` was removed, its keyed versions too (not a
   * purge: nothing journalled); fetches begun before must not store any of it.
   */
  invalidate(primaryKey: string): void {
    this.invalidated.delete(primaryKey);
    this.invalidated.set(primaryKey, ++this.seq);
    if (this.invalidated.size > KEPT_INVALIDATIONS) {
      const [oldest, seq] = this.invalidated.entries().next().value!;
      this.invalidated.delete(oldest);
      this.invalidationsForgottenUpTo = seq;
    }
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
