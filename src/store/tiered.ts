// The two tiers as one Store: memory over disk. Every committed body goes to disk;
// bodies within the memory tier's per-object limit go to memory too. A disk hit
// small enough for memory is read whole, verified and promoted. A failing disk
// never fails a request: the write continues in memory and the error is logged.

import type { Logger } from 'pino';
import type { DiskTier } from './disk.js';
import type { MemoryTier } from './memory.js';
import { memoryBody } from './memory-body.js';
import { BodyLengthError, SupersededError, type BodyWriter, type EntryMeta, type Store, type StoredEntry, type TierStats } from './types.js';

interface Landing {
  cancelled: boolean;
  /** Metadata given to update() while the disk write was landing. */
  meta?: EntryMeta;
}

export class TieredStore implements Store {
  /** Ordering of opens and deleteVariants calls, to tell which writes a delete supersedes. */
  private epoch = 0;
  private openWriters = 0;
  /** primaryKey → epoch of its latest deleteVariants, kept while any writer is open. */
  private readonly deletedAt = new Map<string, number>();
  /**
   * Disk writes still landing after their commit() resolved, per key. A delete or a newer
   * commit of the key cancels them (the disk tier then lands nothing); an update() made
   * meanwhile is applied once they land. Why: see DiskWriteOptions in disk.ts.
   */
  private readonly landing = new Map<string, Set<Landing>>();
  private readonly landed = new Set<Promise<unknown>>();

  constructor(
    readonly memory: MemoryTier,
    readonly disk: DiskTier,
    private readonly logger: Logger,
  ) {}

  peek(key: string): StoredEntry | undefined {
    return this.memory.peek(key);
  }

  async get(key: string): Promise<StoredEntry | undefined> {
    const hot = this.memory.peek(key);
    if (hot) return hot;
    const cold = await this.disk.get(key);
    if (!cold) return undefined;
    if (!this.memory.admits(cold.meta.bodySize)) return cold;
    const data = await this.disk.readVerified(key);
    if (!data) return undefined;
    // Why: the read took I/O time. A newer entry written to memory meanwhile must not be
    // overwritten with these older bytes, and an entry deleted (purged) or replaced on
    // disk meanwhile must not be brought back into memory by this promotion.
    const newer = this.memory.peek(key);
    if (newer) return newer;
    if (this.disk.metaOf(key) !== cold.meta) return { meta: cold.meta, body: memoryBody(data) };
    this.memory.put(cold.meta, data);
    return this.memory.peek(key) ?? { meta: cold.meta, body: memoryBody(data) };
  }

  variants(primaryKey: string): EntryMeta[] {
    const fromMemory = this.memory.variants(primaryKey);
    const fromDisk = this.disk.variants(primaryKey);
    if (fromDisk.length === 0) return fromMemory;
    if (fromMemory.length === 0) return fromDisk;
    const seen = new Set(fromMemory.map((m) => m.key));
    return fromMemory.concat(fromDisk.filter((m) => !seen.has(m.key)));
  }

  private superseded(meta: EntryMeta, openedAt: number): boolean {
    return (this.deletedAt.get(meta.primaryKey) ?? -1) > openedAt;
  }

  private writerDone(): void {
    if (--this.openWriters === 0) this.deletedAt.clear();
  }

  open(meta: EntryMeta): BodyWriter {
    const openedAt = this.epoch;
    this.openWriters++;
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        this.writerDone();
      }
    };
    const mem = this.memory.admits(meta.bodySize) ? this.memory.open(meta) : undefined;
    const ticket: Landing = { cancelled: false };
    let disk: BodyWriter | undefined = this.disk.open(meta, { wanted: () => !ticket.cancelled && !this.superseded(meta, openedAt) });
    const diskFailed = (err: unknown) => {
      this.logger.warn({ err: (err as Error).message, key: meta.key }, 'disk tier write failed; entry kept in memory only');
      disk?.abort(err as Error);
      disk = undefined;
    };
    return {
      write: async (chunk) => {
        await mem?.write(chunk);
        if (disk) await disk.write(chunk).catch(diskFailed);
      },
      commit: async () => {
        if (this.superseded(meta, openedAt)) {
          mem?.abort();
          disk?.abort();
          finish();
          throw new SupersededError(meta.key);
        }
        try {
          await mem?.commit();
        } catch (err) {
          // A length mismatch: nothing is stored anywhere.
          disk?.abort(err as Error);
          finish();
          throw err;
        }
        // This body is now the newest for the key: older disk writes still landing must not.
        this.cancelLanding(meta.key);
        let tickets = this.landing.get(meta.key);
        if (!tickets) this.landing.set(meta.key, (tickets = new Set()));
        tickets.add(ticket);
        // Why: a body not admitted to memory leaves memory's older entry for the key in
        // place, and memory is consulted first: the newer response would never be seen.
        if (!mem) await this.memory.delete(meta.key);
        const diskDone = (async () => {
          try {
            await disk?.commit();
          } catch (err) {
            if (err instanceof BodyLengthError) throw err;
            diskFailed(err);
          }
          if (!ticket.cancelled && ticket.meta && this.disk.metaOf(meta.key) === meta) await this.disk.update(ticket.meta);
          // A deleteVariants that arrived while the disk commit was under way wins too: the
          // disk tier landed nothing (wanted() said no) and the memory entry was deleted by it.
          // Why no delete(key) here any more: it could remove a newer entry for the key.
          if (this.superseded(meta, openedAt)) throw new SupersededError(meta.key);
        })().finally(() => {
          tickets.delete(ticket);
          if (tickets.size === 0 && this.landing.get(meta.key) === tickets) this.landing.delete(meta.key);
          finish();
        });
        this.landed.add(diskDone);
        const drop = () => this.landed.delete(diskDone);
        diskDone.then(drop, drop);
        // Once in memory the entry is visible: the disk write finishes in the
        // background (close() waits for it). Disk-only entries are visible after it.
        if (mem && this.memory.peek(meta.key)) {
          diskDone.catch((err: unknown) => this.logger.debug({ err: (err as Error).message, key: meta.key }, 'disk commit did not land'));
          return;
        }
        await diskDone;
      },
      abort: (reason) => {
        mem?.abort(reason);
        disk?.abort(reason);
        finish();
      },
    };
  }

  private cancelLanding(key: string): void {
    for (const t of this.landing.get(key) ?? []) t.cancelled = true;
  }

  async update(meta: EntryMeta): Promise<void> {
    for (const t of this.landing.get(meta.key) ?? []) t.meta = meta;
    await Promise.all([this.memory.update(meta), this.disk.update(meta).catch((err: unknown) => {
      this.logger.warn({ err: (err as Error).message, key: meta.key }, 'disk tier metadata update failed');
    })]);
  }

  async deleteVariants(primaryKey: string): Promise<number> {
    if (this.openWriters > 0) this.deletedAt.set(primaryKey, ++this.epoch);
    const keys = this.variants(primaryKey).map((m) => m.key);
    const removed = await Promise.all(keys.map((k) => this.delete(k)));
    return removed.filter(Boolean).length;
  }

  async delete(key: string): Promise<boolean> {
    this.cancelLanding(key);
    const [a, b] = await Promise.all([this.memory.delete(key), this.disk.delete(key)]);
    return a || b;
  }

  stats(): Record<string, TierStats> {
    return { memory: this.memory.stats(), disk: this.disk.stats() };
  }

  /** Resolves when every disk write still landing, and the disk tier's own work, is done. */
  async flush(): Promise<void> {
    while (this.landed.size) await Promise.allSettled([...this.landed]);
    await this.disk.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    await this.disk.close();
    await this.memory.close();
  }
}
