// The lock links between the workers of a node: each worker listens on a Unix-domain
// socket of its own (lock-wire.ts frames) and answers for the locks of the keys it
// owns (lock-table.ts); it asks the other owners over one connection each, opened
// on first use. A key this worker owns is locked in process, with no I/O.
//
// Failure rules (each one "a second origin fetch, never a wrong answer or a hang"):
// - an owner that cannot be reached, or whose link closes while requests wait:
//   those requests are told `alone` (fetch without a lock); the next attempt to
//   reach it waits RETRY_MS;
// - a worker whose link to an owner closes: the owner releases every lock it held
//   ("stored nothing"), so its waiters fetch alone.
// Frames written in one turn of the event loop leave in one write. A release
// nobody waits for is not worth a write of its own: it leaves with the next
// question on the link (or within RELEASE_DELAY_MS); until then the lock is still
// held, so a worker asking meanwhile waits, and the owner tells the holder
// (WANTED), which then releases at once. Two writes per lock instead of three; on
// the 2-core VM the cost of a lock is mostly the wake-up of an idle peer (~35 µs of
// the owner's CPU per lock when idle, either way), which a busy peer does not pay.

import { unlinkSync } from 'node:fs';
import net from 'node:net';
import type { Logger } from 'pino';
import { StrataError } from '../errors.js';
import { keyHash, LockTable, ownerOf, type Grant } from './lock-table.js';
import { ACQUIRE, ANSWER, frame, FrameReader, grantArg, grantOf, HAVE, haveFrame, hashesOf, HELLO, RELEASE, WANTED, type Frame } from './lock-wire.js';

const RETRY_MS = 250;
/** A release nobody waits for leaves with the next question on its link, or after this. */
const RELEASE_DELAY_MS = 20;

export interface WorkerLocksOptions {
  index: number;
  /** Every worker's socket path, by index. */
  paths: string[];
  logger: Logger;
  /** Key hashes this worker holds on disk (undefined while its index loads), for the owners' directories. */
  holding?: () => Uint32Array | undefined;
}

/** Frames queued for one socket: sent together at the end of the turn. */
class Outbox {
  private queued: Buffer[] = [];
  constructor(private readonly socket: net.Socket) {}
  send(b: Buffer): void {
    if (this.queued.push(b) === 1) setImmediate(() => this.flush());
  }
  private flush(): void {
    const q = this.queued;
    this.queued = [];
    if (!this.socket.destroyed) this.socket.write(q.length === 1 ? q[0]! : Buffer.concat(q));
  }
}

interface OwnerLink {
  socket: net.Socket;
  out: Outbox;
  waiting: Map<number, (g: Grant) => void>;
  /** Resolves once the owner told what it holds of this worker's keys (or the link closed). */
  synced: Promise<void>;
  /** Releases not sent yet (nobody waited), by key. */
  deferred: Map<string, Buffer>;
  /** Locks this worker holds from this owner (not released yet). */
  held: Set<string>;
  /** Of those, the ones someone waits for: released at once. */
  wanted: Set<string>;
  timer: NodeJS.Timeout | undefined;
}

export class WorkerLocks {
  private readonly table = new LockTable(20, (holder, key) => this.askers.get(holder)?.out.send(frame(WANTED, 0, 0, key)));
  private readonly server: net.Server;
  private readonly links: (OwnerLink | undefined)[];
  private readonly downUntil: number[];
  /** The connection each other worker asks on (the latest one). */
  private readonly askers = new Map<number, { socket: net.Socket; out: Outbox }>();
  private nextId = 1;
  private unreachable = 0;
  private closed = false;

  constructor(private readonly opts: WorkerLocksOptions) {
    this.links = opts.paths.map(() => undefined);
    this.downUntil = opts.paths.map(() => 0);
    this.server = net.createServer((s) => this.serve(s));
  }

  get count(): number {
    return this.opts.paths.length;
  }

  async listen(): Promise<void> {
    const path = this.opts.paths[this.opts.index]!;
    try {
      unlinkSync(path);
    } catch {
      // none left by a previous run
    }
    // exclusive: a cluster worker listens on the socket itself, not through the primary.
    await new Promise<void>((resolve, reject) => {
      const failed = (err: Error) => reject(new StrataError('LISTEN_FAILED', `worker lock link ${path}: ${err.message} (the temporary directory, TMPDIR, must be writable by the node)`));
      this.server.once('error', failed);
      this.server.listen({ path, exclusive: true }, () => {
        this.server.off('error', failed);
        resolve();
      });
    });
  }

  /** The lock for primary key `key` (see lock-table.ts); `notAt`: the worker named before did not have it. */
  acquire(key: string, notAt?: number): Promise<Grant> {
    const hash = keyHash(key);
    const owner = ownerOf(hash, this.count);
    if (owner === this.opts.index) {
      return new Promise((resolve) => this.table.acquire(key, hash, owner, notAt, resolve));
    }
    const link = this.link(owner);
    if (!link) return Promise.resolve({ kind: 'alone' });
    const id = this.nextId++ >>> 0;
    this.sendReleases(link);
    return new Promise((resolve) => {
      link.waiting.set(id, (g) => {
        if (g.kind === 'go') link.held.add(key);
        resolve(g);
      });
      link.out.send(frame(ACQUIRE, id, notAt === undefined ? 0 : 1 + notAt, key));
    });
  }

  /** The fetch that `go` allowed is over: `stored` when the object is now in this worker's cache. */
  release(key: string, stored: boolean): void {
    const hash = keyHash(key);
    const owner = ownerOf(hash, this.count);
    if (owner === this.opts.index) return this.table.release(key, hash, owner, stored);
    const link = this.links[owner];
    if (!link || !link.held.delete(key)) return;
    link.deferred.set(key, frame(RELEASE, 0, stored ? 1 : 0, key));
    if (link.wanted.delete(key)) this.sendReleases(link);
    else link.timer ??= setTimeout(() => this.sendReleases(link), RELEASE_DELAY_MS).unref();
  }

  private sendReleases(link: OwnerLink): void {
    if (link.timer) {
      clearTimeout(link.timer);
      link.timer = undefined;
    }
    if (link.deferred.size === 0) return;
    for (const b of link.deferred.values()) link.out.send(b);
    link.deferred.clear();
  }

  private link(owner: number): OwnerLink | undefined {
    const have = this.links[owner];
    if (have) return have;
    if (this.closed || Date.now() < this.downUntil[owner]!) {
      this.unreachable++;
      return undefined;
    }
    const socket = net.connect(this.opts.paths[owner]!);
    let synced!: () => void;
    const link: OwnerLink = { socket, out: new Outbox(socket), waiting: new Map(), synced: new Promise((r) => (synced = r)), deferred: new Map(), held: new Set(), wanted: new Set(), timer: undefined };
    this.links[owner] = link;
    link.out.send(frame(HELLO, 0, this.opts.index));
    // Before any question on this link: an owner that restarted learns first what this worker holds.
    this.tellHolding(link, owner);
    const reader = new FrameReader((f) => {
      if (f.type === HAVE) {
        // The other way round: what that worker holds of the keys this one owns.
        for (const h of hashesOf(f.payload)) this.table.record(h, owner);
        synced();
        return;
      }
      if (f.type === WANTED) {
        const key = f.payload.toString('utf8');
        if (link.deferred.has(key)) this.sendReleases(link);
        else if (link.held.has(key)) link.wanted.add(key);
        return;
      }
      if (f.type !== ANSWER) return;
      const w = link.waiting.get(f.id);
      if (!w) return;
      link.waiting.delete(f.id);
      w(grantOf(f.arg));
    });
    socket.on('data', (c: Buffer) => reader.push(c));
    socket.on('error', (err) => this.opts.logger.debug({ owner, err: err.message }, 'worker lock link failed'));
    socket.on('close', () => {
      if (this.links[owner] === link) this.links[owner] = undefined;
      this.downUntil[owner] = Date.now() + RETRY_MS;
      for (const w of link.waiting.values()) w({ kind: 'alone' });
      link.waiting.clear();
      if (link.timer) clearTimeout(link.timer);
      synced();
    });
    return link;
  }

  /** What this worker holds on disk, for the owners' directories (after a restart they know nothing). */
  private tellHolding(link: { out: Outbox }, owner: number, all = this.opts.holding?.(), always = false): void {
    const mine = all ? all.filter((h) => ownerOf(h, this.count) === owner) : new Uint32Array(0);
    if (mine.length > 0 || always) link.out.send(haveFrame(mine));
  }

  /**
   * Links to every other worker, each side telling the other what it holds of the
   * other's keys (its disk; nothing while its index loads): the directories of a
   * worker that (re)started are filled before it serves. Called once the workers
   * reach each other, and again once this worker's disk index loaded. Resolves
   * when every other worker answered, or after `maxMs`.
   */
  async announce(maxMs = 2_000): Promise<void> {
    const all = this.opts.holding?.();
    if (all) for (const h of all) if (ownerOf(h, this.count) === this.opts.index) this.table.record(h, this.opts.index);
    const waits: Promise<void>[] = [];
    this.links.forEach((l, owner) => {
      if (owner === this.opts.index) return;
      if (l) this.tellHolding(l, owner, all);
      const link = l ?? this.link(owner);
      if (link) waits.push(link.synced);
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(waits), new Promise<void>((r) => (timer = setTimeout(r, maxMs)))]);
    clearTimeout(timer);
  }

  /** Another worker's connection: its questions, answered from the table. */
  private serve(socket: net.Socket): void {
    let from = -1;
    const out = new Outbox(socket);
    const reader = new FrameReader((f: Frame) => {
      if (f.type === HELLO) {
        from = f.arg;
        // A new link from the same worker: the old one's locks are not coming back (a restart).
        if (this.askers.has(from)) this.table.dropHolder(from);
        this.askers.set(from, { socket, out });
        // Always answered (even with nothing): the asker waits for it before serving (announce).
        this.tellHolding({ out }, from, undefined, true);
        return;
      }
      if (from < 0) return;
      if (f.type === ACQUIRE) {
        const key = f.payload.toString('utf8');
        this.table.acquire(key, keyHash(key), from, f.arg === 0 ? undefined : f.arg - 1, (g) => out.send(frame(ANSWER, f.id, grantArg(g))));
      } else if (f.type === RELEASE) {
        const key = f.payload.toString('utf8');
        this.table.release(key, keyHash(key), from, f.arg === 1);
      } else if (f.type === HAVE) {
        for (const h of hashesOf(f.payload)) this.table.record(h, from);
      }
    });
    socket.on('data', (c: Buffer) => reader.push(c));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      // Its locks go only with its latest connection (a restarted worker may already have a new one).
      if (from >= 0 && this.askers.get(from)?.socket === socket) {
        this.askers.delete(from);
        this.table.dropHolder(from);
      }
    });
  }

  stats(): Record<string, number> {
    return { ...this.table.stats(), ownerUnreachable: this.unreachable };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const l of this.links) l?.socket.destroy();
    for (const a of this.askers.values()) a.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
