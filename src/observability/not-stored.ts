// The last refusal to store, per URL (primary key): what `GET /explain` reports as
// "why is this not cached". Written by fetch-and-store when a response is passed
// through instead of stored; read by the admin API. Bounded: an LRU of at most
// `maxUrls` keys (the least recently refused goes first), so a crawler of
// uncacheable URLs cannot grow it without limit. Never consulted on the request path.

import type { NotStoredRecord } from '../cache/storable.js';

export type { NotStoredRecord } from '../cache/storable.js';

export class NotStoredLog {
  /** Primary key → last refusal, least recent first (Map order). */
  private readonly last = new Map<string, NotStoredRecord>();

  constructor(private readonly maxUrls = 10_000) {}

  record(primaryKey: string, rec: NotStoredRecord): void {
    this.last.delete(primaryKey);
    this.last.set(primaryKey, rec);
    if (this.last.size > this.maxUrls) this.last.delete(this.last.keys().next().value!);
  }

  get(primaryKey: string): NotStoredRecord | undefined {
    return this.last.get(primaryKey);
  }

  get size(): number {
    return this.last.size;
  }
}
