// Memory tier: an lru-cache bounded by bytes (body + metadata estimate). Bodies
// over the per-object limit are refused at write time so one large object cannot
// flush the hot set. lru-cache's TTL is not used: freshness is the policy's to
// decide (PITFALLS lru-cache 3, 6); entries leave by LRU or by delete.

import { LRUCache } from 'lru-cache';
import { heldEntry, type HeldEntry } from './memory-entry.js';
import { PurgeBans } from '../purge/purge-bans.js';
import { anyMatch, countMatching, indexedKeys, needsScan, prefixRuns, type CountedTier } from '../purge/purge-match.js';
import { BodyLengthError, type BodyWriter, type EntryMeta, type ExpireFn, type PurgeOptions, type Purgeable, type PurgeSelector, type Store, type StoredEntry, type TierStats, type VariantMeta, type WriteOptions } from '../types.js';
import { TierIndex } from '../tier-index.js';
import { metaStringsBytes } from '../ram-estimate.js';
import { VariantIndex } from '../variant-index.js';

export interface MemoryTierOptions {
  maxBytes: number;
  maxObjectBytes: number;
  /** How a soft purge makes an entry stale (cache policy, given by the composition root). */
  expire?: ExpireFn;
}

/**
 * An entry as the tier holds it (memory-entry.ts): stamped with the newest purge ban it
 * was checked against, with the bytes its body's memory takes (`retainedBytes`), its
 * metadata packed until a look-up hands it out.
 */
type Held = HeldEntry;

/** The memory a kept body holds: a chunk kept as it arrived holds its whole read (the response head too). */
function retainedBytes(body: Buffer | readonly Buffer[]): number {
  if (Buffer.isBuffer(body)) return body.buffer.byteLength;
  let n = 0;
  for (const c of body) n += c.buffer.byteLength;
  return n;
}

/**
 * RAM an entry costs besides its body bytes and its strings, on Node 20: the
 * lru-cache slot and the tier's maps and indexes, the entry and body objects, the
 * Buffer's two wrappers (~190 bytes) and allocation header, the metadata object with
 * its property array, headers and varyValues objects, arrays and heap numbers. A heap
 * snapshot puts the whole at 1.1-1.5 KB for an entry with four stored fields, and
 * test/unit/memory-accounting.test.ts fails when this estimate falls short of the heap
 * measured (1,024 fell short by 2 % in some runs of a 16 B entry: 1,608 counted, up to
 * 1,645 measured). Also makes zero-byte bodies count (PITFALLS lru-cache 1).
 */
const ENTRY_OVERHEAD_BYTES = 1088;

/** What an entry's metadata costs in RAM (the memory tier counts it against its budget beside the body). */
export function metaSizeEstimate(meta: EntryMeta): number {
  return ENTRY_OVERHEAD_BYTES + metaStringsBytes(meta);
}

/**
 * Is the held entry the body of `entry` (WriteOptions.refreshes)? The same body object
 * (handed out by this tier, or landing: write-tickets.ts), or the same bytes by their
 * recorded integrity (read from disk, then promoted here). A body committed here whose
 * disk write has not landed has no integrity yet: only its own object names it.
 */
function holdsBodyOf(e: Held, entry: StoredEntry): boolean {
  if (entry.body === e) return true;
  const integrity = entry.meta.integrity;
  return integrity !== undefined && entry.body.size === e.size && e.stored().meta.integrity === integrity;
}

/** Bytes the kept chunks' memory may hold beyond the body, together (the response head read with it). */
const KEPT_SLACK_BYTES = 512;
/** Chunks a body may be kept in (more: joined into one buffer). */
const KEPT_CHUNKS = 16;

/**
 * The body as the tier keeps it: the chunks it arrived in when each one's memory is
 * its own but for a few bytes — socket reads, one per chunk (the usual miss: one read
 * holding the response head and a small body, or a few 64 KiB reads) — so no
 * allocation and no copy; nothing writes into a chunk once read. Otherwise a buffer
 * of its own: chunks that are views into larger shared slabs (Node's 8 KiB pool, a
 * decoder's output) would retain the whole slab while the tier counts only the body.
 */
export function keptBody(chunks: readonly Buffer[], size: number): Buffer | readonly Buffer[] {
  if (chunks.length === 0 || chunks.length > KEPT_CHUNKS) return ownedCopy(chunks, size);
  let slack = 0;
  for (const c of chunks) {
    if (c.buffer instanceof SharedArrayBuffer) return ownedCopy(chunks, size);
    slack += c.buffer.byteLength - c.length;
  }
  if (slack > KEPT_SLACK_BYTES) return ownedCopy(chunks, size);
  return chunks.length === 1 ? chunks[0]! : chunks.slice();
}

/** The body in a buffer of its own. */
export function ownedCopy(chunks: readonly Buffer[], size: number): Buffer {
  const out = Buffer.allocUnsafeSlow(size);
  let offset = 0;
  for (const c of chunks) offset += c.copy(out, offset);
  return out;
}

export class MemoryTier implements Store, Purgeable {
  private readonly lru: LRUCache<string, Held>;
  /** The same entries by key: purges scan it, and lru-cache's own iterators are several times slower. */
  private readonly held = new Map<string, Held>();
  /**
   * An entry stored under its primary key (no Vary: nearly every miss) is found by
   * `held` itself, not listed in a Set of its own (VariantIndex `stored`, as on disk).
   */
  private readonly indexes = new TierIndex(new VariantIndex((primaryKey) => this.held.has(primaryKey)));
  /** Entries evicted to stay within maxBytes, since start. */
  private evictions = 0;
  readonly maxObjectBytes: number;
  private readonly maxBytes: number;
  private readonly expire: ExpireFn | undefined;
  private readonly bans: PurgeBans<Held> = new PurgeBans<Held>({
    entries: () => this.held.values(),
    byKey: (key) => this.held.get(key),
    remove: (e) => {
      if (this.lru.peek(e.meta.key) === e) this.lru.delete(e.meta.key);
    },
    soften: (e, atMs) => this.setMeta(e, this.expire!(e.stored().meta, atMs)),
  });
  /** The entry remeasure() is putting back at its new size, while it does. */
  private remeasuring: Held | undefined;
  /** What counting a purge's matches reads (purge-match.ts countMatching). */
  private readonly counted: CountedTier<Held> = { indexes: this.indexes, bans: this.bans, byKey: (key) => this.held.get(key), entries: () => this.held.values() };

  constructor(opts: MemoryTierOptions) {
    this.expire = opts.expire;
    this.maxObjectBytes = Math.min(opts.maxObjectBytes, opts.maxBytes);
    this.maxBytes = opts.maxBytes;
    this.lru = new LRUCache<string, Held>({
      maxSize: Math.max(1, opts.maxBytes),
      sizeCalculation: (e) => e.countedBytes,
      dispose: (e, key, reason) => {
        // Taken out only to be put back at its new size (remeasure()): its maps and indexes stay.
        if (this.remeasuring === e) return;
        // 'set' dispose fires when a key is replaced; the index keeps the key then.
        if (reason !== 'set') {
          this.indexes.remove(e.meta);
          this.held.delete(key);
        } else this.indexes.tags.remove(e.meta.tags, key);
        if (reason === 'evict') this.evictions++;
      },
    });
  }

  peek(key: string): StoredEntry | undefined {
    const e = this.lru.get(key);
    // One comparison on the hit path; purge bans newer than the entry are applied first.
    if (e === undefined || (e.bansChecked !== this.bans.seq && !this.bans.refresh(e))) return undefined;
    return e.stored();
  }

  /**
   * The body of the entry under `key`, without handing the entry out (its metadata stays
   * packed) or touching recency: what a commit passes on to the disk tier.
   */
  heldBody(key: string): HeldEntry | undefined {
    return this.live(key);
  }

  /** The entry under a key with pending purge bans applied, without touching recency. */
  private live(key: string): Held | undefined {
    const e = this.lru.peek(key);
    if (e === undefined || e.bansChecked === this.bans.seq) return e;
    return this.bans.refresh(e) ? e : undefined;
  }

  /** Is the key held here? Does not count as a use. */
  has(key: string): boolean {
    return this.lru.has(key);
  }

  async get(key: string): Promise<StoredEntry | undefined> {
    return this.peek(key);
  }

  /** Whole metadata, except for an entry not yet handed out (packed: unvaried), which stays packed. */
  variants(primaryKey: string): VariantMeta[] {
    const out: VariantMeta[] = [];
    for (const k of this.indexes.variants.keys(primaryKey)) {
      const e = this.live(k);
      if (e) out.push(e.variant());
    }
    return out;
  }

  /** The whole metadata under `key`, without touching recency (explain). */
  metaOf(key: string): EntryMeta | undefined {
    return this.live(key)?.stored().meta;
  }

  /** Would a body of this size be admitted? */
  admits(size: number): boolean {
    return size <= this.maxObjectBytes;
  }

  /** Insert a complete entry (used for promotion from disk and by the writer). */
  put(meta: EntryMeta, body: Buffer | readonly Buffer[]): boolean {
    // What the tier counts: the memory the body's chunks hold (at least its size), and the metadata's estimate.
    const entry = heldEntry(meta, body, retainedBytes(body) + metaSizeEstimate(meta), this.bans.seq);
    if (!this.admits(entry.size)) return false;
    // An oversize set() would delete the existing value (PITFALLS lru-cache 2); admits() prevents that.
    this.lru.set(meta.key, entry);
    if (!this.lru.has(meta.key)) return false;
    this.indexes.add(meta);
    this.held.set(meta.key, entry);
    return true;
  }

  open(meta: EntryMeta): BodyWriter {
    return new MemoryWriter(this, meta);
  }

  async update(meta: EntryMeta, opts: WriteOptions = {}): Promise<void> {
    const e = this.live(meta.key);
    if (e && (opts.refreshes === undefined || holdsBodyOf(e, opts.refreshes))) this.setMeta(e, meta);
  }

  /** New metadata for a held body (a 304's refresh, a soft purge), counted at what the entry costs now. */
  private setMeta(e: Held, meta: EntryMeta): void {
    this.indexes.replaced({ key: e.key, primaryKey: e.primaryKey, url: e.url, tags: e.tags }, meta);
    e.replace(meta);
    this.remeasure(e, meta);
  }

  /**
   * Count the entry at its size with `meta`, as put() would. Why: counted once at its put,
   * an entry a 304 gave 4 KB more fields kept its old size, and the budget drifted from
   * what the tier held. lru-cache re-sizes a key only when it is given another value, so
   * the same entry object is taken out and put back (whoever holds it — a landing disk
   * write, a response being sent — keeps the same body); its maps and indexes stay as
   * they are (the dispose hook skips it), and it becomes the most recently used.
   */
  private remeasure(e: Held, meta: EntryMeta): void {
    const counted = retainedBytes(e.chunks) + metaSizeEstimate(meta);
    if (counted === e.countedBytes || this.lru.peek(e.key) !== e) return;
    if (!this.admits(counted)) {
      this.lru.delete(e.key);
      return;
    }
    this.remeasuring = e;
    try {
      this.lru.delete(e.key);
    } finally {
      this.remeasuring = undefined;
    }
    e.countedBytes = counted;
    // Within maxObjectBytes, so within maxBytes: older entries are evicted for it, never it.
    this.lru.set(e.key, e);
  }

  /** purge-match.ts countMatching over this tier; `countIf`: only the keys it accepts. */
  countMatching(selector: PurgeSelector, countIf?: (key: string) => boolean, inSlices = false): Promise<number> {
    return countMatching(selector, this.counted, countIf, inSlices);
  }

  /**
   * Synchronous and O(1) for URLs and tags, O(log n) for prefixes: the purge becomes
   * a ban, applied to an entry when it is next looked up and by a background walk
   * (purge-bans.ts): over the entries the indexes name (URLs, tags, prefixes), or
   * over every entry (paths, all, mixed selectors).
   */
  ban(selector: PurgeSelector, opts: PurgeOptions = {}, walkAfter?: Promise<unknown>): void {
    const at = opts.softAtMs;
    if (at !== undefined && !this.expire) throw new Error('memory tier: soft purge needs an expire policy');
    const runs = prefixRuns(selector, this.indexes.order);
    if (runs) {
      if (this.indexes.order.countRuns(runs) > 0) this.bans.add(selector, at, () => this.indexes.order.keysIn(runs), walkAfter);
      return;
    }
    if (needsScan(selector)) {
      if (anyMatch(selector, this.held.values())) this.bans.add(selector, at, undefined, walkAfter);
      return;
    }
    const indexes = this.indexes;
    if (!indexedKeys(selector, indexes).next().done) this.bans.add(selector, at, () => indexedKeys(selector, indexes), walkAfter);
  }

  async purge(selector: PurgeSelector, opts?: PurgeOptions): Promise<number> {
    const n = await this.countMatching(selector);
    this.ban(selector, opts);
    opts?.onApply?.();
    return n;
  }

  /** Resolves when every purge so far has been applied to every entry. */
  flush(): Promise<void> {
    return this.bans.idle();
  }

  purgeMark(): number {
    return 0;
  }

  async invalidate(primaryKey: string): Promise<number> {
    let n = 0;
    for (const k of this.uriKeys(primaryKey)) if (await this.delete(k)) n++;
    return n;
  }

  /** Every key this tier holds for the URI of `primaryKey` (tier-index.ts uriKeys). */
  uriKeys(primaryKey: string): string[] {
    return this.indexes.uriKeys(primaryKey);
  }

  async delete(key: string): Promise<boolean> {
    return this.lru.delete(key);
  }

  stats(): TierStats {
    return { items: this.lru.size, bytes: this.lru.calculatedSize, maxBytes: this.maxBytes, evictions: this.evictions };
  }

  async close(): Promise<void> {
    this.lru.clear();
  }
}

/**
 * A body being written to the memory tier. A class, not closures over open()'s scope:
 * one object per miss instead of a context, three functions and a record.
 */
class MemoryWriter implements BodyWriter {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  // Why two flags: an explicit abort stores nothing and leaves any older entry alone,
  // but a body that outgrew the per-object limit is a newer response this tier cannot
  // keep, so the older entry under the key must not go on standing in for it.
  private aborted = false;
  private tooLarge = false;

  constructor(
    private readonly tier: MemoryTier,
    private readonly meta: EntryMeta,
  ) {}

  write(chunk: Buffer): void {
    if (this.aborted) return;
    this.size += chunk.length;
    if (this.tooLarge) return;
    if (!this.tier.admits(this.size)) {
      this.tooLarge = true;
      this.chunks.length = 0;
      return;
    }
    this.chunks.push(chunk);
  }

  async commit(): Promise<void> {
    if (this.aborted) return;
    const { meta, size } = this;
    if (meta.bodySize >= 0 && size !== meta.bodySize) {
      throw new BodyLengthError('memory tier', size, meta.bodySize);
    }
    if (this.tooLarge) {
      void this.tier.delete(meta.key);
      return;
    }
    meta.bodySize = size;
    this.tier.put(meta, keptBody(this.chunks, size));
  }

  abort(): void {
    this.aborted = true;
    this.chunks.length = 0;
  }
}
