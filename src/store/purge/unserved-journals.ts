// Purges for cache directories nobody serves right now: a worker directory left by a
// start with more workers (workers/unused-dirs.ts). It is kept on disk so that a start
// with as many workers again finds its objects; every purge accepted meanwhile is
// appended to its purge journal, which the disk tier of the worker that serves it
// next applies at start to every index line older than the purge (load.ts), as after
// a crash. Without this, such a start served what was purged while it was unused.
//
// Only the process that owns the cache directory's root (worker 0, or a single
// process) writes them, so one process appends to each. A journal is bounded: past
// MAX_RECORDS it ends with one record purging everything stored before it (correct,
// at the cost of that directory's objects), after which nothing more is needed.

import type { PurgeRecord } from './purge-journal.js';
import { PurgeJournal } from './purge-journal.js';

const MAX_RECORDS = 1_000;

interface Unserved {
  journal: Promise<PurgeJournal>;
  /** This process appended a record purging everything: later purges add nothing. */
  everything: boolean;
}

export class UnservedJournals {
  private readonly dirs: Unserved[];

  constructor(dirs: readonly string[]) {
    this.dirs = dirs.map((dir) => {
      const u: Unserved = { everything: false, journal: Promise.resolve(undefined as unknown as PurgeJournal) };
      // A purge-everything record already there is not trusted: one left by the worker that
      // served the directory (acknowledged, never retired) may predate what it stored after.
      u.journal = PurgeJournal.load(dir).then(({ journal }) => journal);
      // Its failure is each append's (the purge answers with it), never an unhandled rejection.
      u.journal.catch(() => undefined);
      return u;
    });
  }

  get count(): number {
    return this.dirs.length;
  }

  /**
   * Resolves once the record is durable in every unserved directory's journal. A
   * directory removed by hand meanwhile has nothing left to purge.
   */
  async append(record: Omit<PurgeRecord, 'id'>): Promise<void> {
    await Promise.all(
      this.dirs.map(async (u) => {
        try {
          const journal = await u.journal;
          if (u.everything) return;
          if (!purgesEverything(record) && journal.size >= MAX_RECORDS) {
            u.everything = true;
            await journal.append({ atMs: record.atMs, selector: { ...record.selector, all: true } });
            return;
          }
          if (purgesEverything(record)) u.everything = true;
          await journal.append(record);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          u.everything = true;
        }
      }),
    );
  }
}

/** A hard purge of everything: every older line in that directory is gone at its next start. */
function purgesEverything(r: Omit<PurgeRecord, 'id'>): boolean {
  return r.selector.all && r.softAtMs === undefined;
}
