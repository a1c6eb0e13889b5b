// Memory a client can choose the keys of (a URL per request) is bounded by count
// and by the bytes of those keys: with a count alone, 10,000 remembered 7 KB URLs
// hold 70 MB. One accounting for every such table: keyBytes() is what a key costs,
// BoundedKeys is an ordered map (least recently set first) that forgets its oldest
// keys while it is over either bound.
//
// Not lru-cache: its `max` preallocates its tables to that many entries, and the
// count bounds here are operators' settings with no upper limit that change at a
// reload (setBounds), where lru-cache's bounds are fixed at construction.

/** What a table slot costs beside its key's characters (Map entry, string header, value). */
export const KEY_SLOT_BYTES = 64;

/** The bytes `key` holds once remembered: a URL's characters are one byte each in V8 (two outside Latin-1). */
export function keyBytes(key: string): number {
  return key.length + KEY_SLOT_BYTES;
}

export interface KeyBounds {
  maxKeys: number;
  /** keyBytes() summed over the keys kept. */
  maxKeyBytes: number;
}

/** What /stats reports of one bounded table. */
export interface KeyFigures {
  keys: number;
  keyBytes: number;
  maxKeyBytes: number;
}

export class BoundedKeys<V> {
  private readonly map = new Map<string, V>();
  private bytes = 0;

  /** `onForget`: a key dropped to stay within the bounds (not one deleted or replaced). */
  constructor(
    private bounds: KeyBounds,
    private readonly onForget?: (key: string, value: V) => void,
  ) {}

  /** Remember `key` as the most recent. A key over maxKeyBytes by itself is not kept (forgotten at once). */
  set(key: string, value: V): void {
    this.delete(key);
    this.map.set(key, value);
    this.bytes += keyBytes(key);
    this.trim();
  }

  /** The value under `key`, without making it more recent. */
  get(key: string): V | undefined {
    return this.map.get(key);
  }

  delete(key: string): boolean {
    if (!this.map.delete(key)) return false;
    this.bytes -= keyBytes(key);
    return true;
  }

  /** New bounds (a reload): the oldest keys go until the table is within them. */
  setBounds(bounds: KeyBounds): void {
    this.bounds = bounds;
    this.trim();
  }

  /** The keys, least recent first. */
  keys(): IterableIterator<string> {
    return this.map.keys();
  }

  get size(): number {
    return this.map.size;
  }

  get figures(): KeyFigures {
    return { keys: this.map.size, keyBytes: this.bytes, maxKeyBytes: this.bounds.maxKeyBytes };
  }

  private trim(): void {
    while (this.map.size > 0 && (this.map.size > this.bounds.maxKeys || this.bytes > this.bounds.maxKeyBytes)) {
      const [oldest, value] = this.map.entries().next().value!;
      this.delete(oldest);
      this.onForget?.(oldest, value);
    }
  }
}
