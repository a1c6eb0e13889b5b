// What this process's memory is made of now, for /stats `memory`: the figures an
// operator needs to tell the cache's own bytes (tiers, records) from V8's heap and
// its slack, buffers outside the heap, and what neither accounts for (the
// allocator's arenas and free lists, thread stacks, code): RSS minus the others.
// Each figure is read when asked; nothing is kept.

import v8 from 'node:v8';

export interface ProcessMemory {
  rssBytes: number;
  /** V8's heap, committed (its used part and the slack before the next collection). */
  heapTotalBytes: number;
  heapUsedBytes: number;
  /** The old generation's used bytes (large objects included): what survived collections. */
  oldSpaceUsedBytes: number;
  /** The young generation's committed bytes (semi-spaces). */
  newSpaceBytes: number;
  /** Memory outside V8's heap that V8 is told of: buffers (arrayBuffersBytes) and more. */
  externalBytes: number;
  arrayBuffersBytes: number;
}

export function processMemory(): ProcessMemory {
  const m = process.memoryUsage();
  let oldUsed = 0;
  let newSpace = 0;
  for (const s of v8.getHeapSpaceStatistics()) {
    if (s.space_name === 'new_space') newSpace += s.space_size;
    else if (s.space_name === 'old_space' || s.space_name === 'lo_space') oldUsed += s.space_used_size;
  }
  return {
    rssBytes: m.rss,
    heapTotalBytes: m.heapTotal,
    heapUsedBytes: m.heapUsed,
    oldSpaceUsedBytes: oldUsed,
    newSpaceBytes: newSpace,
    externalBytes: m.external,
    arrayBuffersBytes: m.arrayBuffers,
  };
}
