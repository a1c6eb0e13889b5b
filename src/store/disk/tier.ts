// Disk tier: records and budget. RAM keeps a compact record per entry (records.ts, in LRU order: record-order.ts), the
// full metadata in its index line (record-lines.ts). Small bodies go to segment files
// (segments.ts), large ones are blobs (layout.ts), written by a writer thread through a
// bounded queue (write-queue.ts); the index is Strata's own log (index-log.ts), compacted
// (compaction.ts), loaded beside the requests (load.ts); reads in reads.ts; deletes disk-remove.ts; crash leftovers collect.ts.
//
// Invariants:
// - An entry becomes visible only after its blob is in place whole and its record
//   line is appended (the writer does both, in that order).
// - Identical bodies share one blob; a blob is removed only when no record refers
//   to it (reference count per integrity, PITFALLS cacache 2), and never under a
//   write of the same bytes (write-queue's guarded removal).
// - Everything the tier writes counts against maxBytes: blobs (whole blocks), the
//   index file, bodies being written, bodies queued.
// - Only an integrity failure (digest, length), a missing blob, or a newer body of its
//   key that did not land (landing.ts dropOlder) removes an entry; any other read
//   error (EMFILE, EIO…) is counted and logged, and the entry stays.
// - A purge is durable once its journal record is fsynced (purge-journal.ts), and is
//   applied as a ban (purge-bans.ts); record lines follow in the background
//   (disk-purge.ts).

import { WarnLimiter } from '../../util/warn-limiter.js';
import { PurgeBans } from '../purge/purge-bans.js';
import { PurgeJournal } from '../purge/purge-journal.js';
import type { BodyWriter, EntryMeta, PurgeOptions, Purgeable, PurgeSelector, Store, StoredEntry, VariantMeta, WriteOptions } from '../types.js';
import { openBlobWriter } from './blob-writer.js';
import { collectLeftovers } from './collect.js';
import { loadIntoTier, WhileLoading } from './load.js';
import { compactInBackground, needsCompaction } from './compaction.js';
import { evictOverBudget, queueMaxBytes } from './eviction.js';
import { DiskPurging } from './disk-purge.js';
import { appendRemovalLine, deleteFromDisk, invalidateOnDisk, removeRecordLineFirst } from './disk-remove.js';
import { fileSize } from './index-load.js';
import { BlobRefs } from './blob-refs.js';
import { INDEX_FILE, INDEX_V1_FILE } from './layout.js';
import { Landings } from './landing.js';
import { DiskReads } from './reads.js';
import { RecordOrder } from './record-order.js';
import { RecordRam } from './record-ram.js';
import { diskIndexes, RecordSummaries, type DiskRecord, type DiskTierOptions, type DiskTierStats, type DiskWriteOptions } from './records.js';
import { RecordLines } from './record-lines.js';
import { segmentHost } from './segment-host.js';
import { Segments } from './segments.js';
import { WriteFailures } from './write-failures.js';
import { WriteQueue } from './write-queue.js';
import type { OpResult } from './write-ops.js';

export type { DiskRecord, DiskTierOptions, DiskTierStats, DiskWriteOptions } from './records.js';

const NO_NAMES: string[] = [];
const NO_VALUES: Record<string, string> = {};

/** At most one warning per interval for shed writes and I/O errors. */
const WARN_INTERVAL_MS = 10_000;

export class DiskTier implements Store, Purgeable {
  /** Map iteration order is the LRU order: oldest first. */
  readonly records = new RecordOrder();
  /** What its varied records keep for Vary selection (records.ts). */
  readonly summaries = new RecordSummaries();
  /** Records evicted to stay within maxBytes, since start. */
  private evictions = 0;
  /** Shed writes and I/O errors: at most one warning per kind per interval. */
  readonly warnings: WarnLimiter;
  readonly writeFailures: WriteFailures;
  readonly blobs = new BlobRefs();
  readonly indexes = diskIndexes((primaryKey) => this.records.has(primaryKey));
  readonly queue: WriteQueue;
  readonly purging: DiskPurging;
  readonly landings = new Landings(this);
  /** The index files' size (lines appended since the last compaction included; index-v1.log until converted). */
  indexBytes = 0;
  /** Bytes of an index-v1.log still to convert (compaction.ts). */
  legacyBytes = 0;
  /** Where each record's metadata is on disk. */
  readonly lines = new RecordLines(this);
  /** Bytes of the live records' lines. */
  liveLineBytes = 0;
  /** Estimated RAM of the records, metadata they keep included (record-ram.ts). */
  readonly ram = new RecordRam();
  /** Bytes of bodies being streamed to temp files: announced or written, whichever is more (blob-writer.ts). */
  tmpBytes = 0;
  readonly reads = new DiskReads(this);
  compacting = false;
  compactRetryAt = 0; // ms: none begins before, after one failed (compaction.ts)
  readonly segments: Segments;
  private readonly smallBodyBytes: number;
  private closed = false;
  /** Resolves when the index has loaded (at once unless loadInBackground). */
  ready: Promise<void> = Promise.resolve();
  /** Set while the index loads (load.ts). */
  private whileLoading: WhileLoading | undefined = new WhileLoading();
  /** close() was called: background walks stop. */
  closing = false;
  /** Streamed writes not yet committed or aborted: flush() and close() wait for them. */
  private readonly writers = new Set<Promise<unknown>>();

  private constructor(readonly opts: DiskTierOptions, journal: PurgeJournal, firstSegment: number) {
    this.writeFailures = new WriteFailures((this.warnings = new WarnLimiter(opts.logger, WARN_INTERVAL_MS)));
    this.queue = new WriteQueue({
      dir: opts.dir,
      firstSegment,
      segmentBytes: Segments.segmentBytes(opts.maxBytes),
      maxWrites: opts.writeQueueMaxWrites ?? 1024,
      maxBytes: queueMaxBytes(opts.maxBytes, opts.writeQueueMaxBytes ?? 64 * 1024 * 1024),
      logger: opts.logger,
      gen: () => this.lines.gen,
    });
    this.purging = new DiskPurging(this, journal);
    this.smallBodyBytes = Segments.smallBodyLimit(opts.maxBytes);
    this.segments = new Segments(segmentHost(this), opts.maxBytes);
  }

  get bans(): PurgeBans<DiskRecord> {
    return this.purging.bans;
  }

  /** Open the tier: its index loaded, or with loadInBackground loading beside the requests (load.ts; `ready` resolves when done). */
  static async open(opts: DiskTierOptions): Promise<DiskTier> {
    await collectLeftovers(opts.dir, opts.logger);
    const journal = await PurgeJournal.load(opts.dir);
    if (journal.skipped) opts.logger.warn({ skipped: journal.skipped }, 'disk tier: unreadable purge journal lines ignored (a purge interrupted before it was acknowledged)');
    // Both read before anything is written: what the writer adds from here on is this run's.
    const indexBytes = await fileSize(opts.dir, INDEX_FILE);
    const legacyBytes = await fileSize(opts.dir, INDEX_V1_FILE);
    const firstSegment = await Segments.nextNumber(opts.dir);
    const tier = new DiskTier(opts, journal.journal, firstSegment);
    tier.indexBytes = legacyBytes;
    // Every segment on disk is closed: the writer opens a new one above them.
    tier.segments.writerStartsAt(firstSegment);
    tier.ready = loadIntoTier(tier, journal.records, indexBytes, firstSegment, tier.whileLoading!);
    tier.ready.catch((err: unknown) => opts.logger.error({ err }, 'disk tier: index load failed; the tier starts empty'));
    if (!opts.loadInBackground) await tier.ready;
    return tier;
  }

  /** The index load is over (load.ts): what needs every record may run. */
  finishLoading(): void {
    this.whileLoading = undefined;
  }

  get loading(): WhileLoading | undefined {
    return this.whileLoading;
  }

  /** Does a blob-file record refer to this integrity? */
  refersTo(integrity: string): boolean {
    return this.blobs.has(integrity);
  }

  /** Bytes on disk the tier answers for. */
  usedBytes(): number {
    return this.blobs.bytes + this.segments.bytes + this.indexBytes + this.tmpBytes + this.queue.stats().bytesQueued;
  }

  track(rec: DiskRecord): void {
    // The new reference is counted before the old record is dropped, so a body written
    // again under its key keeps its blob.
    this.refer(rec);
    const old = this.records.get(rec.key);
    if (old) this.untrack(old);
    this.records.add(rec);
    this.list(rec);
  }

  /** A load into an empty tier: its map of records becomes the tier's, in its order (no second map of a million records). */
  adopt(records: Map<string, DiskRecord>): void {
    for (const rec of records.values()) {
      this.refer(rec);
      this.list(rec);
    }
    this.records.replaceAll(records);
  }

  private refer(rec: DiskRecord): void {
    if (rec.segment !== undefined) this.segments.track(rec);
    else this.blobs.add(rec.integrity, rec.size);
  }

  private list(rec: DiskRecord): void {
    rec.bansChecked = this.bans.seq;
    this.liveLineBytes += rec.lineBytes;
    this.ram.add(rec);
    // An entry under its primary key is found by records.get(primaryKey) (variants()): not listed.
    this.indexes.add(rec.meta);
  }

  /** Replace a record's metadata held in RAM (a soft purge), keeping the tag index in step. */
  setMeta(rec: DiskRecord, meta: EntryMeta): void {
    this.indexes.replaced(rec.meta, meta);
    rec.hold(meta, rec.more?.time ?? Date.now());
    this.ram.update(rec);
  }

  /** Forget a record; its blob is removed when nothing else refers to it. */
  untrack(rec: DiskRecord): void {
    if (this.detach(rec)) this.releaseBody(rec);
  }

  /** Forget a record, not its body yet (releaseBody); false when it is not the key's record. */
  detach(rec: DiskRecord): boolean {
    if (this.records.get(rec.key) !== rec) return false;
    this.records.remove(rec);
    this.liveLineBytes -= rec.lineBytes;
    this.ram.remove(rec);
    this.indexes.remove(rec.meta);
    this.lines.cached.drop(rec.key);
    return true;
  }

  /** A detached record's body: its segment bytes dead, its blob removed when nothing else refers to it. */
  releaseBody(rec: DiskRecord): void {
    if (rec.segment !== undefined) this.segments.untrack(rec);
    else if (this.blobs.drop(rec.integrity, rec.size)) void this.unlinkBlob(rec.integrity);
  }

  /** Remove a blob unless a record refers to it again by the time the removal is sent. */
  unlinkBlob(integrity: string): Promise<OpResult> {
    // Its descriptor, if held for reads, is closed: no removed file kept alive, and a blob written again is opened anew.
    this.reads.blobs.forget(integrity);
    return this.queue.unlink(integrity, () => !this.blobs.has(integrity));
  }

  /** Append a removal line for `key` (disk-remove.ts); undefined when a record is under the key (its line supersedes). */
  appendRemoval(key: string): Promise<OpResult> | undefined {
    return appendRemovalLine(this, key);
  }

  /** The metadata under a key when RAM holds it (records.ts), recency untouched; readMeta() reads any record's. */
  metaOf(key: string): EntryMeta | undefined {
    return this.live(key)?.held;
  }

  /** The metadata stored under a key (from its index line unless held), without touching its recency. */
  async readMeta(key: string): Promise<EntryMeta | undefined> {
    const rec = this.live(key);
    return rec ? this.reads.meta(rec) : undefined;
  }

  /** Is `meta`, handed out by get() or stored by a write, still what the tier holds under its key? */
  storedFrom(key: string, meta: EntryMeta): boolean {
    return this.live(key) !== undefined && this.lines.storedFrom(key, meta);
  }

  /** The record under a key with pending purge bans applied. */
  live(key: string): DiskRecord | undefined {
    const rec = this.records.get(key);
    if (rec === undefined || rec.bansChecked === this.bans.seq) return rec;
    return this.bans.refresh(rec) ? rec : undefined;
  }

  /** The live record under a key, moved to the young end of the LRU order (a hit). */
  hit(key: string): DiskRecord | undefined {
    const rec = this.live(key);
    return rec && (this.touch(rec), rec);
  }

  /** A live record to the young end of the LRU order (record-order.ts). */
  touch(rec: DiskRecord): void {
    this.records.touch(rec);
  }

  evictOverBudget(): void {
    // Until every record is loaded, the bytes are not all counted.
    if (this.whileLoading) return;
    this.evictions += evictOverBudget(this);
    this.maybeCompact();
  }

  /** Forget a record and append its removal line (disk-remove.ts): the line's result (the caller reports a failure). */
  removeRecord(rec: DiskRecord, why: string): Promise<OpResult> {
    return removeRecordLineFirst(this, rec, why);
  }

  maybeCompact(): void {
    if (this.compacting || this.closed || this.whileLoading || !needsCompaction(this)) return;
    this.background(compactInBackground(this));
  }

  peek(): StoredEntry | undefined {
    return undefined;
  }
  /** The Store contract's look-up: the body streamed from its file (reads.find() is the hit path's), the metadata handed out (storedFrom()). */
  async get(key: string): Promise<StoredEntry | undefined> {
    const rec = this.live(key);
    const stamp = rec && this.lines.stamp(rec);
    const found = await this.reads.find(key, undefined, -1);
    if (found && stamp) this.lines.handOut(found.meta, stamp);
    return found;
  }

  /** A whole small body, verified; undefined when it cannot be (corrupt: removed; I/O error: kept). `meta`: from get(). */
  async readVerified(key: string, meta?: EntryMeta): Promise<Buffer | undefined> {
    const rec = this.live(key);
    if (!rec) return undefined;
    const integrity = meta?.integrity ?? (await this.reads.meta(rec))?.integrity;
    return integrity === undefined ? undefined : this.reads.whole(rec, integrity);
  }

  variants(primaryKey: string): VariantMeta[] {
    const out: VariantMeta[] = [];
    for (const k of this.indexes.variants.keys(primaryKey)) {
      const r = this.live(k);
      // Whole metadata, or a variant's summary (records.ts); one with neither is stored under its primary key: unvaried, no slice.
      if (r) out.push(r.variant ?? { key: r.key, primaryKey: r.key, varyNames: NO_NAMES, varyValues: NO_VALUES, responseTimeMs: 0 });
    }
    return out;
  }

  /**
   * Store a whole body (the memory tier's copy: one buffer or its chunks) without waiting on the request path.
   * Resolves true once it is stored; false when it was shed (queue full), not wanted
   * any more, too large, or failed (logged and counted).
   */
  putWhole(meta: EntryMeta, body: Buffer | readonly Buffer[], opts: DiskWriteOptions = {}): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    const parts = Buffer.isBuffer(body) ? [body] : body;
    let size = 0;
    for (const p of parts) size += p.length;
    if (size > this.opts.maxBytes) return Promise.resolve(this.landings.tooLarge(meta));
    return this.landings.putWhole(meta, parts, size, size <= this.smallBodyBytes, opts.wanted);
  }

  open(meta: EntryMeta, opts: DiskWriteOptions = {}): BodyWriter {
    return openBlobWriter(this, meta, opts, (delta) => (this.tmpBytes += delta));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  update(meta: EntryMeta, opts: WriteOptions = {}): Promise<void> {
    return this.lines.update(meta, opts.refreshes);
  }

  /** Each removal line is written (not fsynced) before this resolves (disk-remove.ts). */
  invalidate(primaryKey: string): Promise<number> {
    return invalidateOnDisk(this, primaryKey);
  }

  /** While the index loads: what of the URI has not loaded yet is removed as it loads. */
  invalidateUnloaded(primaryKey: string): void {
    this.whileLoading?.invalidated.add(primaryKey);
  }

  /** Every key this tier holds for the URI of `primaryKey` (tier-index.ts). */
  uriKeys(primaryKey: string): string[] {
    return this.indexes.uriKeys(primaryKey);
  }

  purgeMark(): number {
    return 0;
  }

  purge(selector: PurgeSelector, opts: PurgeOptions = {}): Promise<number> {
    return this.purging.purge(selector, opts);
  }

  /** Resolves once the removal line is written (not fsynced): disk-remove.ts. */
  delete(key: string): Promise<boolean> {
    return deleteFromDisk(this, key);
  }

  has(key: string): boolean {
    return this.live(key) !== undefined;
  }

  /** Is there a record under the key, purge bans not considered (for counting). */
  holds(key: string): boolean {
    return this.records.has(key);
  }

  stats(): DiskTierStats {
    return { items: this.records.size, bytes: this.usedBytes(), maxBytes: this.opts.maxBytes, evictions: this.evictions, ...this.queue.stats(), ioErrors: this.reads.ioErrors, writeErrors: this.writeFailures.count, corrupt: this.reads.corrupt, deadBytes: this.segments.deadBytes, indexBytes: this.indexBytes, loading: this.whileLoading !== undefined, recordBytes: this.ram.bytes };
  }

  background(p: Promise<unknown>): void {
    this.writers.add(p);
    const drop = () => this.writers.delete(p);
    p.then(drop, drop);
  }

  /** Resolves when every write in progress, index line and blob removal has landed. */
  async flush(): Promise<void> {
    await this.ready.catch(() => undefined);
    while (this.writers.size) await Promise.allSettled([...this.writers]);
    await this.purging.idle();
    await this.queue.idle();
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.flush();
    this.closed = true;
    await this.queue.close();
    await this.lines.close();
    this.reads.closeAll();
  }
}

