// Eviction: records leave in LRU order (the records Map's order, oldest first) until
// what the tier holds fits its budget. Entries the memory tier is serving are passed
// over once while anything else can go (DiskTierOptions.inUse).

import { compactionSlack } from './compaction.js';
import type { DiskTier } from './tier.js';

/**
 * The write queue's byte bound: the one asked for, at most half the disk budget. Why: queued
 * bytes are unfreeable, and eviction stops while they fill the budget — a 64 MiB queue
 * before a 1 MiB tier let 7.6 MB of landed bodies pile up on disk during a storm (they
 * were evicted only once the queue had drained). A body over half the budget held in
 * memory is shed rather than queued.
 */
export function queueMaxBytes(diskMaxBytes: number, asked: number): number {
  return Math.min(asked, Math.floor(diskMaxBytes / 2));
}

/** Bytes of what the live records need: their bodies and their index lines. */
function liveBytes(tier: DiskTier): number {
  return tier.blobs.bytes + tier.segments.liveBytesNow + tier.liveLineBytes;
}

/**
 * Bytes no eviction frees: temp files of bodies still streaming, writes queued for the
 * writer thread, and the index's compaction slack. A streamed body is shed when these
 * would fill the budget (blob-writer.ts); eviction does nothing when they already do.
 */
export function unfreeableBytes(tier: DiskTier): number {
  return compactionSlack(tier.opts.maxBytes) + tier.tmpBytes + tier.queue.stats().bytesQueued;
}

/**
 * What eviction holds under the budget: the index counted at the most compaction
 * lets it grow to (twice its live lines, plus the slack), so the file's real size
 * stays within the budget between compactions.
 */
function committedBytes(tier: DiskTier): number {
  return tier.blobs.bytes + tier.segments.committedBytes + 2 * tier.liveLineBytes + unfreeableBytes(tier);
}

/** Evict until the tier fits; how many records went. */
export function evictOverBudget(tier: DiskTier): number {
  const { records } = tier;
  const inUse = tier.opts.inUse;
  // Each record is passed over at most once; if only in-use entries are left, they go too.
  let skips = inUse ? records.size : 0;
  const max = tier.opts.maxBytes;
  // When what no eviction frees fills the budget alone, evicting would empty the tier, new
  // entries included, for nothing.
  if (unfreeableBytes(tier) >= max) return 0;
  let evicted = 0;
  for (const rec of records.values()) {
    // Past the committed bound, or past the budget on disk now when reclaiming (segment
    // relocation, index compaction) lags behind a storm — then down to half the budget of
    // live data at most: evicting in write order empties whole old segments, removed at once.
    if (committedBytes(tier) <= max && (tier.usedBytes() <= max || liveBytes(tier) <= max / 2)) break;
    if (skips > 0 && inUse!(rec.key)) {
      skips--;
      records.renew(rec);
      continue;
    }
    evicted++;
    void tier.removeRecord(rec, 'evicted');
  }
  return evicted;
}
