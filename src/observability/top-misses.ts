// The URLs that missed most often (the dashboard's "top missed URLs"): a bounded
// count map of primary keys, fed once per request whose outcome is a miss
// (pipeline/context.ts settle). Cheap: one Map update per miss; when the map
// reaches its capacity it is pruned to the most-counted half (amortised), so a
// stream of distinct URLs cannot grow it. Counts are approximate after a prune
// (a key dropped and seen again starts over), which is what a "top N" needs.

export interface MissCount {
  key: string;
  misses: number;
}

/**
 * `key` with every value of its query and of the route's key members (after "#",
 * cache/key.ts keySuffix) left out, names kept: `?code=…&state=…`. A reset link's
 * token, an OAuth code, a keyed session cookie are in the keys that miss most, and
 * /stats answers without the admin token (the dashboard reads it).
 */
export function withoutValues(key: string): string {
  const q = key.search(/[?#]/);
  if (q < 0) return key;
  return key.slice(0, q) + key.slice(q).replace(/=[^&#]*/g, '=…');
}

export class TopMisses {
  private readonly counts = new Map<string, number>();
  constructor(private readonly capacity = 1000) {
    if (capacity < 2) throw new Error('TopMisses capacity must be at least 2');
  }

  record(key: string): void {
    const n = this.counts.get(key);
    if (n !== undefined) {
      this.counts.set(key, n + 1);
      return;
    }
    if (this.counts.size >= this.capacity) this.prune();
    this.counts.set(key, 1);
  }

  /** The `n` most-missed keys, most first (ties: the key seen first). */
  top(n = 10): MissCount[] {
    return [...this.counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, misses]) => ({ key, misses }));
  }

  get size(): number {
    return this.counts.size;
  }

  private prune(): void {
    const keep = [...this.counts].sort((a, b) => b[1] - a[1]).slice(0, Math.floor(this.capacity / 2));
    this.counts.clear();
    for (const [k, v] of keep) this.counts.set(k, v);
  }
}
