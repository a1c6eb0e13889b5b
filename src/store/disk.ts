// Disk tier: bodies in cacache's content-addressed store, bounded by a byte
// budget that Strata owns (cacache has no eviction: PITFALLS cacache 1).
//
// Invariants:
// - An entry becomes visible only after its blob is written whole, its length
//   checked and its index line appended (commit).
// - Identical bodies share one blob; a blob is removed only when no key refers to
//   it any more (reference count per integrity, PITFALLS cacache 2).
// - Index writes for one key are serialised, so an eviction cannot remove a
//   newer line written for the same key.
// - The in-memory LRU index is rebuilt from cacache's index at open; order after
//   a restart is by last write time.
// - cacache's memoisation is never used (PITFALLS cacache 6).
// - A purge is durable once its journal record is fsynced (purge-journal.ts). It
//   is applied as a ban (purge-bans.ts): every read checks the entry against
//   newer bans, a background walk applies them to the rest, and cacache's index
//   follows in the background, a few keys at a time, so a purge of 100,000
//   entries neither waits for 100,000 index writes nor floods the I/O threads
//   requests need.
// - Blobs are written by Strata itself (hash while streaming, fs write stream
//   with real backpressure, rename into cacache's content layout on commit):
//   cacache's own write stream can emit 'drain' before a writer can wait for it.

import { randomUUID, createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import cacache from 'cacache';
import contentPath from 'cacache/lib/content/path.js';
import type { Logger } from 'pino';
import { fileBody, sha256Integrity } from './file-body.js';
import { PurgeBans, type Ban } from './purge-bans.js';
import { PurgeJournal, type PurgeRecord } from './purge-journal.js';
import { anyMatch, candidates, countInSlices, countKeysInSlices, indexedKeys, needsScan, prefixRuns, selectorMatcher } from './purge-match.js';
import { TagIndex } from './tag-index.js';
import {
  BodyLengthError,
  ENTRY_FORMAT,
  type BodyWriter,
  type EntryMeta,
  type ExpireFn,
  type PurgeOptions,
  type PurgeSelector,
  type Store,
  type StoredEntry,
  type TierStats,
  type WriteOptions,
} from './types.js';
import { UrlOrder } from './url-order.js';
import { VariantIndex } from './variant-index.js';

export interface DiskTierOptions {
  dir: string;
  maxBytes: number;
  logger: Logger;
  /**
   * Entries the tier above is serving right now (the memory tier holds them): the
   * disk's LRU passes over them while anything else can go. Hits answered from
   * memory then cost the disk tier nothing, and a hot entry is not lost from disk
   * (and so from the next start) just because memory answered all its hits.
   */
  inUse?: (key: string) => boolean;
  /** How a soft purge makes an entry stale (cache policy). Without it, soft purges journalled earlier are applied as hard ones. */
  expire?: ExpireFn;
}

/** Index writes and blob removals a purge leaves for the background, at most this many at once. */
const PURGE_IO_CONCURRENCY = 4;

interface DiskRecord {
  meta: EntryMeta;
  /** Newest purge ban this record was checked against (purge-bans.ts). */
  bansChecked?: number;
  integrity: string;
  path: string;
  size: number;
}

export interface DiskWriteOptions extends WriteOptions {
  /**
   * Why: the tiered store lets a disk write land in the background after the entry is
   * already visible in memory. Without a last check, a delete (purge) issued meanwhile
   * found nothing on disk and the landing write then brought the entry back, and an
   * older write landing after a newer one put the older body back on disk.
   */
  wanted?: () => boolean;
}

export class DiskTier implements Store {
  /** Map iteration order is the LRU order: oldest first. */
  private readonly records = new Map<string, DiskRecord>();
  private readonly refs = new Map<string, number>();
  /** Blobs moved into place by a commit whose record is not tracked yet: never removed. */
  private readonly pins = new Map<string, number>();
  private readonly index = new VariantIndex();
  private readonly tags = new TagIndex();
  private readonly order = new UrlOrder();
  private journal!: PurgeJournal;
  /** Journal ids of the bans not retired yet, by ban sequence number. */
  private readonly journalled = new Map<number, Promise<number>>();
  /** Records bans removed or softened since the last walk ended: their cacache index work is still to do. */
  private purgedRecords: DiskRecord[] = [];
  private softenedRecords: DiskRecord[] = [];
  private readonly bans = new PurgeBans<Required<DiskRecord>>({
    entries: () => this.records.values() as Iterator<Required<DiskRecord>>,
    byKey: (key) => this.records.get(key) as Required<DiskRecord> | undefined,
    remove: (rec) => {
      if (this.records.get(rec.meta.key) !== rec) return;
      this.untrack(rec);
      this.purgedRecords.push(rec);
    },
    soften: (rec, atMs) => {
      this.setMeta(rec, this.opts.expire!(rec.meta, atMs));
      this.softenedRecords.push(rec);
    },
    retired: (bans) => this.retireBans(bans),
  });
  private readonly keyQueues = new Map<string, Promise<unknown>>();
  private readonly pending = new Set<Promise<unknown>>();
  private bytes = 0;
  /**
   * Blobs whose bytes were hashed by this process — written by it, or read whole and
   * verified since it started. Their later whole reads are length-checked only:
   * hashing every read held a 256 MiB body from disk to ~0.5 of a bare server's
   * speed (bench/RESULTS.md). A restart forgets them, so each blob is verified again
   * on its first whole read; anything that damages a file in place while the node
   * runs is caught only if it changes the length (CACHING.md, Integrity).
   */
  private readonly trusted = new Set<string>();
  /** Directories known to exist: a fill must not pay a mkdir per level per write. */
  private readonly knownDirs = new Set<string>();
  private closed = false;

  private constructor(private readonly opts: DiskTierOptions) {}

  static async open(opts: DiskTierOptions): Promise<DiskTier> {
    const tier = new DiskTier(opts);
    await tier.rebuild();
    return tier;
  }

  private async rebuild(): Promise<void> {
    const loaded = await PurgeJournal.load(this.opts.dir);
    this.journal = loaded.journal;
    if (loaded.skipped) this.opts.logger.warn({ skipped: loaded.skipped }, 'disk tier: unreadable purge journal lines ignored (a purge interrupted before it was acknowledged)');
    const purges = loaded.records.map((r) => ({ r, matches: selectorMatcher(r.selector) }));
    const all = await cacache.ls(this.opts.dir);
    const list = Object.values(all).sort((a, b) => a.time - b.time);
    let skipped = 0;
    const dropped: DiskRecord[] = [];
    const softened: DiskRecord[] = [];
    for (const e of list) {
      let meta = e.metadata as EntryMeta | undefined;
      if (!meta || meta.v !== ENTRY_FORMAT || meta.key !== e.key) {
        skipped++;
        continue;
      }
      meta.bodySize = e.size;
      meta.integrity = e.integrity;
      meta.tags ??= [];
      // Purges acknowledged after this record was written and whose per-key work had
      // not landed before the process stopped.
      let fate: 'keep' | 'drop' | 'soft' = 'keep';
      for (const { r, matches } of purges) {
        if (e.time > r.atMs || !matches(meta)) continue;
        if (r.softAtMs === undefined || !this.opts.expire) {
          fate = 'drop';
          break;
        }
        meta = this.opts.expire(meta, r.softAtMs);
        fate = 'soft';
      }
      const rec = { meta, integrity: e.integrity, path: e.path, size: e.size };
      if (fate === 'drop') {
        dropped.push(rec);
        continue;
      }
      this.track(rec);
      if (fate === 'soft') softened.push(rec);
    }
    if (skipped) this.opts.logger.warn({ skipped }, 'disk tier: index records of another format ignored');
    this.opts.logger.info({ items: this.records.size, bytes: this.bytes, purgedAtStart: dropped.length, softPurgedAtStart: softened.length }, 'disk tier: index rebuilt');
    if (loaded.records.length) void this.settlePurge(loaded.records.map((r) => r.id), dropped, softened);
    this.evictOverBudget();
  }

  /**
   * The per-key part of purges, in the background: tombstones for removed keys (unless
   * a newer entry was committed under the key since), blobs nobody refers to any more,
   * and index lines carrying the softened metadata. Once all of it landed, the journal
   * records are retired; after a failure they stay, and the next start applies them again.
   */
  private settlePurge(ids: number[], removed: DiskRecord[], softened: DiskRecord[]): Promise<void> {
    const { dir } = this.opts;
    let failures = 0;
    const work: (() => Promise<unknown>)[] = [];
    for (const rec of removed) {
      const key = rec.meta.key;
      work.push(() => this.serial(key, async () => {
        if (!this.records.has(key)) await cacache.rm.entry(dir, key);
      }));
      work.push(() => this.removeBlob(rec.integrity));
    }
    for (const rec of softened) {
      const { key } = rec.meta;
      const meta = rec.meta;
      work.push(() => this.serial(key, async () => {
        if (this.records.get(key) === rec && rec.meta === meta) await cacache.index.insert(dir, key, rec.integrity, { size: rec.size, metadata: meta });
      }));
    }
    const done = eachLimited(work, PURGE_IO_CONCURRENCY, () => failures++).then(async () => {
      if (failures) {
        this.opts.logger.warn({ failures, journalled: ids }, 'disk tier: purge index writes failed; the journal keeps the purge and the next start applies it again');
        return;
      }
      await this.journal.retire(ids);
    });
    return this.background(done.catch((err: unknown) => this.opts.logger.warn({ err }, 'disk tier: purge journal compaction failed')));
  }

  private track(rec: DiskRecord): void {
    // Why: the new reference is counted before the old record is dropped, and an old
    // blob left without references is removed. Before, untrack()'s answer was ignored,
    // so replacing a key with a different body leaked the old blob file on disk forever.
    this.refs.set(rec.integrity, (this.refs.get(rec.integrity) ?? 0) + 1);
    const old = this.records.get(rec.meta.key);
    if (old && this.untrack(old)) this.removeBlobLater(old);
    rec.bansChecked = this.bans.seq;
    this.records.set(rec.meta.key, rec);
    this.bytes += rec.size;
    this.index.add(rec.meta.primaryKey, rec.meta.key);
    this.order.add(rec.meta.url, rec.meta.key);
    this.tags.add(rec.meta.tags, rec.meta.key);
  }

  /** Replace a tracked record's metadata, keeping the tag index in step. */
  private setMeta(rec: DiskRecord, meta: EntryMeta): void {
    this.tags.remove(rec.meta.tags, rec.meta.key);
    if (meta.url !== rec.meta.url) this.order.add(meta.url, meta.key);
    rec.meta = meta;
    this.tags.add(meta.tags, meta.key);
  }

  /** Forget a record; returns true when its blob is no longer referenced. */
  private untrack(rec: DiskRecord): boolean {
    this.records.delete(rec.meta.key);
    this.bytes -= rec.size;
    this.index.remove(rec.meta.primaryKey, rec.meta.key);
    this.order.remove(rec.meta.key);
    this.tags.remove(rec.meta.tags, rec.meta.key);
    const n = (this.refs.get(rec.integrity) ?? 1) - 1;
    if (n > 0) {
      this.refs.set(rec.integrity, n);
      return false;
    }
    this.refs.delete(rec.integrity);
    return true;
  }

  /** Run fn after every earlier index operation on the same key. */
  private serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.keyQueues.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.keyQueues.set(key, settled);
    void settled.then(() => {
      if (this.keyQueues.get(key) === settled) this.keyQueues.delete(key);
    });
    return this.background(next);
  }

  private background<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    const drop = () => this.pending.delete(p);
    p.then(drop, drop);
    return p;
  }

  /** Queue key for operations on one blob file (cannot collide with a request key). */
  private static blobQueue(integrity: string): string {
    return '\0blob ' + integrity;
  }

  private pin(integrity: string, by: number): void {
    const n = (this.pins.get(integrity) ?? 0) + by;
    if (n > 0) this.pins.set(integrity, n);
    else this.pins.delete(integrity);
  }

  private removeBlobLater(rec: DiskRecord): void {
    const integrity = rec.integrity;
    void this.removeBlob(integrity).catch((err: unknown) => {
      this.opts.logger.warn({ err, integrity }, 'disk tier: blob removal failed');
    });
  }

  /** Remove a blob if, when the removal runs, no record refers to it. */
  private removeBlob(integrity: string): Promise<void> {
    // Why: serialised with commits moving a blob of the same digest into place, and the
    // reference count is checked when the removal runs, not when it was queued. Before,
    // a removal queued for a dropped key could unlink the file a concurrent commit of
    // identical bytes had just renamed into place, leaving the new entry without a blob.
    return this.serial(DiskTier.blobQueue(integrity), async () => {
      if (this.refs.has(integrity) || this.pins.has(integrity)) return;
      this.trusted.delete(integrity);
      await cacache.rm.content(this.opts.dir, integrity);
    });
  }

  /** The metadata currently stored under a key, without touching its recency. */
  metaOf(key: string): EntryMeta | undefined {
    return this.live(key)?.meta;
  }

  /** The record under a key with pending purge bans applied. */
  private live(key: string): DiskRecord | undefined {
    const rec = this.records.get(key) as Required<DiskRecord> | undefined;
    if (rec === undefined || rec.bansChecked === this.bans.seq) return rec;
    return this.bans.refresh(rec) ? rec : undefined;
  }

  private evictOverBudget(): void {
    const inUse = this.opts.inUse;
    // Each record is passed over at most once; if only in-use entries are left, they go too.
    let skips = inUse ? this.records.size : 0;
    for (const rec of this.records.values()) {
      if (this.bytes <= this.opts.maxBytes) break;
      if (skips > 0 && inUse!(rec.meta.key)) {
        skips--;
        this.records.delete(rec.meta.key);
        this.records.set(rec.meta.key, rec);
        continue;
      }
      this.removeRecord(rec, 'evicted');
    }
  }

  private removeRecord(rec: DiskRecord, why: string): void {
    const orphan = this.untrack(rec);
    const key = rec.meta.key;
    void this.serial(key, async () => {
      // Only write the tombstone if no newer record for the key was committed meanwhile.
      if (!this.records.has(key)) await cacache.rm.entry(this.opts.dir, key);
    }).catch((err: unknown) => this.opts.logger.warn({ err, key }, 'disk tier: index removal failed'));
    if (orphan) this.removeBlobLater(rec);
    this.opts.logger.debug({ key, why }, 'disk tier: entry removed');
  }

  private async ensureDir(path: string): Promise<void> {
    if (this.knownDirs.has(path)) return;
    await mkdir(path, { recursive: true });
    this.knownDirs.add(path);
  }

  peek(): StoredEntry | undefined {
    return undefined;
  }

  async get(key: string): Promise<StoredEntry | undefined> {
    const rec = this.live(key);
    if (!rec) return undefined;
    // Touch: move to the young end of the LRU order.
    this.records.delete(key);
    this.records.set(key, rec);
    return {
      meta: rec.meta,
      body: fileBody(rec.path, rec.size, rec.integrity, {
        trusted: this.trusted.has(rec.integrity),
        onVerified: () => this.trusted.add(rec.integrity),
        onCorrupt: (err) => this.corrupt(rec, err),
      }),
    };
  }

  /** Read a whole small body and verify it; undefined (and evicted) when corrupt. */
  async readVerified(key: string): Promise<Buffer | undefined> {
    const rec = this.live(key);
    if (!rec) return undefined;
    let data: Buffer;
    try {
      data = await readFile(rec.path);
    } catch (err) {
      this.corrupt(rec, err as Error);
      return undefined;
    }
    if (data.length !== rec.size || (!this.trusted.has(rec.integrity) && sha256Integrity(data) !== rec.integrity)) {
      this.corrupt(rec, new Error('integrity mismatch'));
      return undefined;
    }
    this.trusted.add(rec.integrity);
    return data;
  }

  private corrupt(rec: DiskRecord, err: Error): void {
    if (this.records.get(rec.meta.key) !== rec) return;
    this.opts.logger.error({ key: rec.meta.key, integrity: rec.integrity, err: err.message }, 'disk tier: corrupted blob removed; treated as a miss');
    // Remove the blob even if other keys share it: their bytes are the same bad bytes.
    this.untrack(rec);
    for (const other of [...this.records.values()]) {
      if (other.integrity === rec.integrity) this.removeRecord(other, 'corrupt');
    }
    void this.serial(rec.meta.key, () => cacache.rm.entry(this.opts.dir, rec.meta.key)).catch(() => undefined);
    this.refs.delete(rec.integrity);
    this.trusted.delete(rec.integrity);
    this.removeBlobLater(rec);
  }

  variants(primaryKey: string): EntryMeta[] {
    const out: EntryMeta[] = [];
    for (const k of this.index.keys(primaryKey)) {
      const r = this.live(k);
      if (r) out.push(r.meta);
    }
    return out;
  }

  /**
   * `opts.wanted`, when given, is asked just before the entry's index line is written and
   * again before it is tracked: once it answers false (the key was deleted, or a newer
   * body committed above this tier while this one was still landing), the write lands
   * nowhere and leaves no older record for the key behind.
   */
  open(meta: EntryMeta, opts: DiskWriteOptions = {}): BodyWriter {
    const wanted = opts.wanted ?? (() => true);
    const { dir, maxBytes } = this.opts;
    const expected = meta.bodySize;
    const hash = createHash('sha256');
    const tmpPath = join(dir, 'tmp', `strata-${process.pid}-${randomUUID()}`);
    let file: WriteStream | undefined;
    let fileError: Error | undefined;
    let size = 0;
    // Why two flags: an explicit abort leaves any older entry under the key alone, but a
    // committed body over the budget is a newer response this tier cannot keep, so the
    // older one is dropped rather than left to stand in for it (also after a restart).
    let aborted = this.closed;
    let tooLarge = expected > maxBytes;
    // A writer counts as pending work until it commits or aborts, so close() waits for fills.
    let settle!: () => void;
    void this.background(new Promise<void>((r) => (settle = r)));

    const openFile = async (): Promise<WriteStream> => {
      await this.ensureDir(join(dir, 'tmp'));
      const f = createWriteStream(tmpPath, { flags: 'wx' });
      f.on('error', (err) => {
        fileError = err;
      });
      return f;
    };
    const discard = () => {
      file?.destroy();
      void rm(tmpPath, { force: true }).catch(() => undefined);
    };

    const commit = async (): Promise<void> => {
      if (aborted) return;
      if (expected >= 0 && size !== expected) {
        discard();
        throw new BodyLengthError('disk tier', size, expected);
      }
      if (tooLarge) {
        const old = this.records.get(meta.key);
        if (old) this.removeRecord(old, 'replaced by a body over the disk budget');
        return;
      }
      file ??= await openFile();
      file.end();
      await finished(file);
      if (fileError) throw fileError;
      // Same layout as cacache's own writes: content-v2/sha256/xx/yy/rest, moved into place
      // only when complete; an existing blob with the same digest is the same bytes.
      const sri = 'sha256-' + hash.digest('base64');
      const path = contentPath(dir, sri);
      // Pinned from the moment it is in place until the record is tracked (see removeBlobLater).
      await this.serial(DiskTier.blobQueue(sri), async () => {
        await this.ensureDir(dirname(path));
        await rename(tmpPath, path);
        this.pin(sri, 1);
      });
      try {
        meta.bodySize = size;
        meta.integrity = sri;
        // Check, insert and track under the key's queue, so a delete or a newer write of
        // the same key cannot interleave (why: see DiskWriteOptions).
        await this.serial(meta.key, async () => {
          if (!wanted()) return;
          await cacache.index.insert(dir, meta.key, sri, { size, metadata: meta });
          if (wanted()) {
            this.track({ meta, integrity: sri, path, size });
            // Hashed while it was written, and moved into place by this commit.
            this.trusted.add(sri);
            return;
          }
          const old = this.records.get(meta.key);
          if (old && this.untrack(old)) this.removeBlobLater(old);
          await cacache.rm.entry(dir, meta.key);
        });
      } finally {
        this.pin(sri, -1);
        if (!this.refs.has(sri)) this.removeBlobLater({ meta, integrity: sri, path, size });
      }
      this.evictOverBudget();
    };

    return {
      write: async (chunk) => {
        if (aborted) return;
        size += chunk.length;
        if (tooLarge) return;
        if (size > maxBytes) {
          tooLarge = true;
          discard();
          return;
        }
        file ??= await openFile();
        if (fileError) throw fileError;
        hash.update(chunk);
        if (!file.write(chunk)) await once(file, 'drain');
      },
      commit: async () => {
        try {
          await commit();
        } catch (err) {
          discard();
          // A directory may have gone away underneath (an operator cleaning up): check again next time.
          this.knownDirs.clear();
          throw err;
        } finally {
          settle();
        }
      },
      abort: () => {
        aborted = true;
        discard();
        settle();
      },
    };
  }

  async update(meta: EntryMeta): Promise<void> {
    const rec = this.live(meta.key);
    if (!rec) return;
    this.setMeta(rec, meta);
    // Appends a line to the key's bucket; the latest line wins on rebuild.
    await this.serial(meta.key, () => cacache.index.insert(this.opts.dir, meta.key, rec.integrity, { size: rec.size, metadata: meta }));
  }

  async deleteVariants(primaryKey: string): Promise<number> {
    let n = 0;
    for (const k of this.index.keys(primaryKey)) if (await this.delete(k)) n++;
    return n;
  }

  purgeMark(): number {
    return 0;
  }

  /**
   * The purge becomes a ban at once (every later read honours it) and its journal
   * record is fsynced before this resolves; the records themselves and cacache's
   * index follow in the background (purge-bans.ts, settlePurge).
   */
  async purge(selector: PurgeSelector, opts: PurgeOptions = {}): Promise<number> {
    const n = await this.countMatching(selector);
    const durable = this.ban(selector, opts);
    opts.onApply?.();
    await durable;
    return n;
  }

  /** As MemoryTier.countMatching: entries the selector matches that no earlier purge has taken. */
  countMatching(selector: PurgeSelector, inSlices = false): Promise<number> {
    const runs = prefixRuns(selector, this.order);
    if (runs) {
      if (this.bans.active === 0) return Promise.resolve(this.order.countRuns(runs));
      return countKeysInSlices(this.order.keysIn(runs), (k) => {
        const rec = this.records.get(k) as Required<DiskRecord> | undefined;
        return rec !== undefined && this.bans.alive(rec);
      }, inSlices);
    }
    const every = needsScan(selector) ? this.records.values() : candidates(selector, { variants: this.index, tags: this.tags }, (k) => this.records.get(k));
    return countInSlices(selector, every, (rec) => this.bans.alive(rec as Required<DiskRecord>), inSlices);
  }

  /**
   * The purge becomes a ban at once, within this call (every later read honours it),
   * and its journal record is fsynced before the promise resolves; the records
   * themselves and cacache's index follow in the background (purge-bans.ts,
   * settlePurge). Nothing is journalled when no record matches.
   */
  ban(selector: PurgeSelector, opts: PurgeOptions = {}): Promise<void> {
    const softAt = opts.softAtMs;
    if (softAt !== undefined && !this.opts.expire) return Promise.reject(new Error('disk tier: soft purge needs an expire policy'));
    // Wall clock, as cacache stamps index lines with it: every line written before
    // this instant is matched again at start if the background work did not land.
    const atMs = Date.now();
    const indexes = { variants: this.index, tags: this.tags };
    let keys: (() => Iterable<string>) | undefined;
    const runs = prefixRuns(selector, this.order);
    if (runs) {
      if (this.order.countRuns(runs) === 0) return Promise.resolve();
      keys = () => this.order.keysIn(runs);
    } else if (needsScan(selector)) {
      if (!anyMatch(selector, this.records.values())) return Promise.resolve();
    } else {
      if (indexedKeys(selector, indexes).next().done) return Promise.resolve();
      keys = () => indexedKeys(selector, indexes);
    }
    const record: Omit<PurgeRecord, 'id'> = softAt === undefined ? { atMs, selector } : { atMs, selector, softAtMs: softAt };
    const appended = this.journal.append(record).then((r) => r.id);
    const ban = this.bans.add(selector, softAt, keys, appended);
    this.journalled.set(ban.seq, appended);
    return this.background(appended).then(() => undefined);
  }

  /** A walk applied these bans everywhere: do the cacache index work, then retire their journal records. */
  private retireBans(bans: readonly Ban[]): void {
    const removed = this.purgedRecords;
    const softened = this.softenedRecords;
    this.purgedRecords = [];
    this.softenedRecords = [];
    const ids = bans.map((b) => this.journalled.get(b.seq));
    for (const b of bans) this.journalled.delete(b.seq);
    void this.background(
      Promise.all(ids).then(
        (known) => this.settlePurge(known.filter((id): id is number => id !== undefined), removed, softened),
        // A purge whose journal append failed was answered with an error; its ban still held.
        () => this.settlePurge([], removed, softened),
      ),
    );
  }

  async delete(key: string): Promise<boolean> {
    const rec = this.records.get(key);
    if (!rec) return false;
    this.removeRecord(rec, 'deleted');
    await this.keyQueues.get(key);
    return true;
  }

  has(key: string): boolean {
    return this.live(key) !== undefined;
  }

  /** Is there a record under the key, purge bans not considered (for counting). */
  holds(key: string): boolean {
    return this.records.has(key);
  }

  stats(): TierStats {
    return { items: this.records.size, bytes: this.bytes, maxBytes: this.opts.maxBytes };
  }

  /** Resolves when every pending index write and blob removal has finished. */
  async flush(): Promise<void> {
    await this.bans.idle();
    while (this.pending.size) await Promise.allSettled([...this.pending]);
    await this.journal.flush();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }
}

/** Run every task, at most `limit` at once; a failing task is counted, not fatal. */
async function eachLimited(tasks: readonly (() => Promise<unknown>)[], limit: number, onFailure: (err: unknown) => void): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const task = tasks[next++]!;
      await task().catch(onFailure);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
}
