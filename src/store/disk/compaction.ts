// Index compaction: the index file is rewritten with one line per live record, in
// LRU order, when dead lines (replaced, removed) outweigh live ones. In slices, on
// the writer thread's queue: lines appended meanwhile go to both files, after the
// snapshot lines built before them, so the later line still wins (writer-thread.ts).

import { recordLine } from './index-log.js';
import type { DiskTier } from './tier.js';

/**
 * Lines per slice of the snapshot, each slice followed by a turn of the event loop:
 * building a line serialises a record's metadata (~10 µs), and a compaction that
 * runs beside a purge or a storm must not hold requests back for long at a time.
 */
const SLICE_LINES = 250;
/** Dead index bytes tolerated beyond the live ones before a rewrite: a sixteenth of the budget, at most 1 MiB. */
export function compactionSlack(maxBytes: number): number {
  return Math.min(1024 * 1024, Math.floor(maxBytes / 16));
}

export function needsCompaction(tier: DiskTier): boolean {
  return tier.indexBytes > 2 * tier.liveLineBytes + compactionSlack(tier.opts.maxBytes);
}

export async function compactIndex(tier: DiskTier): Promise<void> {
  tier.compacting = true;
  try {
    const before = tier.indexBytes;
    const begun = await tier.queue.op({ t: 'compact-begin' });
    if (!begun.ok) throw new Error(begun.message);
    // Lines appended from here on go to the new file too.
    const appendedAtBegin = tier.indexBytes;
    let written = 0;
    let slice: string[] = [];
    const send = async () => {
      const text = slice.join('');
      slice = [];
      written += Buffer.byteLength(text);
      const r = await tier.queue.op({ t: 'compact-chunk', text });
      if (!r.ok) throw new Error(r.message);
    };
    for (const rec of tier.records.values()) {
      if (!tier.bans.alive(rec as Parameters<typeof tier.bans.alive>[0])) continue;
      slice.push(recordLine(rec.integrity, rec.size, rec.meta, rec.time, rec));
      if (slice.length >= SLICE_LINES) {
        await send();
        await new Promise((r) => setImmediate(r));
      }
    }
    if (slice.length) await send();
    const end = await tier.queue.op({ t: 'compact-end' });
    if (!end.ok) throw new Error(end.message);
    tier.indexBytes = written + (tier.indexBytes - appendedAtBegin);
    tier.opts.logger.info({ before, after: tier.indexBytes, records: tier.records.size }, 'disk tier: index compacted');
  } finally {
    tier.compacting = false;
  }
}
