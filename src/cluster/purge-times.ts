// When this node applied each recent purge (its clock): what a copy received from
// a peer is checked against (peer-fetch.ts). Purges reach the nodes (and the
// workers of a node) in parallel, so a peer that has not applied one yet — fan-out
// or bus lag, a delivery that failed — may still hold the purged object and answer
// with it. A peer's answer says how long ago its content left the origin (its age,
// to the millisecond: PEER_AGE), and the asking node takes it only if no purge it
// applied since that moment could match it. Why this and not purge ids sent with
// the request: the check needs nothing from the peer but its clock's durations (no
// skew between nodes), it sees the tags the answer carries (a tag purge cannot be
// matched before the response), and it holds through every hop (successor copies,
// handoff, workers).
//
// Bounded: exact primary keys (the usual purge: one URL) in a map, every other
// purge (tags, prefixes, paths, all) as a matcher in a list. What no longer fits is
// forgotten, and the newest instant forgotten becomes the horizon: a copy that
// left the origin before it counts as purged (the peer is asked to revalidate it).
//
// Durable: each purge's line is appended to purge-times.jsonl in the cache
// directory (batched, fsynced) before the purge is acknowledged (the store awaits
// its purge listeners: tiered.ts), read back at start, and the file is rewritten
// once it has grown to twice what is kept. An unreadable line (a crash mid-append)
// moves the horizon to the start: a purge of unknown time may be behind it.

import { join } from 'node:path';
import type { Logger } from 'pino';
import { emptySelector, selectorMatcher } from '../store/purge/purge-match.js';
import type { EntryMeta, PurgeSelector } from '../store/types.js';
import { AppendLog } from '../util/append-log.js';

export const PURGE_TIMES_FILE = 'purge-times.jsonl';

/** Primary keys remembered (~200 bytes each). */
export const KEPT_KEYS = 50_000;
/** Other purges remembered, and their selectors' items in all. */
export const KEPT_BROAD = 1_024;
const KEPT_BROAD_ITEMS = 200_000;

/** What a purge selects by, as a copy from a peer shows it. */
export type CopyFacts = Pick<EntryMeta, 'primaryKey' | 'url' | 'tags'>;

interface Broad {
  atMs: number;
  items: number;
  selector: PurgeSelector;
  matches: (m: CopyFacts) => boolean;
}

const LISTS = ['paths', 'urlPrefixes', 'pathPrefixes', 'tags'] as const;

/** The selector without its primary keys; undefined when that leaves nothing. */
function broadPart(sel: PurgeSelector): PurgeSelector | undefined {
  if (!sel.all && LISTS.every((f) => sel[f].length === 0)) return undefined;
  return { ...sel, primaryKeys: [] };
}

function itemsOf(s: PurgeSelector): number {
  return 1 + s.paths.length + s.urlPrefixes.length + s.pathPrefixes.length + s.tags.length;
}

/** A line's selector (absent lists empty); undefined when it is not one. */
function selectorOf(doc: unknown): PurgeSelector | undefined {
  if (doc === null || typeof doc !== 'object') return undefined;
  const d = doc as Record<string, unknown>;
  const sel = emptySelector();
  for (const f of ['primaryKeys', ...LISTS] as const) {
    const v = d[f];
    if (v === undefined) continue;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return undefined;
    sel[f] = v as string[];
  }
  sel.all = d['all'] === true;
  return sel;
}

export class PurgeTimes {
  /** Primary key → when its newest purge was applied; oldest first (a key purged again moves to the end). */
  private readonly keys = new Map<string, number>();
  private readonly broad: Broad[] = [];
  private broadItems = 0;
  /** Purges applied at or before this may have been forgotten. */
  private horizonMs = Number.NEGATIVE_INFINITY;
  /** The newest instant recorded: instants only move forward (a clock stepping back stays safe). */
  private lastMs = Number.NEGATIVE_INFINITY;
  private constructor(
    /** The file (its rewrite is due once its lines are twice what is kept). */
    private readonly log: AppendLog,
    private readonly logger: Logger,
  ) {}

  private get path(): string {
    return this.log.path;
  }

  /** The record in `dir` (empty when there is none); `nowMs`: the horizon when a line cannot be read. */
  static async load(dir: string, nowMs: number, logger: Logger): Promise<PurgeTimes> {
    const { log, lines } = await AppendLog.open(join(dir, PURGE_TIMES_FILE));
    const t = new PurgeTimes(log, logger);
    let unreadable = 0;
    for (const line of lines) {
      let doc: Record<string, unknown> | undefined;
      try {
        doc = JSON.parse(line) as Record<string, unknown>;
      } catch {
        doc = undefined;
      }
      const at = doc?.['at'];
      const sel = selectorOf(doc?.['sel']);
      if (typeof doc?.['horizon'] === 'number') t.forget(doc['horizon']);
      else if (typeof at === 'number' && sel) t.remember(sel, at);
      else unreadable++;
    }
    if (unreadable > 0) {
      t.forget(nowMs);
      logger.warn({ file: t.path, unreadable }, 'purge times: unreadable lines (a crash while one was written); copies from peers older than this start are revalidated once');
      // Rewritten now: a line appended after a torn one would be glued to it, and every later
      // start would find the file unreadable again and move the horizon up to its own start.
      try {
        await t.rewrite();
      } catch (err) {
        logger.warn({ file: t.path, err: (err as Error).message }, 'purge times: rewrite after unreadable lines failed');
      }
    }
    return t;
  }

  /** The newest instant a purge may have been applied without being remembered. */
  get horizon(): number {
    return this.horizonMs;
  }

  get size(): { keys: number; broad: number } {
    return { keys: this.keys.size, broad: this.broad.length };
  }

  /** A purge applied now (`atMs`): remembered at once; resolves once its line is on disk (never rejects). */
  record(selector: PurgeSelector, atMs: number): Promise<void> {
    const at = this.remember(selector, atMs);
    this.log.push(JSON.stringify({ at, sel: selector }));
    return this.flush();
  }

  /**
   * Has a purge applied here after `sinceMs` matched such an object, or may one have
   * (the record no longer reaches back that far)?
   */
  coveredSince(copy: CopyFacts, sinceMs: number): boolean {
    if (sinceMs < this.horizonMs) return true;
    const k = this.keys.get(copy.primaryKey);
    if (k !== undefined && k > sinceMs) return true;
    for (let i = this.broad.length - 1; i >= 0 && this.broad[i]!.atMs > sinceMs; i--) if (this.broad[i]!.matches(copy)) return true;
    return false;
  }

  private remember(sel: PurgeSelector, atMs: number): number {
    const at = Math.max(atMs, this.lastMs);
    this.lastMs = at;
    for (const k of sel.primaryKeys) {
      this.keys.delete(k);
      this.keys.set(k, at);
    }
    while (this.keys.size > KEPT_KEYS) {
      const [oldest, when] = this.keys.entries().next().value!;
      this.keys.delete(oldest);
      this.forget(when);
    }
    const rest = broadPart(sel);
    if (rest) {
      const items = itemsOf(rest);
      this.broad.push({ atMs: at, items, selector: rest, matches: selectorMatcher(rest) });
      this.broadItems += items;
      // Each matcher holds its selector's sets; the newest is always kept.
      while (this.broad.length > 1 && (this.broad.length > KEPT_BROAD || this.broadItems > KEPT_BROAD_ITEMS)) {
        const gone = this.broad.shift()!;
        this.broadItems -= gone.items;
        this.forget(gone.atMs);
      }
    }
    return at;
  }

  private forget(atMs: number): void {
    if (atMs > this.horizonMs) this.horizonMs = atMs;
    if (atMs > this.lastMs) this.lastMs = atMs;
  }

  /**
   * Write what is queued once the write in flight is done: lines queued meanwhile
   * share one append and one fsync (a burst of purges). A failed write is logged;
   * the purge itself stands (its journal is the store's).
   */
  private flush(): Promise<void> {
    return this.log.commit(async (batch) => {
      try {
        await this.log.append(batch);
        if (this.log.lines > 2 * (this.keys.size + this.broad.length) + 1_024) await this.rewrite();
      } catch (err) {
        this.logger.warn({ file: this.path, err: (err as Error).message }, 'purge times: write failed; a restart may forget when these purges were applied');
      }
    });
  }

  /** The file as the memory holds it: the horizon, then every key and broad purge, oldest first. */
  private async rewrite(): Promise<void> {
    const out: string[] = [];
    if (Number.isFinite(this.horizonMs)) out.push(JSON.stringify({ horizon: this.horizonMs }));
    // Keys and broad purges in one order by instant, so the rebuilt record agrees with this one.
    const keyed = [...this.keys];
    let b = 0;
    for (let i = 0; i <= keyed.length; i++) {
      const at = i < keyed.length ? keyed[i]![1] : Number.POSITIVE_INFINITY;
      while (b < this.broad.length && this.broad[b]!.atMs <= at) {
        out.push(JSON.stringify({ at: this.broad[b]!.atMs, sel: this.broad[b]!.selector }));
        b++;
      }
      if (i < keyed.length) out.push(JSON.stringify({ at, sel: { primaryKeys: [keyed[i]![0]] } }));
    }
    await this.log.replace(out);
  }

  /** Resolves once every line recorded so far is written. */
  async close(): Promise<void> {
    await this.log.settled();
  }
}
