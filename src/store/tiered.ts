// The two tiers as one Store: memory over disk. Every committed body goes to disk;
// bodies within the memory tier's per-object limit go to memory too. A disk hit
// small enough for memory is read whole, verified and promoted. A failing disk
// never fails a request: the write continues in memory and the error is logged.

import type { Logger } from 'pino';
import type { DiskTier } from './disk.js';
import type { MemoryTier } from './memory.js';
import { BodyLengthError, SupersededError, type BodyWriter, type EntryMeta, type Store, type StoredEntry, type TierStats } from './types.js';

export class TieredStore implements Store {
  /** Ordering of opens and deleteVariants calls, to tell which writes a delete supersedes. */
  private epoch = 0;
  private openWriters = 0;
  /** primaryKey → epoch of its latest deleteVariants, kept while any writer is open. */
  private readonly deletedAt = new Map<string, number>();

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
    this.memory.put(cold.meta, data);
    return this.memory.peek(key) ?? { meta: cold.meta, body: cold.body };
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
    let disk: BodyWriter | undefined = this.disk.open(meta);
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
        try {
          if (this.superseded(meta, openedAt)) {
            mem?.abort();
            disk?.abort();
            throw new SupersededError(meta.key);
          }
          // Length mismatches reject from both; the memory tier's answer decides.
          const memDone = mem?.commit();
          const diskDone = disk?.commit().catch((err: unknown) => {
            if (err instanceof BodyLengthError) throw err;
            diskFailed(err);
          });
          await Promise.all([memDone, diskDone]);
          // A delete that arrived while the disk commit was under way wins too.
          if (this.superseded(meta, openedAt)) {
            await this.delete(meta.key);
            throw new SupersededError(meta.key);
          }
        } finally {
          finish();
        }
      },
      abort: (reason) => {
        mem?.abort(reason);
        disk?.abort(reason);
        finish();
      },
    };
  }

  async update(meta: EntryMeta): Promise<void> {
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
    const [a, b] = await Promise.all([this.memory.delete(key), this.disk.delete(key)]);
    return a || b;
  }

  stats(): Record<string, TierStats> {
    return { memory: this.memory.stats(), disk: this.disk.stats() };
  }

  async close(): Promise<void> {
    await this.disk.close();
    await this.memory.close();
  }
}
