// Index compaction: the index file is rewritten with one line per live record, in
// LRU order, when dead lines (replaced, removed) outweigh live ones, and once after
// an upgrade from index-v1.log (whose records it writes in this format). In slices,
// on the writer thread's queue: a record's line is copied from the index by its
// offset, or written from the metadata held in RAM; lines appended meanwhile go to
// both files, after the snapshot lines built before them, so the later line still
// wins (writer-thread.ts); a record whose key has a newer body landing is left out, that
// body's line being in the new file already. The records take their new offsets when it
// ends (record-lines.ts).

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HEADER_LINE, recordLine } from './index-log.js';
import { INDEX_V1_FILE } from './layout.js';
import type { EntryMeta } from '../types.js';
import type { DiskRecord } from './records.js';
import type { CompactItem } from './write-ops.js';
import type { DiskTier } from './tier.js';

/** Lines per slice of the snapshot, each slice followed by a turn of the event loop. */
const SLICE_LINES = 1000;
/** Dead index bytes tolerated beyond the live ones before a rewrite: a sixteenth of the budget, at most 1 MiB. */
export function compactionSlack(maxBytes: number): number {
  return Math.min(1024 * 1024, Math.floor(maxBytes / 16));
}

/**
 * After a failed compaction, none is begun for this long. Why: the tier asks after every
 * line it appends, and on a full disk each try failed at once — 261 compactions begun (and
 * as many warnings) for 300 writes, each rewriting part of the index on a disk with no room.
 */
export const COMPACT_RETRY_MS = 10_000;

export function needsCompaction(tier: DiskTier): boolean {
  if (Date.now() < tier.compactRetryAt) return false;
  return tier.legacyBytes > 0 || tier.indexBytes > 2 * tier.liveLineBytes + compactionSlack(tier.opts.maxBytes);
}

/** A compaction the tier started by itself: a failure is warned about at most once per interval. */
export function compactInBackground(tier: DiskTier): Promise<void> {
  return compactIndex(tier).catch((err: unknown) => {
    tier.warnings.warn('compact', { err: (err as Error).message }, `disk tier: index compaction failed; retried in ${COMPACT_RETRY_MS / 1000} s at the earliest`);
  });
}

export async function compactIndex(tier: DiskTier): Promise<void> {
  tier.compacting = true;
  const { lines } = tier;
  try {
    const before = tier.indexBytes;
    const legacy = tier.legacyBytes;
    // Lines queued from here on go to the new file too: counted from before compact-begin
    // is queued, not after its answer (the lines queued while it waited were left out, and
    // the index counted short of its file).
    const appendedAtBegin = tier.indexBytes;
    const begun = await tier.queue.op({ t: 'compact-begin' });
    if (!begun.ok) throw new Error(begun.message);
    lines.moves = new Map();
    // The records as they are now, each visited once. Why not the map's iterator across
    // the slices: a hit moves its record to the map's end, so records hit meanwhile were
    // visited (and written) again — under steady hits the compaction never ended and its
    // file grew past the budget.
    const snapshot = [...tier.records.values()];
    let written = HEADER_LINE.length;
    let items: CompactItem[] = [];
    let recs: { rec: DiskRecord; meta: EntryMeta | undefined }[] = [];
    const send = async () => {
      const sent = recs;
      const r = await tier.queue.op({ t: 'compact-chunk', gen: lines.gen, items });
      items = [];
      recs = [];
      if (!r.ok) throw new Error(r.message);
      const offs = r.offs!;
      sent.forEach(({ rec, meta }, i) => lines.moves!.set(rec, { off: offs[i]!, bytes: offs[i + 1]! - offs[i]!, ...(meta ? { meta } : {}) }));
      written += offs[offs.length - 1]! - offs[0]!;
    };
    for (const rec of snapshot) {
      // Removed or replaced since the snapshot: no line (a newer record's goes to both
      // files as it lands). A purge not applied to it yet is applied now (live()), so the
      // record leaves RAM: one skipped here but kept would keep its offset into the old
      // file, and a relocation of its body then copied whatever the new file holds there.
      if (tier.live(rec.key) !== rec) continue;
      // A newer body of its key landing was queued after the compaction began (one queued
      // before it landed before the beginning was answered): its line goes to both files,
      // ahead of this slice's, and this record's line after it won at the next start — the
      // older body came back. Left out: the landing replaces the record before the end.
      if (tier.landings.pending(rec.key)) continue;
      const held = rec.held;
      if (held) items.push({ text: recordLine(held, rec.more?.time ?? Date.now(), rec) });
      else items.push({ off: rec.lineOff, bytes: rec.lineBytes, ...(rec.segment !== undefined ? { at: { segment: rec.segment, off: rec.off! } } : {}) });
      recs.push({ rec, meta: held });
      if (items.length >= SLICE_LINES) {
        // Queued in the turn the slice was built: no line of its records can land in between.
        await send();
        await new Promise((r) => setImmediate(r));
      }
    }
    if (items.length) await send();
    // The records take their new places in the same turn the result arrives: results
    // after it are lines in the new file.
    const ended = await tier.queue.op({ t: 'compact-end' }).then((end) => {
      if (end.ok) lines.compacted(end.gen);
      else lines.moves = undefined;
      return end;
    });
    if (!ended.ok) throw new Error(ended.message);
    if (ended.warning) tier.opts.logger.warn({ err: ended.warning }, 'disk tier: index compacted, but the directory could not be synced; a crash before the next sync may bring back the previous index, without the lines written since');
    tier.indexBytes = written + (tier.indexBytes - appendedAtBegin);
    if (legacy) {
      // The new file's first line makes index-v1.log obsolete (index-load.ts); removed now.
      await rm(join(tier.opts.dir, INDEX_V1_FILE), { force: true });
      tier.legacyBytes = 0;
    }
    tier.opts.logger.info({ before, after: tier.indexBytes, records: tier.records.size, ...(legacy ? { convertedFromV1: true } : {}) }, 'disk tier: index compacted');
  } catch (err) {
    // Set before `compacting` is cleared: a line landing in between began the next try at once.
    tier.compactRetryAt = Date.now() + COMPACT_RETRY_MS;
    throw err;
  } finally {
    lines.moves = undefined;
    tier.compacting = false;
  }
}
