// The tiered store's writes in flight, by key, in the order they were opened (the
// order their responses arrived): one ticket per write from open() until its disk
// write has landed (or failed). A delete of its key, an invalidation of its URI, a
// purge covering it, or the commit of a write of the key opened after it cancels
// it: a cancelled write never becomes visible, and its disk tier lands nothing
// (DiskWriteOptions.wanted).

import type { HeldEntry } from './memory/memory-entry.js';
import { isOfUri } from '../cache/key.js';
import type { EntryMeta, StoredEntry } from './types.js';

export interface Ticket {
  readonly key: string;
  readonly primaryKey: string;
  /** The metadata the write was opened with (a purge matches it by URL and tags). */
  readonly opened: EntryMeta;
  cancelled: boolean;
  committed: boolean;
  /** Metadata given to update() while the disk write was landing. */
  meta?: EntryMeta;
  /**
   * The committed entry while its disk write lands: memory may evict it before the
   * disk tier lists it, and in that gap it must still be found (a miss there sent
   * the same slice of a large object to the origin again and again).
   */
  landing?: HeldEntry;
}

export class WriteTickets {
  private readonly byKey = new Map<string, Ticket[]>();

  issue(meta: EntryMeta): Ticket {
    const t: Ticket = { key: meta.key, primaryKey: meta.primaryKey, opened: meta, cancelled: false, committed: false };
    let set = this.byKey.get(t.key);
    if (!set) this.byKey.set(t.key, (set = []));
    set.push(t);
    return t;
  }

  retire(t: Ticket): void {
    const set = this.byKey.get(t.key);
    if (!set) return;
    const i = set.indexOf(t);
    if (i >= 0) set.splice(i, 1);
    if (set.length === 0) this.byKey.delete(t.key);
  }

  /** The committed entry of the key whose disk write is still landing, if any. */
  landing(key: string): StoredEntry | undefined {
    for (const t of this.byKey.get(key) ?? []) {
      if (t.committed && !t.cancelled && t.landing) return { meta: t.meta ?? t.opened, body: t.landing };
    }
    return undefined;
  }

  /** Cancel the key's writes in flight. */
  cancel(key: string): void {
    for (const t of this.byKey.get(key) ?? []) t.cancelled = true;
  }

  /**
   * `t` commits: the key's writes opened before it are older responses (RFC 9111 §4: the most
   * recent is used), whether landing or still streaming; those still streaming never become
   * visible. A write opened after it that committed first has cancelled `t` already.
   */
  supersedeOlder(t: Ticket): void {
    for (const other of this.byKey.get(t.key) ?? []) {
      if (other === t) return;
      other.cancelled = true;
    }
  }

  /** Metadata updated while committed writes of its key land: they land with it (only the body it `refreshes`, when named). */
  updated(meta: EntryMeta, refreshes?: StoredEntry): void {
    for (const t of this.byKey.get(meta.key) ?? []) {
      if (!t.committed) continue;
      if (refreshes && refreshes.body !== t.landing && refreshes.meta !== t.opened && refreshes.meta !== t.meta) continue;
      t.meta = meta;
    }
  }

  /** Cancel every write of the URI (its variants and keyed versions `url#…`); the keys of those committed. */
  cancelUri(primaryKey: string): string[] {
    const committed: string[] = [];
    for (const t of this.all()) {
      if (!isOfUri(t.primaryKey, primaryKey)) continue;
      t.cancelled = true;
      if (t.committed) committed.push(t.key);
    }
    return committed;
  }

  *all(): Iterable<Ticket> {
    for (const set of this.byKey.values()) yield* set;
  }
}

/** A write's wanted(): its ticket not cancelled. Made apart from open(), so it holds the ticket alone. */
export function wantedWhile(ticket: Ticket): () => boolean {
  return () => !ticket.cancelled;
}
