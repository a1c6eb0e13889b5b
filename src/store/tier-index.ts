// The indexes a tier keeps beside its entries, as one structure both tiers share:
// variants by primary key (Vary selection, invalidation), keys by purge tag, and
// entries in URL order (prefix purges as runs). An entry is added, removed and
// re-tagged here in one call, so the three cannot drift apart.

import type { EntryMeta } from '../entry.js';

/** What the indexes read of an entry. */
export type Indexed = Pick<EntryMeta, 'key' | 'primaryKey' | 'url' | 'tags'>;
import { TagIndex } from './tag-index.js';
import { UrlOrder } from './url-order.js';
import { VariantIndex } from './variant-index.js';

export class TierIndex {
  /**
   * The disk tier's: `variants` lists also its entry under the primary key itself, and
   * `order` sorts by what `orderOf` says (its key, for most entries: disk/tier.ts).
   */
  constructor(
    readonly variants = new VariantIndex(),
    readonly order = new UrlOrder(),
    private readonly orderOf: (meta: Indexed) => string = (meta) => meta.url,
  ) {}

  readonly tags = new TagIndex();

  /**
   * An entry stored under its primary key itself is not listed under it (a look-up
   * finds it by that key; the list is spared): only variants are.
   */
  add(meta: Indexed): void {
    if (meta.key !== meta.primaryKey) this.variants.add(meta.primaryKey, meta.key);
    this.order.add(this.orderOf(meta), meta.key);
    this.tags.add(meta.tags, meta.key);
  }

  remove(meta: Indexed): void {
    if (meta.key !== meta.primaryKey) this.variants.remove(meta.primaryKey, meta.key);
    this.order.remove(meta.key, this.orderOf(meta));
    this.tags.remove(meta.tags, meta.key);
  }

  /** The entry's metadata is replaced (after a 304, a soft purge): its tags and URL may differ. */
  replaced(old: Indexed, meta: Indexed): void {
    this.tags.remove(old.tags, old.key);
    if (meta.url !== old.url) {
      this.order.remove(old.key, this.orderOf(old));
      this.order.add(this.orderOf(meta), meta.key);
    }
    this.tags.add(meta.tags, meta.key);
  }
}
