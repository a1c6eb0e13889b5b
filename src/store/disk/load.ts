// Loading the disk tier's index at start. With `loadInBackground` the node serves at
// once and this runs beside it: a request for an entry not loaded yet is a miss (its
// fetch stores a newer entry, which the loaded one never replaces). What happens to
// the disk meanwhile is remembered and applied to the loaded records when they are
// merged: keys deleted (their removal lines are written at once), URIs invalidated
// (every variant and keyed version), purges (as journal records: they apply to every line older than them).
// Eviction, compaction, the orphan sweep and the retirement of purges wait for the end
// of the load, since all of them need every record.

import { performance } from 'node:perf_hooks';
import type { PurgeRecord } from '../purge/purge-journal.js';
import { loadIndex } from './index-load.js';
import { Segments } from './segments.js';
import { sweepOrphans } from './collect.js';
import type { DiskTier } from './tier.js';
import { uriOfKey } from '../../cache/key.js';

/** What happened to the disk while the index was loading. */
export class WhileLoading {
  readonly deletedKeys = new Set<string>();
  /** Primary keys invalidated: their variants and keyed versions (cache/key.ts keySuffix). */
  readonly invalidated = new Set<string>();
  readonly purges: Omit<PurgeRecord, 'id'>[] = [];
  /** Work that needs every record (bans' retirement), run once the load is over. */
  readonly after: (() => void)[] = [];
}

export async function loadIntoTier(tier: DiskTier, journalled: readonly PurgeRecord[], indexBytesAtStart: number, firstSegment: number, during: WhileLoading): Promise<void> {
  const { dir, logger } = tier.opts;
  const started = performance.now();
  // Lines' times matter only to purges journalled before this start: those during the load are newer than every line.
  const index = await loadIndex(dir, indexBytesAtStart, tier.summaries, journalled.length > 0);
  if (index.skipped) logger.warn({ skipped: index.skipped }, 'disk tier: unreadable index lines ignored');
  const referenced = new Set<number>();
  for (const r of index.records.values()) if (r.segment !== undefined) referenced.add(r.segment);
  const sizes = await Segments.scan(dir, referenced, firstSegment, logger);
  for (const [segment, size] of sizes) tier.segments.known(segment, size);
  tier.indexBytes += index.fileBytes;
  // index-v1.log loaded but found obsolete (index-load.ts) is removed: no longer counted.
  if (!index.legacyBytes) tier.indexBytes -= tier.legacyBytes;
  tier.legacyBytes = index.legacyBytes;

  const loaded = index.records;
  for (const r of loaded.values()) {
    if (r.segment !== undefined && (sizes.get(r.segment) ?? -1) < r.off! + r.size) {
      logger.warn({ key: r.key, segment: r.segment }, "disk tier: record beyond its segment file's end dropped");
      loaded.delete(r.key);
    } else if (during.deletedKeys.has(r.key)) loaded.delete(r.key);
    else if (during.invalidated.size > 0 && invalidatedWhileLoading(during.invalidated, r.primaryKey)) {
      // Invalidated while loading, before anyone could see it: removed for good.
      loaded.delete(r.key);
      void tier.appendRemoval(r.key);
    }
  }
  const purges = [...journalled, ...during.purges.map((p, i) => ({ id: -1 - i, ...p }))];
  const times = index.times;
  // Nothing written during the load (the usual start): the loaded map becomes the tier's.
  const adopt = tier.records.size === 0;
  const { dropped, softened } = tier.purging.applyJournal(purges, loaded.values(), (rec) => times?.get(rec.key) ?? 0, (rec) => {
    // A write of this run is newer than anything loaded.
    if (!adopt && !tier.records.has(rec.key)) tier.track(rec);
  });
  if (adopt) {
    for (const rec of dropped) loaded.delete(rec.key);
    tier.adopt(loaded);
  }
  tier.finishLoading();
  // What the load dropped left its segments' bytes dead: reclaimed now, not never.
  tier.segments.checkClosed();
  logger.info(
    { items: tier.records.size, bytes: tier.usedBytes(), ms: Math.round(performance.now() - started), purgedAtStart: dropped.length, softPurgedAtStart: softened.length },
    'disk tier: index loaded',
  );
  if (journalled.length || dropped.length || softened.length) void tier.purging.settle(journalled.map((r) => r.id), dropped, softened);
  for (const run of during.after) run();
  tier.evictOverBudget();
  // A background task flush() and close() wait for, stopping on close: left unawaited,
  // flush() resolved with orphans still there, and a sweep still walking after close()
  // queued removals that started a new writer thread on a closed tier.
  tier.background(sweepOrphans(dir, (integrity) => tier.refersTo(integrity), (integrity) => tier.unlinkBlob(integrity), logger, () => tier.closing));
}

/** Was the URI of a record under `primaryKey` invalidated: its own, or the one it is a keyed version of ("#…")? */
function invalidatedWhileLoading(invalidated: ReadonlySet<string>, primaryKey: string): boolean {
  return invalidated.has(primaryKey) || invalidated.has(uriOfKey(primaryKey));
}
