// A durable file of lines that grows by appends, with group commit: lines queued
// while a write is in flight share the next write (one append, one fsync), so a
// burst of purges costs one write, not one each. Used by purge-times.jsonl and the
// outbox's purge-outbox.log. It owns the mechanics, not the format: each owner says
// what a line holds, when the file is rewritten or removed (compaction), and what a
// torn last line means at load.
//
// Invariants: writes run one at a time, in the order they were asked for; an append
// resolves once its lines are fsynced, and the directory too when the append
// created the file; `lines` counts the lines in the file (those read at load, then
// those this log wrote).

import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { appendSynced, openForAppend, readIfThere, replaceSynced, syncDir, type OpenForAppend } from './durable-file.js';

export class AppendLog {
  private queued: string[] = [];
  /** The write that will start after the one in flight, shared by every commit() made meanwhile. */
  private next: Promise<void> | undefined;
  /** The last write asked for (settled: never rejects). */
  private last: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly path: string,
    /** Lines in the file. */
    public lines: number,
    /** Is the file in its directory durably? (An append that creates it syncs the directory.) */
    private exists: boolean,
    private readonly openFile: OpenForAppend,
  ) {}

  /** The log at `path` and its lines (empty ones dropped; none when there is no file). `openFile`: how appends open it. */
  static async open(path: string, openFile: OpenForAppend = openForAppend): Promise<{ log: AppendLog; lines: string[] }> {
    const text = await readIfThere(path);
    const lines = (text ?? '').split('\n').filter((l) => l !== '');
    return { log: new AppendLog(path, lines.length, text !== undefined, openFile), lines };
  }

  /** Queue one line (without its newline) for the next commit. */
  push(line: string): void {
    this.queued.push(line + '\n');
  }

  /**
   * Once the write in flight (if any) is done, run `write` with the lines queued by
   * then (each ending in a newline); commit() calls made before it starts share it and
   * its `write` (the first one's). Rejects when `write` does; later writes still run.
   */
  commit(write: (batch: string[]) => Promise<void>): Promise<void> {
    if (this.next !== undefined) return this.next;
    const next = this.last.then(async () => {
      // Lines queued from here on need another write.
      this.next = undefined;
      const batch = this.queued;
      this.queued = [];
      await write(batch);
    });
    this.next = next;
    this.last = next.catch(() => undefined);
    return next;
  }

  /**
   * Append `batch` (lines ending in a newline), fsynced. A failed append is cut back
   * (appendSynced); should that fail too, a torn line stays: the owner replaces the file.
   */
  async append(batch: readonly string[]): Promise<void> {
    if (batch.length === 0) return;
    await appendSynced(this.path, batch.join(''), this.openFile);
    if (!this.exists) {
      await syncDir(dirname(this.path));
      this.exists = true;
    }
    this.lines += batch.length;
  }

  /** The file becomes `lines` (each without its newline), crash-safe (replaceSynced). */
  async replace(lines: readonly string[]): Promise<void> {
    await replaceSynced(this.path, lines.map((l) => l + '\n').join(''));
    this.exists = true;
    this.lines = lines.length;
  }

  async remove(): Promise<void> {
    await rm(this.path, { force: true });
    this.exists = false;
    this.lines = 0;
  }

  /** Resolves once every write asked for so far is done (never rejects). */
  settled(): Promise<unknown> {
    return this.last;
  }
}
