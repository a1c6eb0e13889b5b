// The tier as the segment books see it (segments.ts): its records, and its writer
// thread for copying bodies out of a sparse segment and removing empty ones.

import type { DiskRecord } from './records.js';
import type { SegmentHost } from './segments.js';
import type { DiskTier } from './tier.js';

/** What the segment books need of the tier: its records, and the writer for copies and removals. */
export function segmentHost(tier: DiskTier): SegmentHost {
  return {
    records: () => tier.records.values(),
    relocate: async (from, items) => {
      const r = await tier.queue.op({ t: 'relocate', from, items });
      return r.ok ? r.moved : undefined;
    },
    current: (rec) => tier.records.get((rec as DiskRecord).key) === rec,
    moved: (rec) => tier.lines.relocated(rec as DiskRecord),
    unlinkSegment: (segment) => {
      tier.reads.segments.forget(segment);
      void tier.queue.op({ t: 'unlink-segment', segment });
    },
    logger: tier.opts.logger,
  };
}
