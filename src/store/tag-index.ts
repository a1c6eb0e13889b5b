// Purge tag → keys of the entries carrying it, so a tag purge touches only its
// entries. Each tier keeps one beside its variant index and updates both together.

export class TagIndex {
  private readonly byTag = new Map<string, Set<string>>();

  add(tags: readonly string[], key: string): void {
    for (const tag of tags) {
      let set = this.byTag.get(tag);
      if (!set) this.byTag.set(tag, (set = new Set()));
      set.add(key);
    }
  }

  remove(tags: readonly string[], key: string): void {
    for (const tag of tags) {
      const set = this.byTag.get(tag);
      if (!set) continue;
      set.delete(key);
      if (set.size === 0) this.byTag.delete(tag);
    }
  }

  /** Entries carrying the tag. */
  count(tag: string): number {
    return this.byTag.get(tag)?.size ?? 0;
  }

  keys(tag: string): Iterable<string> {
    return this.byTag.get(tag) ?? [];
  }
}
