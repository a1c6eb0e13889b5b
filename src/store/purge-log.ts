// The recent purges, for writes whose origin fetch began before them. A fetch
// takes a mark (Store.purgeMark) when it starts; its response may arrive after a
// purge, and the write it then opens must land nowhere if that purge covers it
// (invariant 7: an in-flight fill never brings purged content back). Bounded: a
// write whose mark is older than everything kept is treated as purged, which
// costs at most one refetch.

import { selectorMatcher } from './purge-match.js';
import type { EntryMeta, PurgeSelector } from './types.js';

/** Purges remembered, and their selectors' items (URLs, prefixes, tags) in all: a fetch spanning more is not stored. */
const KEPT = 256;
const KEPT_ITEMS = 200_000;

function itemsOf(s: PurgeSelector): number {
  return 1 + s.primaryKeys.length + s.paths.length + s.urlPrefixes.length + s.pathPrefixes.length + s.tags.length;
}

export class PurgeLog {
  private seq = 0;
  private readonly recent: { seq: number; items: number; matches: (meta: EntryMeta) => boolean }[] = [];
  private items = 0;

  get mark(): number {
    return this.seq;
  }

  add(selector: PurgeSelector): void {
    const items = itemsOf(selector);
    this.recent.push({ seq: ++this.seq, items, matches: selectorMatcher(selector) });
    this.items += items;
    // Each matcher holds its selector's sets: bounded, so that many large purges cannot pile up.
    while (this.recent.length > 1 && (this.recent.length > KEPT || this.items > KEPT_ITEMS)) this.items -= this.recent.shift()!.items;
  }

  /** Has a purge after `mark` matched this entry? When the log no longer reaches back that far: yes. */
  purgedSince(mark: number, meta: EntryMeta): boolean {
    if (mark >= this.seq) return false;
    if (this.recent.length === 0 || this.recent[0]!.seq > mark + 1) return true;
    for (let i = this.recent.length - 1; i >= 0 && this.recent[i]!.seq > mark; i--) if (this.recent[i]!.matches(meta)) return true;
    return false;
  }
}
