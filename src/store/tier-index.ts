// The indexes a tier keeps beside its entries, as one structure both tiers share:
// variants by primary key (Vary selection, invalidation), keys by purge tag, and
// entries in URL order (prefix purges as runs). An entry is added, removed and
// re-tagged here in one call, so the three cannot drift apart.

import type { EntryMeta } from '../entry.js';
import { TagIndex } from './tag-index.js';
import { UrlOrder } from './url-order.js';
import { VariantIndex } from './variant-index.js';

export class TierIndex {
  readonly variants = new VariantIndex();
  readonly tags = new TagIndex();
  readonly order = new UrlOrder();

  add(meta: EntryMeta): void {
    this.variants.add(meta.primaryKey, meta.key);
    this.order.add(meta.url, meta.key);
    this.tags.add(meta.tags, meta.key);
  }

  remove(meta: EntryMeta): void {
    this.variants.remove(meta.primaryKey, meta.key);
    this.order.remove(meta.key);
    this.tags.remove(meta.tags, meta.key);
  }

  /** The entry's metadata is replaced (after a 304, a soft purge): its tags and URL may differ. */
  replaced(old: EntryMeta, meta: EntryMeta): void {
    this.tags.remove(old.tags, old.key);
    if (meta.url !== old.url) this.order.add(meta.url, meta.key);
    this.tags.add(meta.tags, meta.key);
  }
}
