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
// Why not a fixed factor: on a small heap (16 MiB live while a 2 GiB body streams
// through) 30% is a full collection every megabyte or two of promotion, and that
// stream took twice as long. So the growth allowed is the larger of the percentage
// and MIN_SLACK_BYTES, recomputed from the live heap after each full collection.
//
// V8 reads --heap-growing-percent each time it sizes the heap, so setting it after
// start-up takes effect (Node warns that changing flags after start may do nothing;
// this one is a plain number V8 re-reads).

import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import v8 from 'node:v8';

/** The least growth allowed past the live heap, whatever the percentage. */
export const MIN_SLACK_BYTES = 16 * 1024 * 1024;

/** The growth percentage for a live heap of `liveBytes` under a configured `percent`. */
export function growthPercent(percent: number, liveBytes: number): number {
  return Math.max(percent, Math.ceil((100 * MIN_SLACK_BYTES) / Math.max(1, liveBytes)));
}

export class HeapGrowth {
  private observer: PerformanceObserver | undefined;
  private applied = 0;

  /** `percent` 0 leaves V8 its own choice. */
  constructor(private readonly percent: number) {}

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
    const p = growthPercent(this.percent, liveBytes);
    // Why a tolerance: each change is a flag parse; small drifts of the live heap do not matter.
    if (this.applied !== 0 && Math.abs(p - this.applied) < Math.max(5, this.applied / 10)) return;
    v8.setFlagsFromString(`--heap-growing-percent=${p}`);
    this.applied = p;
  }
}
