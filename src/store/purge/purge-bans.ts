// Purges applied lazily, the way Varnish's bans work: a purge adds a ban (a
// selector and a sequence number) in O(1); every entry remembers the last ban
// it was checked against, and an entry is checked against newer bans before it
// is handed out. A walker visits every entry in short slices in the background,
// so bans are applied to entries nobody asks for too, and retires the bans it
// covered. Why: removing 100,000 entries eagerly takes around a second of
// map updates and garbage collection, all of it on the request path; with bans,
// the purge answers at once and a hit pays one integer comparison.
//
// Invariant: no entry stored before a ban is returned by the tier without
// having been checked against it (refresh()); entries stored after it carry its
// sequence number and are never checked against it.

import { nextTurn, selectorMatcher, SLICE_MS } from './purge-match.js';
import type { EntryMeta, PurgeSelector } from '../types.js';

/** What purge selection reads of an entry. */
export type Selectable = Pick<EntryMeta, 'key' | 'primaryKey' | 'url' | 'tags'>;

export interface Ban {
  readonly seq: number;
  readonly matches: (meta: Selectable) => boolean;
  /** Soft purge instant; absent for a hard purge. */
  readonly softAtMs?: number;
  /**
   * The keys it can match, when the tier's indexes name them (URLs, tags,
   * prefixes), read from the indexes when the walk runs: the walk then visits
   * only these. Absent (paths, all): every entry.
   */
  readonly keys?: () => Iterable<string>;
}

/** What a tier keeps per entry for the bans. */
export interface BanChecked {
  readonly meta: Selectable;
  /** Sequence number of the newest ban this entry has been checked against. */
  bansChecked: number;
}

export interface BanTarget<T extends BanChecked> {
  /**
   * Every entry, without touching recency or checking bans: a Map's iterator, which
   * stays valid while entries are removed and added between the walk's slices.
   */
  entries(): Iterator<T>;
  /** The entry under a key, without touching recency or checking bans. */
  byKey(key: string): T | undefined;
  /** A hard ban matched: take the entry out. */
  remove(entry: T): void;
  /** A soft ban matched: replace the entry's metadata (the tier's expire policy). */
  soften(entry: T, atMs: number): void;
  /** A walk finished: these bans are applied everywhere and are retired. */
  retired?(bans: readonly Ban[]): void;
}

export class PurgeBans<T extends BanChecked> {
  /** The newest ban's sequence number; entries stored now are stamped with it. */
  seq = 0;
  private bans: Ban[] = [];
  private walking: Promise<void> | undefined;

  constructor(private readonly target: BanTarget<T>) {}

  /**
   * Add a ban and start (or continue) the background walk. `keys`: see Ban.keys.
   * `walkAfter`: a new walk starts once it settles (the purge's journal append):
   * walk slices run between the append's I/O steps otherwise, and the purge
   * answers later for nothing, as every read applies the ban anyway.
   */
  add(selector: PurgeSelector, softAtMs?: number, keys?: () => Iterable<string>, walkAfter?: Promise<unknown>): Ban {
    const ban: Ban = { seq: ++this.seq, matches: selectorMatcher(selector), ...(softAtMs === undefined ? {} : { softAtMs }), ...(keys ? { keys } : {}) };
    this.bans.push(ban);
    this.walking ??= this.walk(walkAfter);
    return ban;
  }

  /** Apply the bans newer than the entry's stamp; false when one of them removed it. */
  refresh(entry: T): boolean {
    if (entry.bansChecked === this.seq) return true;
    for (const ban of this.bans) {
      if (ban.seq <= entry.bansChecked || !ban.matches(entry.meta)) continue;
      if (ban.softAtMs === undefined) {
        this.target.remove(entry);
        return false;
      }
      this.target.soften(entry, ban.softAtMs);
    }
    entry.bansChecked = this.seq;
    return true;
  }

  /** Would the entry survive the bans not yet applied to it? Changes nothing (for counting). */
  alive(entry: T): boolean {
    if (entry.bansChecked === this.seq) return true;
    for (const ban of this.bans) if (ban.seq > entry.bansChecked && ban.softAtMs === undefined && ban.matches(entry.meta)) return false;
    return true;
  }

  /** Resolves when no walk is running (every ban so far applied and retired). */
  async idle(): Promise<void> {
    while (this.walking) await this.walking;
  }

  get active(): number {
    return this.bans.length;
  }

  /** The entries under the keys the bans name (a key may come twice: refresh is idempotent). */
  private *keyed(batch: readonly Ban[]): Generator<T | undefined> {
    for (const b of batch) for (const key of b.keys!()) yield this.target.byKey(key);
  }

  private async walk(after?: Promise<unknown>): Promise<void> {
    try {
      // The purge that added the ban answers first; the walk starts on the next turn.
      await nextTurn();
      if (after) await after.catch(() => undefined);
      while (this.bans.length) {
        const upTo = this.seq;
        const batch = this.bans.slice();
        const it = batch.some((b) => !b.keys) ? this.target.entries() : this.keyed(batch);
        // Slices of at most SLICE_MS, then the event loop serves what is waiting.
        for (let finished = false; !finished; ) {
          const until = performance.now() + SLICE_MS;
          for (let i = 1; ; i++) {
            const next = it.next();
            if (next.done) {
              finished = true;
              break;
            }
            if (next.value) this.refresh(next.value);
            if ((i & 63) === 0 && performance.now() >= until) break;
          }
          if (!finished) await nextTurn();
        }
        const done = this.bans.filter((b) => b.seq <= upTo);
        this.bans = this.bans.filter((b) => b.seq > upTo);
        this.target.retired?.(done);
      }
    } finally {
      this.walking = undefined;
    }
  }
}
