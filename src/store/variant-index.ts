// Primary key → variant keys, so every variant of one URL can be found (for
// Vary selection) and removed together (invalidation, purge). Shared by tiers.
// Most URLs have one variant: it is held as the key itself, and a Set (~150 bytes
// with its table) is made only for a second one.

export class VariantIndex {
  /** `stored(primaryKey)`: an entry stored under the primary key itself, listed without an entry here (the disk tier's). */
  constructor(private readonly stored?: (primaryKey: string) => boolean) {}

  private readonly byPrimary = new Map<string, string | Set<string>>();

  add(primaryKey: string, key: string): void {
    const held = this.byPrimary.get(primaryKey);
    if (held === undefined) this.byPrimary.set(primaryKey, key);
    else if (typeof held === 'string') {
      if (held !== key) this.byPrimary.set(primaryKey, new Set([held, key]));
    } else held.add(key);
  }

  remove(primaryKey: string, key: string): void {
    const held = this.byPrimary.get(primaryKey);
    if (held === undefined) return;
    if (typeof held === 'string') {
      if (held === key) this.byPrimary.delete(primaryKey);
      return;
    }
    held.delete(key);
    if (held.size === 1) this.byPrimary.set(primaryKey, held.values().next().value!);
    else if (held.size === 0) this.byPrimary.delete(primaryKey);
  }

  keys(primaryKey: string): readonly string[] {
    const held = this.byPrimary.get(primaryKey);
    const keys = held === undefined ? [] : typeof held === 'string' ? [held] : [...held];
    if (this.stored?.(primaryKey) && !keys.includes(primaryKey)) keys.unshift(primaryKey);
    return keys;
  }
}
