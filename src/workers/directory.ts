// Which worker of a node stored a key (pure; no I/O). Every worker keeps the
// whole node's directory: it learns what the others hold from their notices
// (lock-links.ts: what each holds on disk when it links, then what each stores,
// in batches). A miss on a key another worker stored is taken from that worker's
// cache (worker-fetch.ts), not from the origin.
//
// The directory is a fixed-size table of key hashes, so its memory is bounded
// whatever the number of objects; a slot reused by another key, an entry evicted
// or purged at w since, only make w answer "not cached": the asker then forgets
// w for the key and fetches it itself (under the key's lock: key-lock.ts).

/**
 * What a waiter is told by a key's holder: fetch alone, take it from worker w's
 * cache (stored), or join worker w's fetch (`fetching`: its response is being
 * stored, and its bytes stream to whoever joins its flight as they arrive).
 */
export type Answer = { kind: 'alone' } | { kind: 'at'; worker: number } | { kind: 'fetching'; worker: number };
/** A lock request's outcome: `go` (this worker holds the lock and fetches), or an answer. */
export type Grant = { kind: 'go' } | Answer;

/** FNV-1a over the key's UTF-16 code units: cheap, and every worker computes the same. */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Directory {
  /** Slot i: [hash, worker + 1] (0: empty). */
  private readonly slots: Uint32Array;
  private readonly mask: number;

  /** `slotsLog2`: the directory holds 2^slotsLog2 keys (8 bytes each). */
  constructor(slotsLog2 = 20) {
    this.slots = new Uint32Array(2 << slotsLog2);
    this.mask = (1 << slotsLog2) - 1;
  }

  /** `worker` holds `hash` (stored it, or found it on its disk at start). */
  record(hash: number, worker: number): void {
    const i = (hash & this.mask) * 2;
    this.slots[i] = hash;
    this.slots[i + 1] = worker + 1;
  }

  storedAt(hash: number): number | undefined {
    const i = (hash & this.mask) * 2;
    return this.slots[i + 1] !== 0 && this.slots[i] === hash ? this.slots[i + 1]! - 1 : undefined;
  }

  /** `worker` turned out not to hold `hash` (evicted, purged, or the slot was another key's). */
  forget(hash: number, worker: number): void {
    if (this.storedAt(hash) === worker) this.slots[(hash & this.mask) * 2 + 1] = 0;
  }
}
