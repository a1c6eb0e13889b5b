// The disk tier's purge journal: one JSON line per purge, appended and fsynced
// before the purge is acknowledged. Why: a purge of 100,000 entries cannot write
// 100,000 index tombstones before it answers; the journal makes it durable in one
// write, and the per-key work follows in the background. At start the tier applies
// every record to the index records written before it (cacache's `time` ≤ atMs),
// so a crash before the background work finished still leaves those entries purged.
// A record is retired (the file rewritten without it) once its per-key work has
// landed in cacache's own index.
//
// Invariants: appends and rewrites are serialised; a rewrite goes to a temporary
// file renamed over the journal, so the journal on disk is always whole or the
// previous one. A torn last line (a crash mid-append, or a failed append that could
// not be cut back) is ignored: that purge was never acknowledged. Nothing is ever
// appended after one: the next record rewrites the journal whole instead (a line
// glued to torn bytes would be lost, though its purge was acknowledged).

import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { PurgeSelector } from '../types.js';
import { appendSynced, openForAppend, readIfThere, replaceSynced, syncDir, type OpenForAppend } from '../../util/durable-file.js';

export interface PurgeRecord {
  id: number;
  /** Wall-clock ms, comparable with cacache's index `time`: records written at or before it are purged. */
  atMs: number;
  selector: PurgeSelector;
  /** Present for a soft purge: the instant (policy clock) the entries became stale. */
  softAtMs?: number;
}

export const JOURNAL_FILE = 'purge-journal.jsonl';

export class PurgeJournal {
  /** Records on disk and not retired (an append still queued is not here yet). */
  private readonly live = new Map<number, PurgeRecord>();
  private nextId = 1;
  private chain: Promise<unknown> = Promise.resolve();
  private exists = false;
  /** The file may end in torn bytes (read so at load, or an append failed): the next append rewrites it whole. */
  private mustRewrite = false;

  private constructor(
    private readonly path: string,
    private readonly openFile: OpenForAppend,
  ) {}

  /**
   * Read the journal in `dir`; records in the order they were written. Unreadable lines are
   * skipped (counted). `openFile`: how the journal is opened to append to it.
   */
  static async load(dir: string, openFile: OpenForAppend = openForAppend): Promise<{ journal: PurgeJournal; records: PurgeRecord[]; skipped: number }> {
    const journal = new PurgeJournal(join(dir, JOURNAL_FILE), openFile);
    const found = await readIfThere(journal.path);
    journal.exists = found !== undefined;
    const text = found ?? '';
    const records: PurgeRecord[] = [];
    let skipped = 0;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const r = JSON.parse(line) as PurgeRecord;
        if (typeof r.id !== 'number' || typeof r.atMs !== 'number' || typeof r.selector !== 'object' || r.selector === null) throw new Error('shape');
        records.push(r);
        journal.live.set(r.id, r);
        journal.nextId = Math.max(journal.nextId, r.id + 1);
      } catch {
        skipped++;
      }
    }
    journal.mustRewrite = skipped > 0;
    return { journal, records, skipped };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Resolves once the record is on disk (fsynced). */
  append(rec: Omit<PurgeRecord, 'id'>): Promise<PurgeRecord> {
    const full: PurgeRecord = { id: this.nextId++, ...rec };
    return this.serial(async () => {
      try {
        if (this.mustRewrite) await this.rewrite([...this.live.values(), full]);
        else await appendSynced(this.path, JSON.stringify(full) + '\n', this.openFile);
      } catch (err) {
        this.mustRewrite = true;
        throw err;
      }
      this.live.set(full.id, full);
      if (!this.exists) {
        await syncDir(dirname(this.path));
        this.exists = true;
      }
      return full;
    });
  }

  /** The record's effect is in cacache's index now: drop it from the journal. */
  retire(ids: readonly number[]): Promise<void> {
    return this.serial(async () => {
      for (const id of ids) this.live.delete(id);
      if (this.live.size === 0) {
        if (this.exists || this.mustRewrite) await rm(this.path, { force: true });
        this.exists = false;
        this.mustRewrite = false;
        return;
      }
      await this.rewrite([...this.live.values()]);
    });
  }

  /** The journal becomes `records`, whole (replaceSynced): nothing torn is left in it. */
  private async rewrite(records: readonly PurgeRecord[]): Promise<void> {
    await replaceSynced(this.path, records.map((r) => JSON.stringify(r) + '\n').join(''));
    this.exists = true;
    this.mustRewrite = false;
  }

  /** Records not yet retired. */
  get size(): number {
    return this.live.size;
  }

  flush(): Promise<unknown> {
    return this.chain;
  }
}
