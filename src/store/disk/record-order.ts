// The disk tier's records by key, in LRU order: a Map's insertion order, oldest first
// (eviction walks it from the start). A write puts a record at the young end at once;
// a hit only notes the record (its first hit since the order was last brought up to
// date adds it to a list, every hit stamps it with a sequence number), and the order
// is brought up to date — the noted records moved to the young end, in the order of
// their latest hits — before anything reads the order or adds to it. The order read is
// the same as if every hit had moved its record at once.
//
// Why: moving a record on every hit was a Map delete and insert per disk hit, and the
// tombstones they leave made V8 rebuild the Map's table every few hundred hits of a
// 1,000-URL hot set: tables promoted to the old space and dead soon after, major
// collections (bench "hit 16 KiB from disk"). Now a hit costs a field store, and a
// record hit again and again between two writes moves once.
//
// Bounds: the list holds each record at most once, so never more than the records
// there were; a record removed meanwhile is skipped when the order is brought up to
// date (and held by the list until then).

import { MAX_HIT_SEQ, type DiskRecord } from './records.js';

export class RecordOrder {
  private map = new Map<string, DiskRecord>();
  /** Records hit since the order was last brought up to date, each once, in the order of their first hit. */
  private hitSince: DiskRecord[] = [];
  /** Hits since then (the latest hit's sequence number). */
  private hits = 0;

  get size(): number {
    return this.map.size;
  }

  get(key: string): DiskRecord | undefined {
    return this.map.get(key);
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /** Oldest first; a record added or renewed during the walk comes again at the end (a hit during it moves nothing until the next walk). */
  values(): IterableIterator<DiskRecord> {
    this.settle();
    return this.map.values();
  }

  keys(): IterableIterator<string> {
    this.settle();
    return this.map.keys();
  }

  [Symbol.iterator](): IterableIterator<[string, DiskRecord]> {
    this.settle();
    return this.map.entries();
  }

  /** `rec` at the young end (its key's record before it already removed). */
  add(rec: DiskRecord): void {
    // Hits before this write are older than it.
    this.settle();
    this.map.set(rec.key, rec);
  }

  remove(rec: DiskRecord): void {
    this.map.delete(rec.key);
  }

  /** A hit: `rec` is the youngest from now on (moved when the order is next read or added to). */
  touch(rec: DiskRecord): void {
    if (this.hits === MAX_HIT_SEQ) this.settle();
    if (rec.hitSeq === 0) this.hitSince.push(rec);
    rec.hitSeq = ++this.hits;
  }

  /** `rec` to the young end now (eviction passing over a record: it comes again at the end of its walk). */
  renew(rec: DiskRecord): void {
    this.map.delete(rec.key);
    this.map.set(rec.key, rec);
  }

  /** A loaded map becomes the order as it is (no second map of a million records). */
  replaceAll(records: Map<string, DiskRecord>): void {
    this.settle();
    this.map = records;
  }

  /** The records hit since the last time to the young end, in the order of their latest hits. */
  private settle(): void {
    const hit = this.hitSince;
    if (hit.length === 0) return;
    this.hitSince = [];
    this.hits = 0;
    if (hit.length > 1) hit.sort((a, b) => a.hitSeq - b.hitSeq);
    const map = this.map;
    for (const rec of hit) {
      rec.hitSeq = 0;
      if (map.get(rec.key) === rec) {
        map.delete(rec.key);
        map.set(rec.key, rec);
      }
    }
  }
}
