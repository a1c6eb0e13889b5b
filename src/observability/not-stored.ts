// The last refusal to store, per URL (primary key): what `GET /explain` reports as
// "why is this not cached". Written by fetch-and-store when a response is passed
// through instead of stored; read by the admin API. Bounded by count and by the
// bytes of its keys (util/bounded-keys.ts; the least recently refused goes first),
// so a crawler of uncacheable URLs, long ones included, cannot grow it without
// limit. Never consulted on the request path.

import type { NotStoredRecord } from '../cache/storable.js';
import { BoundedKeys, type KeyBounds, type KeyFigures } from '../util/bounded-keys.js';

export type { NotStoredRecord } from '../cache/storable.js';

/** 10,000 URLs of up to ~800 bytes: /explain's memory, not the node's budget. */
export const NOT_STORED_BOUNDS: KeyBounds = { maxKeys: 10_000, maxKeyBytes: 8 * 2 ** 20 };

export class NotStoredLog {
  /** Primary key → last refusal, least recent first. */
  private readonly last: BoundedKeys<NotStoredRecord>;

  constructor(bounds: KeyBounds = NOT_STORED_BOUNDS) {
    this.last = new BoundedKeys(bounds);
  }

  record(primaryKey: string, rec: NotStoredRecord): void {
    this.last.set(primaryKey, rec);
  }

  get(primaryKey: string): NotStoredRecord | undefined {
    return this.last.get(primaryKey);
  }

  get size(): number {
    return this.last.size;
  }

  get figures(): KeyFigures {
    return this.last.figures;
  }
}
