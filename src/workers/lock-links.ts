// A worker's part in "one origin fetch per object per node": the key's lock
// (key-lock.ts: a symlink made under the key's name, no message to anyone when
// nobody waits; a waiter asks the holder over the link below) and the node's directory of which worker stored what
// (directory.ts), kept by every worker from the others' notices.
//
// The links: each worker listens on a Unix-domain socket of its own and sends
// every other worker, over one connection each (opened on first use), lock-wire.ts
// frames: in batches every NOTICE_MS, the hashes of what it stored since. A
// notice in a batch costs the receiver one wake-up per batch, not one per object.
//
// Each worker's list (the key hashes it holds on disk) reaches each other worker
// once, when that worker lacks it: a worker that (re)starts asks every other for
// its list as it links (HELLO with ASK_HOLDING; answered on that connection), so
// its directory is full before it serves; a worker's reconnection to one it has the
// list of asks for nothing; one whose list was still loading when asked sends it
// once it loaded; and a worker that (re)started is asked by each other worker only
// if that one never got its list (the others kept what they learnt of its disk:
// what it stored was noticed, and its disk kept it).
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
import { ANSWER, answerFrame, ASK_HOLDING, frame, FrameReader, HAVE, haveFrame, hashesOf, HELLO, payloadFrame, WAIT, WHOLE_LIST, type Frame } from './lock-wire.js';

const RETRY_MS = 250;
/** What a worker stored leaves for the others' directories in batches, this often. */
const NOTICE_MS = 10;
/** A batch this large leaves at once (and bounds the locks lingering meanwhile). */
const NOTICE_BATCH_MAX = 512;
/** Lock attempts whose holder let go meanwhile, before fetching without the lock. */
const MAX_RETRIES = 3;
/** How often waits on other workers' locks are checked against those workers' health (the health checks' own pace). */
const HEALTH_POLL_MS = 250;

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
  /** Resolves once the peer answered the ask for its list (or at once when not asked, or when the link closed). */
  synced: Promise<void>;
}

export class WorkerLocks {
  private readonly directory = new Directory(20);
  private readonly keys: KeyLocks;
  private readonly server: net.Server;
  private readonly links: (PeerLink | undefined)[];
  private readonly downUntil: number[];
  private readonly peers = new Set<net.Socket>();
  /** By worker: its whole list reached this worker's directory (since this worker started). */
  private readonly listed: boolean[];
  /** Workers that asked for this worker's list while it loaded, and the connection each asked on: sent it there once it loaded (announce). */
  private readonly owed = new Map<number, Outbox>();
  /** Lists of what this worker holds sent to other workers (/stats: once per worker that lacked it). */
  private listsSent = 0;
  private notices: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private counts = { directed: 0, alone: 0 };
  private unreachable = 0;
  private closed = false;
  /** Is worker w down (alive maybe, but failing its health checks)? Set once the node's cluster exists. */
  private down: ((worker: number) => boolean) | undefined;
  private healthTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: WorkerLocksOptions) {
    this.links = opts.paths.map(() => undefined);
    this.downUntil = opts.paths.map(() => 0);
    this.listed = opts.paths.map((_, i) => i === opts.index);
    this.server = net.createServer((s) => this.serve(s));
    this.keys = new KeyLocks(opts.lockDir, opts.index, (w, id, name) => {
      // A holder failing its health checks would answer late or never: fetch alone.
      if (this.down?.(w)) return false;
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

  /**
   * `down(w)`: worker w answered its health checks once and fails them now. A worker
   * stopped or wedged keeps its links open, so its locks' waiters would wait for as
   * long as it is silent (their clients too, and every new miss on those keys): they
   * fetch alone instead, once it is seen down, and no new wait is made on it.
   */
  watchHealth(down: (worker: number) => boolean): void {
    this.down = down;
    clearInterval(this.healthTimer);
    this.healthTimer = setInterval(() => {
      if (this.keys.waitCount === 0) return;
      for (let w = 0; w < this.count; w++) if (w !== this.opts.index && down(w)) this.keys.peerGone(w);
    }, HEALTH_POLL_MS).unref();
  }

  /** The fetch that `go` allowed is storing its response and streams it: its waiters join it (key-lock.ts). */
  streams(key: string): void {
    this.keys.streams(key);
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
    const ask = !this.listed[peer];
    link.out.send(frame(HELLO, ask ? ASK_HOLDING : 0, this.opts.index));
    if (!ask) synced();
    const reader = new FrameReader((f) => {
      if (f.type === ANSWER) return this.keys.answered(f.id, f.payload.readUInt16LE(0));
      if (f.type !== HAVE) return;
      // The answer to the ask: what that worker holds (nothing yet while its list loads: it sends it later).
      this.record(f, peer);
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

  private record(f: Frame, worker: number): void {
    for (const h of hashesOf(f.payload)) this.directory.record(h, worker);
    if (f.arg === WHOLE_LIST) this.listed[worker] = true;
  }

  /** This worker's list (its disk), or undefined while its index loads. */
  private listFrame(): Buffer | undefined {
    const mine = this.opts.holding?.();
    return mine && haveFrame(mine, WHOLE_LIST);
  }

  /** `worker` asked for this worker's list: it now, or (loading) an empty answer now and the list once loaded. */
  private answerAsk(worker: number, out: Outbox): void {
    const list = this.listFrame();
    if (list) {
      this.owed.delete(worker);
      this.listsSent++;
      out.send(list);
      return;
    }
    // Owed on the asker's own connection: if that closes, the asker links again and asks again.
    this.owed.set(worker, out);
    out.send(haveFrame(new Uint32Array(0)));
  }

  /**
   * Links to every other worker, asking those whose list this worker lacks for it
   * (the directory of a worker that (re)started is filled before it serves), and
   * sends its own list to those that asked while it loaded. Called once the workers
   * reach each other, and again once this worker's disk index loaded. Resolves when
   * every worker asked answered, or after `maxMs`.
   */
  async announce(maxMs = 2_000): Promise<void> {
    const list = this.owed.size > 0 ? this.listFrame() : undefined;
    if (list) {
      for (const out of this.owed.values()) out.send(list);
      this.listsSent += this.owed.size;
      this.owed.clear();
    }
    const waits: Promise<void>[] = [];
    this.links.forEach((l, peer) => {
      if (peer === this.opts.index) return;
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
        // Answered even with nothing (its list loading): the asker waits for it before serving (announce).
        if (f.id === ASK_HOLDING) this.answerAsk(from, out);
        // A worker that (re)started, whose list this one never got (it died before its index loaded): ask it now.
        if (!this.listed[from]) this.link(from);
      } else if (f.type === HAVE && from >= 0) this.record(f, from);
      else if (f.type === WAIT) this.keys.waitFor(f.payload.toString('latin1'), (arg) => out.send(answerFrame(f.id, arg)));
    });
    socket.on('data', (c: Buffer) => reader.push(c));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.peers.delete(socket);
      // A list owed on this connection: the asker links again and asks again.
      if (from >= 0 && this.owed.get(from) === out) this.owed.delete(from);
    });
  }

  stats(): { granted: number; waited: number; directed: number; alone: number; locksHeld: number; locksLingering: number; linkUnreachable: number; listsSent: number } {
    const k = this.keys.counts;
    return { granted: k.granted, waited: k.waited, directed: this.counts.directed, alone: this.counts.alone + k.failed, locksHeld: this.keys.heldCount, locksLingering: this.keys.lingeringCount, linkUnreachable: this.unreachable, listsSent: this.listsSent };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    clearInterval(this.healthTimer);
    this.keys.close();
    for (const l of this.links) l?.socket.destroy();
    for (const s of this.peers) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
