// The URLs that missed most often (the dashboard's "top missed URLs"): a bounded
// count map of primary keys, fed once per request whose outcome is a miss
// (pipeline/context.ts settle). Cheap: one Map update per miss; when the map
// reaches its capacity in keys or in key bytes (util/bounded-keys.ts keyBytes) it
// is pruned to the most-counted half of both (amortised), so a stream of distinct
// URLs, long ones included, cannot grow it. Counts are approximate after a prune
// (a key dropped and seen again starts over), which is what a "top N" needs.

import { keyBytes, type KeyFigures } from '../util/bounded-keys.js';

/** 1,000 keys of up to ~1 KB: the dashboard's table, not the node's budget. */
export const TOP_MISSES_MAX_KEY_BYTES = 2 ** 20;

export interface MissCount {
  key: string;
  misses: number;
}

/**
 * `key` with every value of its query and of the route's key members (after "#",
 * cache/key.ts keySuffix) left out, names kept: `?code=…&state=…`. A reset link's
 * token, an OAuth code, a keyed session cookie are in the keys that miss most, and
 * /stats answers without the admin token (the dashboard reads it). A query member
 * without "=" is left out whole (`?…`): the client wrote it, and a token sent as the
 * whole query is such a member. A bare member after "#" is a name from the route's
 * configuration (a keyed field the request lacked), kept.
 */
export function withoutValues(key: string): string {
  const q = key.search(/[?#]/);
  if (q < 0) return key;
  const hash = key.indexOf('#', q);
  const query = hash < 0 ? key.slice(q) : key.slice(q, hash);
  const members = hash < 0 ? '' : key.slice(hash);
  return key.slice(0, q) + query.replace(/([?&])([^=&]*)(=[^&]*)?/g, hiddenQueryMember) + members.replace(/=[^&]*/g, '=…');
}

/** One query member, its separator kept: `name=…`, or `…` for a bare one (an empty one stays empty). */
function hiddenQueryMember(_member: string, sep: string, name: string, value: string | undefined): string {
  if (value !== undefined) return `${sep}${name}=…`;
  return name === '' ? sep : `${sep}…`;
}

export class TopMisses {
  private readonly counts = new Map<string, number>();
  private bytes = 0;
  constructor(
    private readonly capacity = 1000,
    private readonly maxKeyBytes = TOP_MISSES_MAX_KEY_BYTES,
  ) {
    if (capacity < 2) throw new Error('TopMisses capacity must be at least 2');
  }

  record(key: string): void {
    const n = this.counts.get(key);
    if (n !== undefined) {
      this.counts.set(key, n + 1);
      return;
    }
    const cost = keyBytes(key);
    if (this.counts.size >= this.capacity || this.bytes + cost > this.maxKeyBytes) this.prune();
    // A key longer than half the budget alone would be pruned at once: not counted.
    if (cost > this.maxKeyBytes / 2) return;
    this.counts.set(key, 1);
    this.bytes += cost;
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

  get figures(): KeyFigures {
    return { keys: this.counts.size, keyBytes: this.bytes, maxKeyBytes: this.maxKeyBytes };
  }

  /** To the most-counted keys within half of each bound. */
  private prune(): void {
    const ranked = [...this.counts].sort((a, b) => b[1] - a[1]);
    this.counts.clear();
    this.bytes = 0;
    for (const [k, v] of ranked) {
      if (this.counts.size >= Math.floor(this.capacity / 2)) break;
      if (this.bytes + keyBytes(k) > this.maxKeyBytes / 2) continue;
      this.counts.set(k, v);
      this.bytes += keyBytes(k);
    }
  }
}
