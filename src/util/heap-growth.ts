// How far V8 lets its heap grow past what survived a full collection before it
// collects again, set once per process from cache.heapGrowthPercent.
//
// Why: left to itself, V8 picks that factor from its collection speed and the
// allocation rate — up to 4× on a machine with gigabytes of RAM. Under a storm of
// misses the cache's own live data (--memory-size, the disk tier's records) was
// about 100 MiB and the heap grew to 250-300 MiB before the next full collection,
// plus the bodies freed meanwhile: 366 MiB of RSS growth for a 64 MiB memory tier.
// At 30% the same storm grew by ~200 MiB (CACHING.md, storage limits;
// bench/load/storm.ts). The price is more frequent full collections.
//
// V8 reads this flag each time it sizes the heap, so setting it after start-up
// takes effect (Node warns that changing flags after start may do nothing; this
// one is a plain number V8 re-reads). 0 leaves V8's own choice.

import v8 from 'node:v8';

export function limitHeapGrowth(percent: number): void {
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${Math.round(percent)}`);
}
