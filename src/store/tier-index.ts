// The indexes a tier keeps beside its entries, as one structure both tiers share:
// variants by primary key (Vary selection, invalidation), keys by purge tag, and
// entries in URL order (prefix purges as runs, a URI's keyed versions). An entry is
// added, removed and re-tagged here in one call, so the three cannot drift apart.

import type { EntryMeta } from '../entry.js';

/** What the indexes read of an entry. */
export type Indexed = Pick<EntryMeta, 'key' | 'primaryKey' | 'url' | 'tags'>;
import { TagIndex } from './tag-index.js';
import { UrlOrder } from './url-order.js';
import { VariantIndex } from './variant-index.js';

/**
 * An entry's place in a tier's URL order: "GET " + its URL, which is its key itself
 * when it is stored under its primary key (nearly every entry). Why not the URL:
 * the URL is a slice of the key, and ordering by it made an insertion ~3× dearer
 * (14 µs against 4.5 µs per stored miss under load): every comparison of the binary
 * searches went through one more string, the two strings of a pair differed, and
 * under a miss storm each string compared is a cache miss.
 */
export function keyOrder(meta: { key: string; url: string; primaryKey?: string }): string {
  const { key, url, primaryKey } = meta;
  if (isGetOf(key, url)) return key;
  // A variant: its primary key, when that is "GET " + URL, is the same string (not one more per variant).
  return primaryKey !== undefined && isGetOf(primaryKey, url) ? primaryKey : `GET ${url}`;
}

function isGetOf(key: string, url: string): boolean {
  return key.length === url.length + 4 && key.startsWith('GET ') && key.endsWith(url);
}

export class TierIndex {
  /**
   * The disk tier's: `variants` lists also its entry under the primary key itself, and
   * its `order` keeps no map by key (disk/records.ts). Both tiers order by keyOrder.
   */
  constructor(
    readonly variants = new VariantIndex(),
    readonly order = new UrlOrder({ mark: 'GET ' }),
  ) {}

  readonly tags = new TagIndex();

  /**
   * An entry stored under its primary key itself is not listed under it (a look-up
   * finds it by that key; the list is spared): only variants are.
   */
  add(meta: Indexed): void {
    if (meta.key !== meta.primaryKey) this.variants.add(meta.primaryKey, meta.key);
    this.order.add(keyOrder(meta), meta.key);
    this.tags.add(meta.tags, meta.key);
  }

  remove(meta: Indexed): void {
    if (meta.key !== meta.primaryKey) this.variants.remove(meta.primaryKey, meta.key);
    this.order.remove(meta.key, keyOrder(meta));
    this.tags.remove(meta.tags, meta.key);
  }

  /**
   * Every key stored for one URI (an invalidation, RFC 9111 §4.4): the variants of its
   * primary key, and every version a route keyed after "#" (cache/key.ts keySuffix) with
   * theirs. Those sort as one run of the URL order, "GET " + URL + "#": a binary search,
   * not a pass over the tier. Copied: the caller removes them.
   */
  uriKeys(primaryKey: string): string[] {
    const keys = [...this.variants.keys(primaryKey)];
    for (const k of this.order.keysIn([primaryKey + '#'])) keys.push(k);
    return keys;
  }

  /** The entry's metadata is replaced (after a 304, a soft purge): its tags and URL may differ. */
  replaced(old: Indexed, meta: Indexed): void {
    this.tags.remove(old.tags, old.key);
    if (meta.url !== old.url) {
      this.order.remove(old.key, keyOrder(old));
      this.order.add(keyOrder(meta), meta.key);
    }
    this.tags.add(meta.tags, meta.key);
  }
}
