// The fan-out's durable outbox: every purge this node accepted, with the peers
// that have not acknowledged it yet. Kept beside the disk tier's purge journal,
// so a purge queued for a peer that is down survives this node's restart and
// reaches the peer when it returns.
//
// On disk: a snapshot (purge-outbox.json: the records, written to a temporary
// file, fsynced, renamed over the old one, directory synced) and a log of the
// changes since (purge-outbox.log: one JSON line per change, appended and fsynced;
// changes made meanwhile share one append: a burst of purges, or a backlog
// acknowledged one by one). A purge costs one appended line, not a rewrite of
// everything owed; the snapshot is rewritten (and the log emptied) once the log has
// grown past twice what is owed. Each snapshot has a generation, and the log opens
// with the generation it follows: a log left by a crash between a snapshot's
// rename and the log's removal is not replayed over the snapshot that includes it.
// A torn last line (a crash mid-append) was never acknowledged to anyone: skipped.
// A failed append is cut back (util/durable-file.ts appendSynced), and the next save
// writes a snapshot rather than append after what may still be torn.
//
// Bounded: what is owed is indexed by peer, and a peer owed more than
// MAX_OWED_PER_PEER purges (a peer listed statically that stays down) is owed one
// purge of everything instead: what it held is gone when it returns, which is
// what so many purges would have come to, and the outbox no longer grows with it.
//
// Invariants: add() resolves only once the record is on disk; a record leaves
// the outbox once no peer is pending for it; a peer dropped from the set is
// dropped from every record; deliveries read owed() oldest first.

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { emptySelector } from '../store/purge/purge-match.js';
import { wirePurgeOf, type WirePurge } from './purge-wire.js';
import { AppendLog } from '../util/append-log.js';
import { openForAppend, readIfThere, replaceSynced, type OpenForAppend } from '../util/durable-file.js';

export const OUTBOX_FILE = 'purge-outbox.json';
export const OUTBOX_LOG = 'purge-outbox.log';
/** Purges owed to one peer before they become one purge of everything. */
export const MAX_OWED_PER_PEER = 1_000;
/** Ids a peer's purges of everything stand for, remembered for owes() (two collapses' worth). */
const REPLACED_IDS_KEPT = 2 * MAX_OWED_PER_PEER + 2;

export interface OutboxRecord {
  purge: WirePurge;
  /** Peers that have not acknowledged it. */
  pending: string[];
}

interface Held {
  purge: WirePurge;
  pending: Set<string>;
  /** Order of acceptance (ids from other nodes' restarts or reassigned addresses do not sort). */
  order: number;
}

/** One change, as a log line. */
type Change =
  | { op: 'gen'; gen: number }
  | { op: 'add'; purge: WirePurge; pending: string[]; seq: number }
  | { op: 'ack'; id: string; peer: string }
  | { op: 'drop'; peer: string }
  | { op: 'reassign'; from: string; to?: string }
  | { op: 'collapse'; peer: string; purge: WirePurge; seq: number };

export class PurgeOutbox {
  private readonly records = new Map<string, Held>();
  /** Peer → the ids owed to it. */
  private readonly byPeer = new Map<string, Set<string>>();
  private order = 0;
  private seq = 0;
  /** The snapshot's generation: the log replays over the snapshot of its generation only. */
  private gen = 0;
  /**
   * By peer, the purge of everything it is owed instead of others, and their ids (in
   * memory only: for the answer of a purge collapsed so, owes()).
   */
  private readonly replaced = new Map<string, { all: string; ids: Set<string> }>();
  /** The log on disk may not be appended to (skipped or torn at load, or a write failed) until a snapshot replaces it. */
  private mustRewrite = false;
  /** Writes to disk so far (appends and rewrites). */
  writes = 0;

  private constructor(
    private readonly path: string,
    /** The changes since the snapshot (every write goes through its commit: one at a time, changes made meanwhile share one). */
    private readonly log: AppendLog,
  ) {}

  /**
   * The outbox in `dir` (empty when there is none). Records and lines that do not parse are
   * skipped (counted). `openFile`: how the log is opened to append to it.
   */
  static async load(dir: string, openFile: OpenForAppend = openForAppend): Promise<{ outbox: PurgeOutbox; skipped: number }> {
    const { log, lines } = await AppendLog.open(join(dir, OUTBOX_LOG), openFile);
    const outbox = new PurgeOutbox(join(dir, OUTBOX_FILE), log);
    let skipped = 0;
    const text = (await readIfThere(outbox.path)) ?? '';
    type Doc = { seq?: unknown; gen?: unknown; records?: { purge: unknown; pending: unknown }[] };
    let doc: Doc = { seq: 0, records: [] };
    try {
      if (text !== '') doc = JSON.parse(text) as Doc;
    } catch {
      // Written whole by rename, so only a damaged disk gets here: start empty, say so.
      skipped = 1;
    }
    outbox.seq = typeof doc.seq === 'number' ? doc.seq : 0;
    outbox.gen = typeof doc.gen === 'number' ? doc.gen : 0;
    for (const r of Array.isArray(doc.records) ? doc.records : []) {
      const p = wirePurgeOf(r.purge);
      if (typeof p === 'string' || !Array.isArray(r.pending) || !r.pending.every((x) => typeof x === 'string')) {
        skipped++;
        continue;
      }
      outbox.hold(p, r.pending as string[]);
    }
    // A log of another generation was already folded into the snapshot (see the header).
    let clean = true;
    if (lines.length > 0 && lines[0] === JSON.stringify({ op: 'gen', gen: outbox.gen })) {
      for (const line of lines.slice(1)) {
        if (outbox.replay(line)) continue;
        skipped++;
        clean = false;
      }
    } else if (lines.length > 0) clean = false;
    // A log skipped (of another generation) or with a line that does not parse (torn) must not be
    // appended to: later lines would follow an old header or be glued to the torn one, and be lost
    // at the next start. The next save writes what memory holds as a snapshot instead (save(): the
    // log goes); until then nothing is written, and a restart rebuilds the same state from the same
    // files. Nothing is written at load: a disk still full does not keep the node from starting.
    if (!clean) outbox.mustRewrite = true;
    return { outbox, skipped };
  }

  /** Apply one log line; false when it does not parse. */
  private replay(line: string): boolean {
    let c: Change;
    try {
      c = JSON.parse(line) as Change;
    } catch {
      return false;
    }
    const str = (v: unknown): v is string => typeof v === 'string';
    const purgeOf = (v: unknown) => {
      const p = wirePurgeOf(v);
      return typeof p === 'string' ? undefined : p;
    };
    if (c.op === 'add' || c.op === 'collapse') {
      const p = purgeOf(c.purge);
      if (!p) return false;
      if (typeof c.seq === 'number') this.seq = Math.max(this.seq, c.seq);
      if (c.op === 'collapse') {
        if (!str(c.peer)) return false;
        this.dropPeer(c.peer);
        this.hold(p, [c.peer]);
      } else if (Array.isArray(c.pending) && c.pending.every(str)) this.hold(p, c.pending);
      else return false;
    } else if (c.op === 'ack' && str(c.id) && str(c.peer)) this.unowe(c.id, c.peer);
    else if (c.op === 'drop' && str(c.peer)) this.dropPeer(c.peer);
    else if (c.op === 'reassign' && str(c.from) && (c.to === undefined || str(c.to))) this.move(c.from, c.to);
    else return false;
    return true;
  }

  /** A new purge id for this node (survives restarts). */
  nextId(nodeId: string): string {
    return `${nodeId}:${Date.now().toString(36)}-${++this.seq}`;
  }

  /** Queue `purge` for `peers`; resolves once it is on disk. */
  async add(purge: WirePurge, peers: string[]): Promise<void> {
    if (peers.length === 0) return;
    this.hold(purge, peers);
    this.logChange({ op: 'add', purge, pending: peers, seq: this.seq });
    // A peer owed too much is owed everything instead (bounded; see the header).
    for (const peer of peers) if ((this.byPeer.get(peer)?.size ?? 0) > MAX_OWED_PER_PEER) this.collapse(peer, purge.from);
    await this.save();
  }

  /**
   * `peer` applied purge `id`: at once in memory; the promise is its write. An
   * acknowledgement lost in a crash only sends that purge again (purges are idempotent).
   */
  async ack(id: string, peer: string): Promise<void> {
    if (!this.unowe(id, peer)) return;
    this.logChange({ op: 'ack', id, peer });
    await this.save();
  }

  /** `peer` left the set: nothing more is owed to it. */
  async drop(peer: string): Promise<void> {
    if (!this.dropPeer(peer)) return;
    this.logChange({ op: 'drop', peer });
    await this.save();
  }

  /**
   * What is owed to `from` is owed to `to` now (an address that said its node id:
   * membership.ts addressKey); the change is made at once, written in the background
   * of the returned promise. `to` undefined: owed to no one (the address was this node).
   */
  reassign(from: string, to: string | undefined): Promise<void> {
    if (!this.move(from, to)) return Promise.resolve();
    this.logChange(to === undefined ? { op: 'reassign', from } : { op: 'reassign', from, to });
    return this.save();
  }

  /** Purges owed to `peer`, oldest first. */
  owed(peer: string): WirePurge[] {
    const ids = this.byPeer.get(peer);
    if (!ids) return [];
    return [...ids].map((id) => this.records.get(id)!).sort((a, b) => a.order - b.order).map((r) => r.purge);
  }

  /** Is `peer` still owed purge `id` (itself, or the purge of everything it became)? */
  owes(peer: string, id: string): boolean {
    const ids = this.byPeer.get(peer);
    if (!ids) return false;
    if (ids.has(id)) return true;
    const r = this.replaced.get(peer);
    return r !== undefined && r.ids.has(id) && ids.has(r.all);
  }

  hasPending(peer: string): boolean {
    return this.byPeer.has(peer);
  }

  /** How many purges are owed to `peer`. */
  owedCount(peer: string): number {
    return this.byPeer.get(peer)?.size ?? 0;
  }

  /** Peers owed something, and how many purges each. */
  pendingCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [peer, ids] of this.byPeer) out[peer] = ids.size;
    return out;
  }

  flush(): Promise<unknown> {
    return this.log.settled();
  }

  private hold(purge: WirePurge, peers: readonly string[]): void {
    const had = this.records.get(purge.id);
    const r: Held = had ?? { purge, pending: new Set(), order: ++this.order };
    this.records.set(purge.id, r);
    for (const p of peers) {
      r.pending.add(p);
      this.owedTo(p).add(purge.id);
    }
  }

  private owedTo(peer: string): Set<string> {
    let ids = this.byPeer.get(peer);
    if (!ids) this.byPeer.set(peer, (ids = new Set()));
    return ids;
  }

  /** `peer` no longer owed `id`; false when it was not. */
  private unowe(id: string, peer: string): boolean {
    const r = this.records.get(id);
    if (!r || !r.pending.delete(peer)) return false;
    if (r.pending.size === 0) this.records.delete(id);
    const ids = this.byPeer.get(peer)!;
    ids.delete(id);
    if (ids.size === 0) this.byPeer.delete(peer);
    if (this.replaced.get(peer)?.all === id) this.replaced.delete(peer);
    return true;
  }

  private dropPeer(peer: string): boolean {
    const ids = this.byPeer.get(peer);
    if (!ids) return false;
    for (const id of [...ids]) this.unowe(id, peer);
    return true;
  }

  private move(from: string, to: string | undefined): boolean {
    const ids = this.byPeer.get(from);
    if (!ids) return false;
    for (const id of [...ids]) {
      const r = this.records.get(id)!;
      this.unowe(id, from);
      if (to !== undefined) this.hold(r.purge, [to]);
    }
    return true;
  }

  /** Everything owed to `peer` becomes one purge of everything, accepted now (by `from`). */
  private collapse(peer: string, from: string): void {
    const purge: WirePurge = { id: this.nextId(from), from, selector: { ...emptySelector(), all: true } };
    // Oldest first, and only the most recent REPLACED_IDS_KEPT: a purge's answer asks owes() within
    // its ack timeout, and a peer down for good must not grow this with every purge.
    const ids = new Set(this.replaced.get(peer)?.ids);
    for (const id of this.byPeer.get(peer) ?? []) ids.add(id);
    for (const id of ids) {
      if (ids.size <= REPLACED_IDS_KEPT) break;
      ids.delete(id);
    }
    this.dropPeer(peer);
    this.hold(purge, [peer]);
    this.replaced.set(peer, { all: purge.id, ids });
    this.logChange({ op: 'collapse', peer, purge, seq: this.seq });
  }

  private logChange(c: Change): void {
    this.log.push(JSON.stringify(c));
  }

  /**
   * Write what changed once the write in flight (if any) is done. Calls made before
   * that next write starts share it (group commit).
   */
  private save(): Promise<void> {
    return this.log.commit(async (lines) => {
      this.writes++;
      try {
        await this.write(lines);
      } catch (err) {
        // The lines of a failed write are not on disk (cut back, or torn if even that failed),
        // yet memory holds their changes: the next save writes memory as a snapshot, never
        // appending after them (a line glued to torn bytes would be lost at the next start).
        this.mustRewrite = true;
        throw err;
      }
    });
  }

  /** The snapshot and log go when nothing is owed; else one append, or a snapshot when due. */
  private async write(lines: string[]): Promise<void> {
    if (this.records.size === 0) {
      // The snapshot first: a log left alone (a crash between) is of another generation, or says it all.
      await rm(this.path, { force: true });
      await this.log.remove();
      this.gen = 0;
      this.mustRewrite = false;
      return;
    }
    let owed = 0;
    for (const ids of this.byPeer.values()) owed += ids.size;
    if (this.mustRewrite || this.log.lines + lines.length > 2 * owed + 1_000) return this.rewrite();
    // A new log opens with the generation of the snapshot it follows.
    if (this.log.lines === 0) lines.unshift(JSON.stringify({ op: 'gen', gen: this.gen }) + '\n');
    await this.log.append(lines);
  }

  /** The snapshot as memory holds it; then the log goes (replaying it again would only repeat what the snapshot says). */
  private async rewrite(): Promise<void> {
    const records: OutboxRecord[] = [...this.records.values()].sort((a, b) => a.order - b.order).map((r) => ({ purge: r.purge, pending: [...r.pending] }));
    const gen = this.gen + 1;
    await replaceSynced(this.path, JSON.stringify({ seq: this.seq, gen, records }));
    this.gen = gen;
    await this.log.remove();
    this.mustRewrite = false;
  }
}
