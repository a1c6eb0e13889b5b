// A worker's part in "one origin fetch per object per node": the key's lock
// (key-lock.ts: a symlink made under the key's name, no message to anyone when
// nobody waits; a waiter asks the holder over the link below) and the node's directory of which worker stored what
// (directory.ts), kept by every worker from the others' notices.
//
// The links: each worker listens on a Unix-domain socket of its own and sends
// every other worker, over one connection each (opened on first use), lock-wire.ts
// frames: on linking, the key hashes it holds on disk (each side tells the other,
// so a worker that (re)started has a full directory before it serves); then, in
// batches every NOTICE_MS, the hashes of what it stored since. A notice in a batch
// costs the receiver one wake-up per batch, not one per object.
//
// Failure rules (each one "a second origin fetch, never a wrong answer or a hang"):
// a notice that does not arrive (link down) leaves the directory without the key:
// a miss there fetches it (under the lock) instead of taking it from the holder;
// a link that cannot be made is tried again after RETRY_MS.

import { unlinkSync } from 'node:fs';
import net from 'node:net';
import type { Logger } from 'pino';
import { StrataError } from '../errors.js';
import { Directory, keyHash, type Grant } from './directory.js';
import { KeyLocks } from './key-lock.js';
import { ANSWER, answerFrame, frame, FrameReader, HAVE, haveFrame, hashesOf, HELLO, payloadFrame, WAIT, type Frame } from './lock-wire.js';

const RETRY_MS = 250;
/** What a worker stored leaves for the others' directories in batches, this often. */
const NOTICE_MS = 10;
/** A batch this large leaves at once (and bounds the locks lingering meanwhile). */
const NOTICE_BATCH_MAX = 512;
/** Lock attempts whose holder let go meanwhile, before fetching without the lock. */
const MAX_RETRIES = 3;

export interface WorkerLocksOptions {
  index: number;
  /** Every worker's socket path, by index. */
  paths: string[];
  /** The node's lock directory for this start (named by the primary: key-lock.ts lockDirFor). */
  lockDir: string;
  logger: Logger;
  /** Key hashes this worker holds on disk (undefined while its index loads), for the others' directories. */
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

interface PeerLink {
  socket: net.Socket;
  out: Outbox;
  /** Resolves once the peer told what it holds (or the link closed). */
  synced: Promise<void>;
}

export class WorkerLocks {
  private readonly directory = new Directory(20);
  private readonly keys: KeyLocks;
  private readonly server: net.Server;
  private readonly links: (PeerLink | undefined)[];
  private readonly downUntil: number[];
  private readonly peers = new Set<net.Socket>();
  private notices: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private counts = { directed: 0, alone: 0 };
  private unreachable = 0;
  private closed = false;

  constructor(private readonly opts: WorkerLocksOptions) {
    this.links = opts.paths.map(() => undefined);
    this.downUntil = opts.paths.map(() => 0);
    this.server = net.createServer((s) => this.serve(s));
    this.keys = new KeyLocks(opts.lockDir, opts.index, (w, id, name) => {
      const link = this.link(w);
      link?.out.send(payloadFrame(WAIT, id, Buffer.from(name, 'latin1')));
      return link !== undefined;
    });
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

  /** The lock for primary key `key` (see key-lock.ts); `notAt`: the worker named before did not have it. */
  async acquire(key: string, notAt?: number): Promise<Grant> {
    const hash = keyHash(key);
    if (notAt !== undefined) this.directory.forget(hash, notAt);
    if (this.keys.holds(key)) {
      // Its own fetch is in flight (a second flight of this worker, e.g. a background fill).
      this.counts.alone++;
      return { kind: 'alone' };
    }
    for (let attempt = 0; attempt <= MAX_RETRIES; attempt++) {
      const at = this.directory.storedAt(hash);
      if (at !== undefined && at !== this.opts.index) {
        this.counts.directed++;
        return { kind: 'at', worker: at };
      }
      const taken = await this.keys.take(key, hash);
      if (taken === 'retry') continue;
      if (taken.kind === 'at') {
        if (taken.worker === this.opts.index) break;
        this.directory.record(hash, taken.worker);
      }
      return taken;
    }
    this.counts.alone++;
    return { kind: 'alone' };
  }

  /** The fetch that `go` allowed is over: `stored` when the object is now in this worker's cache. */
  release(key: string, stored: boolean): void {
    if (!this.keys.release(key, stored) || !stored) return;
    const hash = keyHash(key);
    this.directory.record(hash, this.opts.index);
    this.notices.push(hash);
    if (this.notices.length >= NOTICE_BATCH_MAX) this.sendNotices();
    else this.timer ??= setTimeout(() => this.sendNotices(), NOTICE_MS).unref();
  }

  /** What this worker stored since the last batch, to every other worker; the locks of the batch before stop lingering. */
  private sendNotices(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.notices.length > 0) {
      const f = haveFrame(Uint32Array.from(this.notices));
      this.notices = [];
      for (let w = 0; w < this.count; w++) if (w !== this.opts.index) this.link(w)?.out.send(f);
    }
    this.keys.sweep();
    if (this.keys.lingeringCount > 0 && !this.closed) this.timer = setTimeout(() => this.sendNotices(), NOTICE_MS).unref();
  }

  private link(peer: number): PeerLink | undefined {
    const have = this.links[peer];
    if (have) return have;
    if (this.closed || Date.now() < this.downUntil[peer]!) {
      this.unreachable++;
      return undefined;
    }
    const socket = net.connect(this.opts.paths[peer]!);
    let synced!: () => void;
    const link: PeerLink = { socket, out: new Outbox(socket), synced: new Promise((r) => (synced = r)) };
    this.links[peer] = link;
    link.out.send(frame(HELLO, 0, this.opts.index));
    // Before anything else on this link: a peer that restarted learns first what this worker holds.
    this.tellHolding(link.out);
    const reader = new FrameReader((f) => {
      if (f.type === ANSWER) return this.keys.answered(f.id, f.payload.readUInt16LE(0));
      if (f.type !== HAVE) return;
      // The other way round: what that worker holds.
      this.record(f.payload, peer);
      synced();
    });
    socket.on('data', (c: Buffer) => reader.push(c));
    socket.on('error', (err) => this.opts.logger.debug({ peer, err: err.message }, 'worker link failed'));
    socket.on('close', () => {
      if (this.links[peer] === link) this.links[peer] = undefined;
      this.downUntil[peer] = Date.now() + RETRY_MS;
      this.keys.peerGone(peer);
      synced();
    });
    return link;
  }

  private record(payload: Buffer, worker: number): void {
    for (const h of hashesOf(payload)) this.directory.record(h, worker);
  }

  /** What this worker holds on disk, for the others' directories (after a restart they know nothing). */
  private tellHolding(out: Outbox, always = false): void {
    const mine = this.opts.holding?.() ?? new Uint32Array(0);
    if (mine.length > 0 || always) out.send(haveFrame(mine));
  }

  /**
   * Links to every other worker, each side telling the other what it holds (its
   * disk; nothing while its index loads): the directory of a worker that
   * (re)started is filled before it serves. Called once the workers reach each
   * other, and again once this worker's disk index loaded. Resolves when every
   * other worker answered, or after `maxMs`.
   */
  async announce(maxMs = 2_000): Promise<void> {
    const waits: Promise<void>[] = [];
    this.links.forEach((l, peer) => {
      if (peer === this.opts.index) return;
      if (l) this.tellHolding(l.out);
      const link = l ?? this.link(peer);
      if (link) waits.push(link.synced);
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(waits), new Promise<void>((r) => (timer = setTimeout(r, maxMs)))]);
    clearTimeout(timer);
  }

  /** Another worker's connection: what it holds and what it stores, into the directory. */
  private serve(socket: net.Socket): void {
    let from = -1;
    this.peers.add(socket);
    const out = new Outbox(socket);
    const reader = new FrameReader((f: Frame) => {
      if (f.type === HELLO) {
        from = f.arg;
        // Always answered (even with nothing): the asker waits for it before serving (announce).
        this.tellHolding(out, true);
      } else if (f.type === HAVE && from >= 0) this.record(f.payload, from);
      else if (f.type === WAIT) this.keys.waitFor(f.payload.toString('latin1'), (arg) => out.send(answerFrame(f.id, arg)));
    });
    socket.on('data', (c: Buffer) => reader.push(c));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.peers.delete(socket));
  }

  stats(): { granted: number; waited: number; directed: number; alone: number; locksHeld: number; locksLingering: number; linkUnreachable: number } {
    const k = this.keys.counts;
    return { granted: k.granted, waited: k.waited, directed: this.counts.directed, alone: this.counts.alone + k.failed, locksHeld: this.keys.heldCount, locksLingering: this.keys.lingeringCount, linkUnreachable: this.unreachable };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.keys.close();
    for (const l of this.links) l?.socket.destroy();
    for (const s of this.peers) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
