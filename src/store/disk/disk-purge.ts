// Purges in the disk tier. A purge becomes a ban at once (every later read honours
// it, purge-bans.ts) and its journal record is fsynced before it is acknowledged
// (purge-journal.ts); the records follow through a background walk, and their index
// lines (removals, softened metadata) after it. Once those lines are durable the
// journal records are retired; after a crash, the next start applies them again to
// every index line written before them (applyJournal).

import { PurgeBans, type Ban } from '../purge/purge-bans.js';
import type { PurgeJournal, PurgeRecord } from '../purge/purge-journal.js';
import { anyMatch, countMatching, eachInSlices, indexedKeys, needsScan, prefixRuns, selectorMatcher, type CountedTier } from '../purge/purge-match.js';
import type { EntryMeta, ExpireFn, PurgeOptions, PurgeSelector } from '../types.js';
import type { DiskRecord, DiskTier } from './tier.js';
import type { OpResult } from './write-ops.js';

type Checked = DiskRecord;

export class DiskPurging {
  /** Journal ids of the bans not retired yet, by ban sequence number. */
  private readonly journalled = new Map<number, Promise<number>>();
  /**
   * By ban sequence number: the writes of matching keys that were landing when the ban
   * was made (settled: their removal line's result when not wanted any more).
   */
  private readonly landing = new Map<number, Promise<(OpResult | undefined)[]>>();
  /** Records bans removed or softened since the last walk ended: their index lines are still to write. */
  private purgedRecords: DiskRecord[] = [];
  private softenedRecords: DiskRecord[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  readonly bans: PurgeBans<Checked>;
  /** What counting a purge's matches reads (purge-match.ts countMatching). */
  private readonly counted: CountedTier<Checked>;

  constructor(private readonly tier: DiskTier, private readonly journal: PurgeJournal) {
    this.bans = new PurgeBans<Checked>({
      entries: () => tier.records.values() as Iterator<Checked>,
      byKey: (key) => tier.records.get(key) as Checked | undefined,
      remove: (rec) => {
        if (tier.records.get(rec.key) !== rec) return;
        tier.untrack(rec);
        this.purgedRecords.push(rec);
      },
      soften: (rec, atMs) => {
        soften(rec, atMs, tier.opts.expire!, (meta) => tier.setMeta(rec, meta));
        this.softenedRecords.push(rec);
      },
      retired: (bans) => this.retireBans(bans),
    });
    this.counted = { indexes: tier.indexes, bans: this.bans, byKey: (key) => tier.records.get(key) as Checked | undefined, entries: () => tier.records.values() as Iterable<Checked> };
  }

  /**
   * At start: journal records apply to the index lines written before them (their
   * per-key work had not landed when the process stopped). `keep` tracks the rest.
   */
  applyJournal(records: readonly PurgeRecord[], loaded: Iterable<DiskRecord>, timeOf: (rec: DiskRecord) => number, keep: (rec: DiskRecord) => void): { dropped: DiskRecord[]; softened: DiskRecord[] } {
    const purges = records.map((r) => ({ r, matches: selectorMatcher(r.selector) }));
    const dropped: DiskRecord[] = [];
    const softened: DiskRecord[] = [];
    const expire = this.tier.opts.expire;
    for (const rec of loaded) {
      let fate: 'keep' | 'drop' | 'soft' = 'keep';
      const time = purges.length ? timeOf(rec) : 0;
      for (const { r, matches } of purges) {
        if (time > r.atMs || !matches(rec.meta)) continue;
        if (r.softAtMs === undefined || !expire) {
          fate = 'drop';
          break;
        }
        soften(rec, r.softAtMs, expire, (meta) => (rec.more!.meta = meta));
        fate = 'soft';
      }
      if (fate === 'drop') {
        dropped.push(rec);
        continue;
      }
      keep(rec);
      if (fate === 'soft') softened.push(rec);
    }
    return { dropped, softened };
  }

  /**
   * The per-key part of purges, in the background: removal lines for removed keys
   * (unless a newer entry was written under the key since), blobs nobody refers to,
   * lines carrying softened metadata; once all of it is durable, the journal records
   * are retired. After a failure they stay, and the next start applies them again.
   */
  settle(ids: number[], removed: DiskRecord[], softened: DiskRecord[], landing: Promise<(OpResult | undefined)[]>[] = []): Promise<void> {
    const { tier } = this;
    // Writes landing at the ban: a crash before their removal line is durable left their
    // record line standing with nothing to remove it but the journal record.
    const done = Promise.all([this.queueLines(removed, softened), ...landing]).then(async (all) => {
      const results = all.flat();
      const failures = results.filter((r) => r && !r.ok).length;
      if (failures) {
        tier.opts.logger.warn({ failures, journalled: ids }, 'disk tier: purge index writes failed; the journal keeps the purge and the next start applies it again');
        return;
      }
      if (ids.length === 0) return;
      const synced = await tier.queue.op({ t: 'sync' });
      if (synced.ok) await this.journal.retire(ids);
    });
    return this.background(done.catch((err: unknown) => tier.opts.logger.warn({ err }, 'disk tier: purge journal compaction failed')));
  }

  /**
   * The removal lines and softened lines, queued in slices of SLICE_MS: a purge of
   * 100,000 entries built its removal lines in one go and held the event loop for
   * 0.1–0.3 s, the hits waiting meanwhile (a key stored again between slices keeps
   * its record: appendRemoval() skips it).
   */
  private async queueLines(removed: DiskRecord[], softened: DiskRecord[]): Promise<(OpResult | undefined)[]> {
    const work: Promise<OpResult | undefined>[] = [];
    const recs = removed.length ? removed.concat(softened) : softened;
    await eachInSlices(recs, (rec, i) => {
      work.push(i < removed.length ? (this.tier.appendRemoval(rec.key) ?? Promise.resolve(undefined)) : this.writeSoftened(rec));
    });
    return Promise.all(work);
  }

  /** A softened record's line: its metadata read (the soft purge applied) and written again. */
  private async writeSoftened(rec: DiskRecord): Promise<OpResult | undefined> {
    const { tier } = this;
    if (tier.records.get(rec.key) !== rec) return undefined;
    const meta = await tier.lines.read(rec).catch(() => undefined);
    // Unreadable now (an I/O error): the journal keeps the purge for the next start.
    if (!meta) return { ok: false, code: 'EINDEX', message: `index line of ${rec.key} unreadable` };
    if (tier.records.get(rec.key) !== rec) return undefined;
    return tier.lines.write(rec, meta);
  }

  /**
   * A write of a key a soft purge matched while it was landing: once it lands, its record
   * is softened and its line written (before the purge's journal record retires). Why: a
   * record lands stamped with every ban made so far (tier.ts list()), this one included,
   * so nothing made it stale — it was served fresh, and after a restart too, once the
   * journal record that covered its line had retired.
   */
  private async softenOnLanding(key: string, atMs: number): Promise<OpResult | undefined> {
    const { tier } = this;
    const settled = await tier.landings.settled(key);
    const rec = tier.records.get(key);
    if (!settled.ok || !rec) return settled;
    soften(rec, atMs, tier.opts.expire!, (meta) => tier.setMeta(rec, meta));
    return this.writeSoftened(rec);
  }

  private background<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    const drop = () => this.pending.delete(p);
    p.then(drop, drop);
    return p;
  }

  /** The purge becomes a ban at once; resolves once its journal record is durable. */
  async purge(selector: PurgeSelector, opts: PurgeOptions = {}): Promise<number> {
    const loadingBefore = this.tier.loading !== undefined;
    const n = await this.countMatching(selector);
    // Records not loaded yet are purged as they load, uncounted (PurgeOptions.onPartialCount).
    if (loadingBefore || this.tier.loading !== undefined) opts.onPartialCount?.();
    const durable = this.ban(selector, opts);
    opts.onApply?.();
    await durable;
    return n;
  }

  /** purge-match.ts countMatching over this tier. */
  countMatching(selector: PurgeSelector, inSlices = false): Promise<number> {
    return countMatching(selector, this.counted, undefined, inSlices);
  }

  /**
   * The purge becomes a ban at once, within this call, and its journal record is
   * fsynced before the promise resolves. Nothing is journalled when no record matches.
   */
  ban(selector: PurgeSelector, opts: PurgeOptions = {}): Promise<void> {
    const { tier } = this;
    const softAt = opts.softAtMs;
    if (softAt !== undefined && !tier.opts.expire) return Promise.reject(new Error('disk tier: soft purge needs an expire policy'));
    // Wall clock, as index lines are stamped with it: every line written before this
    // instant is matched again at start if the background work did not land.
    const atMs = Date.now();
    const record: Omit<PurgeRecord, 'id'> = softAt === undefined ? { atMs, selector } : { atMs, selector, softAtMs: softAt };
    // Worker directories nobody serves get every purge, whatever this tier holds (unserved-journals.ts).
    const elsewhere = tier.opts.unserved?.append(record);
    const unmatched = () => (elsewhere ? this.background(elsewhere) : Promise.resolve());
    const indexes = tier.indexes;
    let keys: (() => Iterable<string>) | undefined;
    const runs = prefixRuns(selector, tier.indexes.order);
    // A matching write still landing is not a record yet: its line may land and its
    // removal line (not wanted: TieredStore.purge cancelled it) follow only after this
    // answer. Journalled, the purge removes that line at the next start if a crash came
    // between them; found by nothing else, the purged entry came back after a kill -9.
    const landingKeys = tier.landings.keysLanding(selectorMatcher(selector));
    // While loading, a purge is journalled even if nothing loaded matches: unloaded records may.
    const nothing = () => !tier.loading && landingKeys.length === 0;
    if (runs) {
      if (tier.indexes.order.countRuns(runs) === 0 && nothing()) return unmatched();
      keys = () => tier.indexes.order.keysIn(runs);
    } else if (needsScan(selector)) {
      if (!anyMatch(selector, tier.records.values()) && nothing()) return unmatched();
    } else {
      if (indexedKeys(selector, indexes).next().done && nothing()) return unmatched();
      keys = () => indexedKeys(selector, indexes);
    }
    // Records not loaded yet take it when they load (load.ts).
    tier.loading?.purges.push(record);
    const appended = this.journal.append(record).then((r) => r.id);
    const ban = this.bans.add(selector, softAt, keys, appended);
    this.journalled.set(ban.seq, appended);
    if (landingKeys.length) this.landing.set(ban.seq, Promise.all(landingKeys.map((k) => (softAt === undefined ? tier.landings.settled(k) : this.softenOnLanding(k, softAt)))));
    return this.background(Promise.all([appended, elsewhere])).then(() => undefined);
  }

  /** A walk applied these bans everywhere: write their index lines, then retire their journal records. */
  private retireBans(bans: readonly Ban[]): void {
    // A ban's journal record must outlive the load: the records it covers may not be loaded yet.
    const during = this.tier.loading;
    if (during) {
      during.after.push(() => this.retireBans(bans));
      return;
    }
    const removed = this.purgedRecords;
    const softened = this.softenedRecords;
    this.purgedRecords = [];
    this.softenedRecords = [];
    const ids = bans.map((b) => this.journalled.get(b.seq));
    const landing = bans.flatMap((b) => this.landing.get(b.seq) ?? []);
    for (const b of bans) {
      this.journalled.delete(b.seq);
      this.landing.delete(b.seq);
    }
    void this.background(
      Promise.all(ids).then(
        (known) => this.settle(known.filter((id): id is number => id !== undefined), removed, softened, landing),
        // A purge whose journal append failed was answered with an error; its ban still held.
        () => this.settle([], removed, softened, landing),
      ),
    );
  }

  /** Resolves when every ban is applied and its index work has landed. */
  async idle(): Promise<void> {
    await this.bans.idle();
    while (this.pending.size) await Promise.allSettled([...this.pending]);
    await this.journal.flush();
  }
}

/**
 * A soft purge on one record: metadata held in RAM is expired at once (`set`); a
 * compact record notes the instant, applied when its metadata is read (record-lines.ts).
 */
function soften(rec: DiskRecord, atMs: number, expire: ExpireFn, set: (meta: EntryMeta) => void): void {
  const held = rec.held;
  if (held) {
    set(expire(held, atMs));
    return;
  }
  // Two soft purges: the earlier instant is the stricter (expiredAt).
  const softAt = Math.min(rec.more?.softAt ?? atMs, atMs);
  rec.more = { ...rec.more, softAt };
}
