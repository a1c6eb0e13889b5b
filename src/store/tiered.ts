// The two tiers as one Store: memory over disk. Every committed body goes to disk;
// bodies within the memory tier's per-object limit go to memory too. A disk hit
// small enough for memory is read whole, verified and promoted. A failing disk
// never fails a request: the write continues in memory and the error is logged.

import type { Logger } from 'pino';
import type { DiskTier } from './disk/tier.js';
import type { DiskTierStats } from './disk/records.js';
import type { MemoryTier } from './memory/memory.js';
import { PurgeLog } from './purge/purge-log.js';
import type { KeyFigures } from '../util/bounded-keys.js';
import { selectorMatcher } from './purge/purge-match.js';
import { wantedWhile, WriteTickets, type Ticket } from './write-tickets.js';
import {
  BodyLengthError,
  SupersededError,
  type BodyWriter,
  type EntryMeta,
  type VariantMeta,
  type PurgeOptions,
  type PurgeSelector,
  type CacheStore,
  type InvalidatedListener,
  type PurgedListener,
  type StoredEntry,
  type TierStats,
  type WriteOptions,
} from './types.js';



export class TieredStore implements CacheStore {
  /** Writes in flight, by key. */
  /** An array, not a Set: almost always one write per key, and a miss storm opens thousands. */
  private readonly tickets = new WriteTickets();
  /**
   * Disk writes still landing after their commit() resolved, counted (flush() waits for
   * them). Why a count and not a Set of them: a long-lived table written and emptied on
   * every miss made the miss path's garbage outlive young collections (coalesce/coalescer.ts).
   */
  private landingCount = 0;
  private landedWaiters: (() => void)[] = [];
  private readonly purges = new PurgeLog();
  private readonly purgedListeners: PurgedListener[] = [];
  private readonly invalidatedListeners: InvalidatedListener[] = [];

  constructor(
    readonly memory: MemoryTier,
    readonly disk: DiskTier,
    private readonly logger: Logger,
  ) {}

  peek(key: string): StoredEntry | undefined {
    return this.memory.peek(key);
  }

  // Async: a store failure in find() rejects, as the contract's callers expect, never throws.
  async get(key: string): Promise<StoredEntry | undefined> {
    return this.find(key);
  }

  /**
   * Memory, then one look-up on disk (synchronous when the disk answers at once,
   * disk/reads.ts find()). A body memory takes is read whole and promoted; a small one
   * it does not take is read whole too (disk/reads.ts READ_WHOLE_BYTES), in a lent buffer.
   */
  find(key: string): StoredEntry | undefined | Promise<StoredEntry | undefined> {
    const hot = this.memory.peek(key);
    if (hot) return hot;
    const cold = this.disk.reads.find(key, this.promotes);
    if (cold === undefined) return this.tickets.landing(key);
    return cold instanceof Promise ? cold.then((c) => this.promoted(key, c)) : this.promoted(key, cold);
  }

  /**
   * After a memory miss (the caller's peek()): the disk's entry under `key` when it is
   * at hand (a disk hit read at once) and varies on nothing: it answers every request
   * for its URL. Undefined otherwise, with nothing read (find() and the choice among
   * variants decide).
   */
  findUnvaried(key: string): StoredEntry | undefined {
    const cold = this.disk.reads.findUnvariedNow(key, this.promotes);
    return cold && this.promoted(key, cold);
  }

  private readonly promotes = (size: number) => this.memory.admits(size);

  /** A disk hit: promoted to memory when memory takes it and nothing changed meanwhile. */
  private promoted(key: string, cold: StoredEntry | undefined): StoredEntry | undefined {
    if (cold === undefined) return this.tickets.landing(key);
    const data = cold.body.buffer;
    // A lent buffer is never kept (a reload may have raised memory's limit since the read began).
    if (data === undefined || cold.body.release !== undefined || !this.memory.admits(cold.body.size)) return cold;
    // Why: the read may have taken I/O time. A newer entry written to memory meanwhile must
    // not be overwritten with these older bytes, and an entry deleted (purged) or replaced
    // on disk meanwhile must not be brought back into memory by this promotion.
    const newer = this.memory.peek(key);
    if (newer) return newer;
    if (!this.disk.storedFrom(key, cold.meta)) return cold;
    this.memory.put(cold.meta, data);
    return this.memory.peek(key) ?? cold;
  }

  /** The whole metadata under `key` (memory's, else read from its disk line), recency untouched. */
  async readMeta(key: string): Promise<EntryMeta | undefined> {
    return this.memory.metaOf(key) ?? (await this.disk.readMeta(key));
  }

  variants(primaryKey: string): VariantMeta[] {
    const fromMemory: VariantMeta[] = this.memory.variants(primaryKey);
    const fromDisk = this.disk.variants(primaryKey);
    if (fromDisk.length === 0) return fromMemory;
    if (fromMemory.length === 0) return fromDisk;
    const seen = new Set(fromMemory.map((m) => m.key));
    return fromMemory.concat(fromDisk.filter((m) => !seen.has(m.key)));
  }

  /** The committed entry for `key` whose disk write has not landed yet (a newer commit cancels older ones). */
  purgeMark(): number {
    return this.purges.mark;
  }

  onPurged(listener: PurgedListener): void {
    this.purgedListeners.push(listener);
  }

  onInvalidated(listener: InvalidatedListener): void {
    this.invalidatedListeners.push(listener);
  }

  open(meta: EntryMeta, opts: WriteOptions = {}): BodyWriter {
    const ticket = this.tickets.issue(meta);
    // The fetch began before a purge that covers this response: it never becomes visible.
    if (opts.purgeMark !== undefined && this.purges.purgedSince(opts.purgeMark, meta)) ticket.cancelled = true;
    const wanted = wantedWhile(ticket);
    // Why two paths: a body memory holds is handed to the disk tier whole once committed
    // (its write is queued, and shed when the queue is full: the request path never
    // waits for the disk); a body too large for memory streams to disk as it arrives.
    let mem = this.memory.admits(meta.bodySize) ? this.memory.open(meta) : undefined;
    if (!mem && opts.memoryOnly) ticket.cancelled = true;
    let disk = mem || opts.memoryOnly ? undefined : this.disk.open(meta, { wanted });
    // A body of unknown length starts in memory; the chunks are kept (by reference) until
    // it outgrows memory's per-object limit, then it continues to disk from its start.
    let early: Buffer[] = [];
    let size = 0;
    const overflow = async () => {
      mem!.abort();
      mem = undefined;
      // An edge copy that outgrew memory is not kept at all.
      if (opts.memoryOnly) {
        ticket.cancelled = true;
        early = [];
        return;
      }
      disk = this.disk.open(meta, { wanted });
      const chunks = early;
      early = [];
      for (const c of chunks) await disk.write(c);
    };
    return {
      write: (chunk) => {
        if (disk) return disk.write(chunk);
        if (!mem) return;
        size += chunk.length;
        if (!this.memory.admits(size)) return overflow().then(() => (disk as BodyWriter | undefined)?.write(chunk));
        early.push(chunk);
        return mem.write(chunk);
      },
      commit: async () => {
        early = [];
        if (ticket.cancelled) {
          mem?.abort();
          disk?.abort();
          this.tickets.retire(ticket);
          throw new SupersededError(meta.key);
        }
        try {
          await mem?.commit();
        } catch (err) {
          // A length mismatch: nothing is stored anywhere.
          this.tickets.retire(ticket);
          throw err;
        }
        // The newest body of the key: older writes, landing or still streaming, must not land over it.
        this.tickets.supersedeOlder(ticket);
        ticket.committed = true;
        // Its body only: handing the entry out would unpack its metadata (memory-entry.ts).
        const held = mem ? this.memory.heldBody(meta.key) : undefined;
        ticket.landing = held;
        // Why: a body not admitted to memory leaves memory's older entry for the key in
        // place, and memory is consulted first: the newer response would never be seen.
        if (!mem) await this.memory.delete(meta.key);
        // Why methods, not closures here: the disk write lands after the writer thread's
        // reply, and a closure made in open() would keep all of open()'s scope (both
        // writers and what they hold) that long, promoted to the old generation on every miss.
        const diskDone = this.landOnDisk(ticket, meta, disk, held && !opts.memoryOnly ? held.chunks : undefined, wanted);
        this.whileLanding(diskDone, meta.key, held !== undefined);
        // Once in memory the entry is visible: the disk write finishes in the
        // background (close() waits for it). Disk-only entries are visible after it.
        if (held) return;
        await diskDone;
      },
      abort: (reason) => {
        early = [];
        mem?.abort(reason);
        disk?.abort(reason);
        this.tickets.retire(ticket);
      },
    };
  }

  /**
   * The disk side of a commit: the streamed body's commit, or the memory body queued whole;
   * then metadata updated meanwhile. Landed: the disk's record for the key is this write's
   * (landing.ts tracks it only while wanted(), i.e. not cancelled; a newer commit or a
   * delete cancels this ticket). Holds only its arguments until the writer thread replies.
   */
  private async landOnDisk(ticket: Ticket, meta: EntryMeta, disk: BodyWriter | undefined, chunks: readonly Buffer[] | undefined, wanted: () => boolean): Promise<void> {
    try {
      let landed = false;
      if (disk) {
        try {
          await disk.commit();
          landed = true;
        } catch (err) {
          if (!(err instanceof BodyLengthError)) this.logger.warn({ err: (err as Error).message, key: meta.key }, 'disk tier write failed');
          throw err;
        }
      } else if (chunks && !ticket.cancelled) {
        landed = await this.disk.putWhole(meta, chunks, { wanted });
        // The disk tier recorded the body's integrity on `meta`; memory holds it packed.
        if (landed) ticket.landing?.integrityLanded(meta.integrity);
      }
      // Metadata updated while the body was landing: its line follows.
      if (landed && !ticket.cancelled && ticket.meta && this.disk.has(meta.key)) await this.disk.update(ticket.meta);
      // Cancelled while the disk commit was under way: the disk tier landed nothing
      // (wanted() said no) and the canceller removed the memory entry.
      if (ticket.cancelled) throw new SupersededError(meta.key);
    } finally {
      this.tickets.retire(ticket);
    }
  }

  /** A disk write landing: close() waits for it; when memory holds the entry, its failure is only logged. */
  private whileLanding(diskDone: Promise<void>, key: string, inMemory: boolean): void {
    this.landingCount++;
    const drop = () => {
      if (--this.landingCount > 0) return;
      const waiters = this.landedWaiters;
      this.landedWaiters = [];
      for (const w of waiters) w();
    };
    diskDone.then(drop, (err: unknown) => {
      drop();
      if (inMemory) this.logger.debug({ err: (err as Error).message, key }, 'disk commit did not land');
    });
  }

  async update(meta: EntryMeta, opts: WriteOptions = {}): Promise<void> {
    // A validation that began before a purge covering the entry must not make it fresh again.
    if (opts.purgeMark !== undefined && this.purges.purgedSince(opts.purgeMark, meta)) return;
    this.tickets.updated(meta, opts.refreshes);
    await Promise.all([this.memory.update(meta, opts), this.disk.update(meta, opts).catch((err: unknown) => {
      this.logger.warn({ err: (err as Error).message, key: meta.key }, 'disk tier metadata update failed');
    })]);
  }

  /**
   * An unsafe method's invalidation (RFC 9111 §4.4), cheap enough for its answer to wait for.
   * In one synchronous step: the URI in the purge log (fetches begun before it are refused
   * when they open), its writes in flight cancelled (a scan of the misses in progress, spared
   * an index kept on every open), the invalidated listeners told (the coalescer). Then every
   * key either tier holds for it is deleted. Not a purge: no journal, no purge listeners.
   */
  async invalidate(primaryKey: string): Promise<number> {
    this.purges.invalidate(primaryKey);
    // A committed write still landing (its key in neither tier's index yet, perhaps) is deleted too: the disk's
    // delete waits for the landing, so its removal is written before the answer (it survives a process crash).
    const keys = new Set<string>(this.tickets.cancelUri(primaryKey));
    for (const listener of this.invalidatedListeners) listener(primaryKey);
    this.disk.invalidateUnloaded(primaryKey);
    for (const k of this.memory.uriKeys(primaryKey)) keys.add(k);
    for (const k of this.disk.uriKeys(primaryKey)) keys.add(k);
    const removed = await Promise.all([...keys].map((k) => this.delete(k)));
    return removed.filter(Boolean).length;
  }

  /**
   * Counts, then in one synchronous step: bans in both tiers, matching writes in
   * flight cancelled, later opens of fetches begun before it refused (purgeMark),
   * opts.onApply, and the disk tier's journal append. Resolves once that is durable.
   */
  async purge(selector: PurgeSelector, opts: PurgeOptions = {}): Promise<number> {
    // Counted first, a scan in slices so that a large prefix purge does not stall the
    // requests served meanwhile. Each entry once: the disk's count, plus what memory
    // holds alone (its disk write failed or has not landed yet).
    // While the disk index loads, what has not loaded yet is purged as it loads (the ban
    // covers it) but cannot be counted: the caller is told its count is a lower bound.
    let partial = this.disk.loading !== undefined;
    const memoryOnly = await this.memory.countMatching(selector, (k) => !this.disk.holds(k), true);
    const onDisk = await this.disk.purging.countMatching(selector, true);
    partial ||= this.disk.loading !== undefined;
    if (partial) opts.onPartialCount?.();
    // From here to the journal append, one synchronous step: whatever was stored while
    // counting is covered too, and no look-up falls between the tiers.
    const matches = selectorMatcher(selector);
    this.purges.add(selector);
    // Memory's walk starts once the journal append is done (PurgeBans.add: walkAfter).
    let appended!: () => void;
    this.memory.ban(selector, opts, new Promise<void>((r) => (appended = r)));
    const recorded: Promise<unknown>[] = [];
    for (const listener of this.purgedListeners) {
      const r = listener(selector, opts.softAtMs !== undefined);
      if (r instanceof Promise) recorded.push(r);
    }
    opts.onApply?.();
    for (const t of this.tickets.all()) {
      if (!matches(t.opened)) continue;
      // Soft, and already in memory: the disk write still lands, then takes the
      // softened metadata, as after an update(). Anything else never becomes visible.
      const softened = opts.softAtMs !== undefined && t.committed ? this.memory.peek(t.key)?.meta : undefined;
      if (softened) t.meta = softened;
      else t.cancelled = true;
    }
    const durable = this.disk.purging.ban(selector, opts);
    void durable.then(appended, appended);
    await durable;
    if (recorded.length) await Promise.all(recorded);
    return memoryOnly + onDisk;
  }

  async delete(key: string): Promise<boolean> {
    this.tickets.cancel(key);
    const [a, b] = await Promise.all([this.memory.delete(key), this.disk.delete(key)]);
    return a || b;
  }

  /** What the purge log remembers, and its bytes (/stats remembered). */
  purgeLogFigures(): KeyFigures {
    return this.purges.figures;
  }

  stats(): { memory: TierStats; disk: DiskTierStats } {
    return { memory: this.memory.stats(), disk: this.disk.stats() };
  }

  /** Resolves when every disk write still landing, and the disk tier's own work, is done. */
  async flush(): Promise<void> {
    await this.memory.flush();
    while (this.landingCount > 0) await new Promise<void>((r) => this.landedWaiters.push(r));
    await this.disk.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    await this.disk.close();
    await this.memory.close();
  }
}
