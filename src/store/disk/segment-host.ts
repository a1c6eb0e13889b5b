// The tier as the segment books see it (segments.ts): its records, and its writer
// thread for copying bodies out of a sparse segment and removing empty ones.

import type { DiskRecord } from './records.js';
import type { SegmentHost } from './segments.js';
import type { DiskTier } from './tier.js';

/** What the segment books need of the tier: its records, and the writer for copies and removals. */
export function segmentHost(tier: DiskTier): SegmentHost {
  return {
    records: () => unpurged(tier),
    relocate: async (from, items) => {
      const r = await tier.queue.op({ t: 'relocate', from, items });
      return r.ok ? r.moved : undefined;
    },
    // A purge not applied to the record yet is applied now (live()): a purged record is
    // never moved, as compaction never writes its line (compaction.ts) — moved, it was
    // given a line copied from an offset that referred to the index before the compaction.
    // Nor is one whose key has a newer body landing: that body's line may be in the index
    // already (queued while the copy ran), and the moved record's line, written after it,
    // won at the next start — the older body came back. The record stays where it was
    // (its segment kept) until the newer body replaces it.
    current: (rec) => tier.live((rec as DiskRecord).key) === rec && !tier.landings.pending((rec as DiskRecord).key),
    moved: (rec) => tier.lines.relocated(rec as DiskRecord),
    unlinkSegment: (segment) => {
      tier.reads.segments.forget(segment);
      void tier.queue.op({ t: 'unlink-segment', segment });
    },
    logger: tier.opts.logger,
  };
}

/** The records a purge not applied yet leaves alive (nothing changed: the scan runs across turns). */
function* unpurged(tier: DiskTier): IterableIterator<DiskRecord> {
  for (const rec of tier.records.values()) if (tier.bans.alive(rec)) yield rec;
}
