// How far V8 lets its heap grow past what survived a full collection before it
// collects again, kept for the process from cache.heapGrowthPercent.
//
// Why: left to itself, V8 picks that factor from its collection speed and the
// allocation rate — up to 4× on a machine with gigabytes of RAM. Under a storm of
// misses the cache's own live data (--memory-size, the disk tier's records) was
// about 100 MiB and the heap grew to 250-300 MiB before the next full collection,
// plus the bodies freed meanwhile: 366 MiB of RSS growth for a 64 MiB memory tier
// (CACHING.md, storage limits; bench/load/storm.ts).
//
// Why only on a large heap: a small live heap streaming large bodies (1 MiB disk
// ranges, a 2 GiB pass-through: 16-20 MiB live, the bodies outside the heap)
// needs room, not a full collection every few megabytes — with 30% there, random
// 1 MiB ranges from disk went from 1.3-1.6x a bare file server to 0.6x. So below
// LEFT_ALONE_BELOW_BYTES of live heap V8 keeps its own choice, only held to
// SMALL_HEAP_MAX_SLACK_BYTES of slack (48 MiB: 2.4x at 20 MiB, far from 30%); a
// storm's live heap (the tiers' records and metadata) is past it within seconds.
//
// Why never less slack than at SLACK_REFERENCE_BYTES of live heap: what the storm
// bound (RSS within --memory-size + 150 MiB) limits is the slack in bytes, and it
// binds at the largest live heap (~80-100 MiB under a storm with a 64 MiB memory
// tier). Between 32 and 80 MiB of live heap — a node filling its cache with misses —
// 30% of it left 10-24 MiB of slack: a full collection, marking the whole heap,
// every few thousand misses (about 110 µs of CPU per 16 KiB miss against V8's own
// choice). There the percentage is raised so the slack stays what 30% of 80 MiB is.

// Why never less slack than a fifth of the memory tier's budget: V8 counts every new
// ArrayBuffer byte (origin chunks, stored bodies) against that slack, so a node filling
// its memory tier with misses ran a full collection every ~1,500 misses of 16 KiB at 24 MiB
// of slack — about 30 µs of CPU per miss (CPU per 16 KiB miss 263 → 241 µs, median of
// three alternating rounds, with twice the slack). The storm bound (RSS within
// --memory-size + 150 MiB) scales with the same budget: with --memory-size 64MiB this
// floor is 12.8 MiB and the rule above decides; with the default 256 MiB it is 51 MiB.

// V8 reads --heap-growing-percent each time it sizes the heap, so setting it after
// start-up takes effect (Node warns that changing flags after start may do nothing;
// this one is a plain number V8 re-reads).

import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import v8 from 'node:v8';

/** Below this live heap V8 sizes its heap itself. */
export const LEFT_ALONE_BELOW_BYTES = 32 * 1024 * 1024;

/**
 * Below LEFT_ALONE_BELOW_BYTES, the most slack V8's own choice may leave (never less than the
 * memory-budget floor): a storm's first full collections run at 20-30 MiB of live heap, and
 * V8's factor there (up to 4x) let the heap reach ~100 MiB before the next one: the storm's
 * RSS peak (215.8 MiB of growth against a 214 MiB bound at 11 s, bench/RESULTS.md 12-03).
 * A streaming heap of 16 MiB or less keeps V8's choice whole (4x of 12-16 MiB is under it).
 */
export const SMALL_HEAP_MAX_SLACK_BYTES = 48 * 1024 * 1024;

/** V8's largest growth factor (4x), as a percentage. */
const V8_MAX_GROWTH_PERCENT = 300;

/** At a smaller live heap, the slack in bytes stays what `percent` gives at this one. */
export const SLACK_REFERENCE_BYTES = 80 * 1024 * 1024;

/** The slack in bytes at least, as a share of the memory tier's budget. */
export const MIN_SLACK_OF_MEMORY_BUDGET = 1 / 5;

/**
 * The growth percentage for a live heap of `liveBytes` under a configured `percent`
 * and at least `minSlackBytes` of slack; 0: V8's own choice.
 */
export function growthPercent(percent: number, liveBytes: number, minSlackBytes = 0): number {
  if (percent <= 0 || liveBytes <= 0) return 0;
  if (liveBytes < LEFT_ALONE_BELOW_BYTES) {
    const capped = Math.ceil((100 * Math.max(SMALL_HEAP_MAX_SLACK_BYTES, minSlackBytes)) / liveBytes);
    return capped < V8_MAX_GROWTH_PERCENT ? capped : 0;
  }
  const byReference = liveBytes >= SLACK_REFERENCE_BYTES ? percent : Math.ceil((percent * SLACK_REFERENCE_BYTES) / liveBytes);
  return Math.max(byReference, Math.ceil((100 * minSlackBytes) / liveBytes));
}

export class HeapGrowth {
  private observer: PerformanceObserver | undefined;
  private applied = 0;

  /** `percent` 0 leaves V8 its own choice; `memoryBudgetBytes`: the memory tier's (its fifth is the least slack). */
  constructor(
    private readonly percent: number,
    private readonly memoryBudgetBytes = 0,
  ) {}

  start(): void {
    if (this.percent <= 0 || this.observer) return;
    this.set(v8.getHeapStatistics().used_heap_size);
    this.observer = new PerformanceObserver((list) => {
      if (list.getEntries().some((e) => (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) {
        this.set(v8.getHeapStatistics().used_heap_size);
      }
    });
    this.observer.observe({ entryTypes: ['gc'] });
  }

  stop(): void {
    this.observer?.disconnect();
    this.observer = undefined;
  }

  /** The percentage last given to V8 (0: none yet). */
  get current(): number {
    return this.applied;
  }

  private set(liveBytes: number): void {
    const p = growthPercent(this.percent, liveBytes, this.memoryBudgetBytes * MIN_SLACK_OF_MEMORY_BUDGET);
    if (p === this.applied) return;
    v8.setFlagsFromString(`--heap-growing-percent=${p}`);
    this.applied = p;
  }
}
