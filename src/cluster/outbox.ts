// The fan-out's durable outbox: every purge this node accepted, with the peers
// that have not acknowledged it yet. Kept beside the disk tier's purge journal
// (same directory, same discipline: written to a temporary file, fsynced, renamed
// over the old one, directory synced), so a purge queued for a peer that is down
// survives this node's restart and reaches the peer when it returns.
//
// Invariants: add() resolves only once the record is on disk; the file on disk is
// always whole (the previous version or the new one); a record leaves the outbox
// once no peer is pending for it; a peer dropped from the set is dropped from
// every record.

import { readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseWirePurge, type WirePurge } from './purge-wire.js';
import { syncDir, writeSynced } from '../util/durable-file.js';

export const OUTBOX_FILE = 'purge-outbox.json';

export interface OutboxRecord {
  purge: WirePurge;
  /** Peers that have not acknowledged it. */
  pending: string[];
}

export class PurgeOutbox {
  private readonly records = new Map<string, OutboxRecord>();
  /** The last write started (settled: never rejects). */
  private inFlight: Promise<unknown> = Promise.resolve();
  /** The write that will start after it, shared by every change made meanwhile. */
  private next: Promise<void> | undefined;
  private seq = 0;
  /** Rewrites of the file so far. */
  writes = 0;

  private constructor(private readonly path: string) {}

  /** The outbox in `dir` (empty when there is none). Records that do not parse are skipped (counted). */
  static async load(dir: string): Promise<{ outbox: PurgeOutbox; skipped: number }> {
    const outbox = new PurgeOutbox(join(dir, OUTBOX_FILE));
    let text = '';
    try {
      text = await readFile(outbox.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    let skipped = 0;
    type Doc = { seq?: unknown; records?: { purge: unknown; pending: unknown }[] };
    let doc: Doc = { seq: 0, records: [] };
    try {
      if (text !== '') doc = JSON.parse(text) as Doc;
    } catch {
      // Written whole by rename, so only a damaged disk gets here: start empty, say so.
      skipped = 1;
    }
    outbox.seq = typeof doc.seq === 'number' ? doc.seq : 0;
    for (const r of Array.isArray(doc.records) ? doc.records : []) {
      const p = parseWirePurge(JSON.stringify(r.purge));
      if (typeof p === 'string' || !Array.isArray(r.pending) || !r.pending.every((x) => typeof x === 'string')) {
        skipped++;
        continue;
      }
      outbox.records.set(p.id, { purge: p, pending: r.pending as string[] });
    }
    return { outbox, skipped };
  }

  /** A new purge id for this node (survives restarts). */
  nextId(nodeId: string): string {
    return `${nodeId}:${Date.now().toString(36)}-${++this.seq}`;
  }

  /**
   * Write the outbox as it is once the write in flight (if any) is done. Calls
   * made before that next write starts share it (group commit): a burst of purges,
   * or a peer's backlog acknowledged one by one, costs one rewrite per fsync, not
   * one per record.
   */
  private save(): Promise<void> {
    if (this.next !== undefined) return this.next;
    const next = this.inFlight.then(async () => {
      // Changes from here on need another write.
      this.next = undefined;
      const records = [...this.records.values()];
      this.writes++;
      if (records.length === 0) {
        await rm(this.path, { force: true });
        return;
      }
      const tmp = `${this.path}.tmp`;
      await writeSynced(tmp, JSON.stringify({ seq: this.seq, records }));
      await rename(tmp, this.path);
      await syncDir(dirname(this.path));
    });
    this.next = next;
    this.inFlight = next.catch(() => undefined);
    return next;
  }

  /** Queue `purge` for `peers`; resolves once it is on disk. */
  async add(purge: WirePurge, peers: string[]): Promise<void> {
    if (peers.length === 0) return;
    this.records.set(purge.id, { purge, pending: [...peers] });
    await this.save();
  }

  /**
   * `peer` applied purge `id`: at once in memory; the promise is its write. An
   * acknowledgement lost in a crash only sends that purge again (purges are idempotent).
   */
  async ack(id: string, peer: string): Promise<void> {
    const r = this.records.get(id);
    if (!r || !r.pending.includes(peer)) return;
    r.pending = r.pending.filter((p) => p !== peer);
    if (r.pending.length === 0) this.records.delete(id);
    await this.save();
  }

  /** `peer` left the set: nothing more is owed to it. */
  async drop(peer: string): Promise<void> {
    let changed = false;
    for (const [id, r] of this.records) {
      if (!r.pending.includes(peer)) continue;
      changed = true;
      r.pending = r.pending.filter((p) => p !== peer);
      if (r.pending.length === 0) this.records.delete(id);
    }
    if (changed) await this.save();
  }

  /**
   * What is owed to `from` is owed to `to` now (an address that said its node id:
   * membership.ts addressKey); the change is made at once, written in the background
   * of the returned promise. `to` undefined: owed to no one (the address was this node).
   */
  reassign(from: string, to: string | undefined): Promise<void> {
    let changed = false;
    for (const [id, r] of this.records) {
      if (!r.pending.includes(from)) continue;
      changed = true;
      r.pending = r.pending.filter((p) => p !== from);
      if (to !== undefined && !r.pending.includes(to)) r.pending.push(to);
      if (r.pending.length === 0) this.records.delete(id);
    }
    return changed ? this.save() : Promise.resolve();
  }

  /** Purges owed to `peer`, oldest first. */
  owed(peer: string): WirePurge[] {
    return [...this.records.values()].filter((r) => r.pending.includes(peer)).map((r) => r.purge);
  }

  hasPending(peer: string): boolean {
    for (const r of this.records.values()) if (r.pending.includes(peer)) return true;
    return false;
  }

  /** Peers owed something, and how many purges each. */
  pendingCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.records.values()) for (const p of r.pending) out[p] = (out[p] ?? 0) + 1;
    return out;
  }

  flush(): Promise<unknown> {
    return this.inFlight;
  }
}
