// Primary key → variant keys, so every variant of one URL can be found (for
// Vary selection) and removed together (invalidation, purge). Shared by tiers.

export class VariantIndex {
  /** `stored(primaryKey)`: an entry stored under the primary key itself, listed without an entry here (the disk tier's). */
  constructor(private readonly stored?: (primaryKey: string) => boolean) {}

  private readonly byPrimary = new Map<string, Set<string>>();

  add(primaryKey: string, key: string): void {
    let set = this.byPrimary.get(primaryKey);
    if (!set) {
      set = new Set();
      this.byPrimary.set(primaryKey, set);
    }
    set.add(key);
  }

  remove(primaryKey: string, key: string): void {
    const set = this.byPrimary.get(primaryKey);
    if (!set) return;
    set.delete(key);
    if (set.size === 0) this.byPrimary.delete(primaryKey);
  }

  keys(primaryKey: string): readonly string[] {
    const set = this.byPrimary.get(primaryKey);
    const keys = set ? [...set] : [];
    if (this.stored?.(primaryKey) && !set?.has(primaryKey)) keys.unshift(primaryKey);
    return keys;
  }
}
