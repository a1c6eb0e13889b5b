// What the tiers count for what they hold in RAM besides body bytes: estimates
// of V8 heap sizes, calibrated by test/unit/memory-accounting.test.ts (which
// measures the heap an entry really takes and fails when the estimate falls short).

/** A heap string: a 16-byte header and its characters rounded up to whole 8-byte words (one byte each for Latin-1). */
export function heapStringBytes(s: string): number {
  return 16 + ((s.length + 7) & ~7);
}
