// The disk tier's records by key, in LRU order: a Map's insertion order, oldest first
// (eviction walks it from the start). A write or a hit puts a record at the young end.
//
// Why the youngest is remembered: a hit of the record already at the young end moved
// nothing but cost a Map delete and insert, and the tombstones those leave made V8
// rebuild the table every few hits of one hot record.

import type { DiskRecord } from './records.js';

export class RecordOrder {
  private map = new Map<string, DiskRecord>();
  /** The record last put at the young end, while it is still there. */
  private youngest: DiskRecord | undefined;

  get size(): number {
    return this.map.size;
  }

  get(key: string): DiskRecord | undefined {
    return this.map.get(key);
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /** Oldest first; a record touched or added during the walk comes again at the end. */
  values(): IterableIterator<DiskRecord> {
    return this.map.values();
  }

  keys(): IterableIterator<string> {
    return this.map.keys();
  }

  [Symbol.iterator](): IterableIterator<[string, DiskRecord]> {
    return this.map.entries();
  }

  /** `rec` at the young end (its key's record before it already removed). */
  add(rec: DiskRecord): void {
    this.map.set(rec.key, rec);
    this.youngest = rec;
  }

  remove(rec: DiskRecord): void {
    this.map.delete(rec.key);
    if (this.youngest === rec) this.youngest = undefined;
  }

  /** `rec` to the young end; already there, nothing moved. */
  touch(rec: DiskRecord): void {
    if (rec === this.youngest) return;
    this.map.delete(rec.key);
    this.map.set(rec.key, rec);
    this.youngest = rec;
  }

  /** A loaded map becomes the order as it is (no second map of a million records). */
  replaceAll(records: Map<string, DiskRecord>): void {
    this.map = records;
    this.youngest = undefined;
  }
}
