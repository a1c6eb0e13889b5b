// The owner worker's half of "one origin fetch per object per node" (pure; no I/O).
//
// Each primary key has an owner worker (keyHash % workers). A worker that misses
// a key asks its owner for the key's lock (lock-links.ts: in process when it owns
// the key itself). The owner answers:
// - `go`: nobody fetches it now and no worker is known to hold it: fetch it from
//   the origin and store it; release the lock when the store work is over;
// - `at w`: worker w stored it (the directory says so): take it from w's cache
//   (a hit there), not from the origin;
// - `alone`: the holder's fetch stored nothing (an uncacheable answer, a failure,
//   a holder that died): fetch without a lock, as a single process's collapsed
//   followers do when the answer was not theirs to share.
// A request for a key whose lock is held waits for the holder's release, then
// gets `at holder` or `alone`.
//
// The directory (which worker last stored a key) is a fixed-size table of key
// hashes, so its memory is bounded whatever the number of objects; a slot reused
// by another key, an entry evicted or purged at w since, only make w answer "not
// cached": the asker then asks again saying so (`notAt`), and fetches itself.

export type Grant = { kind: 'go' } | { kind: 'alone' } | { kind: 'at'; worker: number };

interface Held {
  holder: number;
  waiters: ((g: Grant) => void)[];
}

/** FNV-1a over the key's UTF-16 code units: cheap, and every worker computes the same. */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The worker that answers for `hash`'s lock. */
export function ownerOf(hash: number, workers: number): number {
  return hash % workers;
}

export class LockTable {
  private readonly held = new Map<string, Held>();
  /** Slot i: [hash, worker + 1] (0: empty). */
  private readonly directory: Uint32Array;
  private readonly mask: number;
  private counts = { granted: 0, waited: 0, directed: 0, alone: 0 };

  /**
   * `slotsLog2`: the directory holds 2^slotsLog2 keys (8 bytes each). `wanted`: a
   * first waiter joined a lock `holder` holds (a holder may delay its releases
   * until someone waits: lock-links.ts).
   */
  constructor(
    slotsLog2 = 20,
    private readonly wanted: (holder: number, key: string) => void = () => {},
  ) {
    this.directory = new Uint32Array(2 << slotsLog2);
    this.mask = (1 << slotsLog2) - 1;
  }

  /** Worker `from` asks for `key`'s lock; `notAt`: the directory's worker did not have it. */
  acquire(key: string, hash: number, from: number, notAt: number | undefined, answer: (g: Grant) => void): void {
    if (notAt !== undefined) this.forget(hash, notAt);
    const h = this.held.get(key);
    if (h) {
      if (h.holder === from) {
        // Its own fetch is in flight (a second flight of the same worker, e.g. a background fill).
        this.counts.alone++;
        answer({ kind: 'alone' });
        return;
      }
      this.counts.waited++;
      if (h.waiters.push(answer) === 1) this.wanted(h.holder, key);
      return;
    }
    const at = this.storedAt(hash);
    if (at !== undefined && at !== from) {
      this.counts.directed++;
      answer({ kind: 'at', worker: at });
      return;
    }
    this.held.set(key, { holder: from, waiters: [] });
    this.counts.granted++;
    answer({ kind: 'go' });
  }

  /** The holder's fetch is over: `stored` when the object is now in its cache. */
  release(key: string, hash: number, from: number, stored: boolean): void {
    const h = this.held.get(key);
    if (!h || h.holder !== from) return;
    this.held.delete(key);
    if (stored) this.record(hash, from);
    for (const w of h.waiters) w(stored ? { kind: 'at', worker: from } : { kind: 'alone' });
  }

  /** A worker went away: the locks it held are released as "stored nothing". */
  dropHolder(from: number): void {
    for (const [key, h] of [...this.held]) if (h.holder === from) this.release(key, 0, from, false);
  }

  /** A worker holds `hash` (stored it, or found it on its disk at start). */
  record(hash: number, worker: number): void {
    const i = (hash & this.mask) * 2;
    this.directory[i] = hash;
    this.directory[i + 1] = worker + 1;
  }

  storedAt(hash: number): number | undefined {
    const i = (hash & this.mask) * 2;
    return this.directory[i + 1] !== 0 && this.directory[i] === hash ? this.directory[i + 1]! - 1 : undefined;
  }

  private forget(hash: number, worker: number): void {
    if (this.storedAt(hash) === worker) this.directory[(hash & this.mask) * 2 + 1] = 0;
  }

  get locksHeld(): number {
    return this.held.size;
  }

  stats(): { granted: number; waited: number; directed: number; alone: number; locksHeld: number } {
    return { ...this.counts, locksHeld: this.held.size };
  }
}
