// The per-key lock of a node's workers: a symbolic link made under a name from
// the key, in a directory of this start of the node (Linux: /dev/shm, a tmpfs:
// nothing reaches a disk). Making a symlink is atomic across processes: the
// worker whose symlink() succeeds fetches the key; a worker whose symlink() fails
// (EEXIST) reads the link — it names the holder, `<worker index>.<pid>` — and
// asks the holder over their existing link (lock-wire.ts WAIT) to answer when it
// lets go: "stored at w", "stored nothing" (then it fetches alone, as a single
// process's collapsed followers do when the answer was not theirs to share), or
// "I do not hold it": look again.
//
// Why a symlink: one system call to take and one to let go, both synchronous and
// in this worker only, no handle, no callback, nobody woken when nobody waits
// (the common miss). The bound socket before it (socket, bind, listen, close, a
// libuv handle and its JS objects per miss) cost ~30-50 µs of CPU per miss; a
// question to an owner worker before that, ~135 µs (waking an idle peer, twice).
//
// - A holder that dies: its links to the others close, so its waiters fetch
//   alone (one alive but silent, stopped or wedged, too, once its health checks
//   fail: lock-links.ts watchHealth); the primary removes the dead worker's lock links before it restarts
//   it (clearLocksOf), and a waiter that finds a link naming a process that is
//   gone removes it and looks again (a crash between the two).
// - Waiters do not wait for the whole body: once the holder has the response and
//   is storing it (headers in, the fill streaming), they are told "fetching at w"
//   and ask w for it; w's request path joins its own flight, so the bytes reach
//   them as they arrive from the origin (a waiter asking later is told so at once).
// - A lock whose object was stored lingers a while, answering "stored here" at
//   once: a worker that misses the key before the notice that it is stored reached
//   its directory (lock-links.ts) is sent to the holder instead of fetching it
//   again. A while, not until the notice left: a busy worker reads its links late
//   (tens of ms under load), and a lock let go 10-20 ms after its notice left cost
//   that worker a second origin fetch. LINGER_MS bounds the locks held this way by
//   what a worker stores in that time.
// - Two starts of the node never share locks: the primary names the directory
//   once, from the tag unique to its start that also names the link sockets, hands
//   it to every worker, and removes it at exit.

import { accessSync, constants, mkdirSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Grant } from './directory.js';
import { answerArg, answerOf, RETRY_ARG } from './lock-wire.js';

/** A lock this worker holds (its fetch in flight) or lets linger (stored: answering at once). */
interface Lock {
  key: string;
  /** Its link's name in the lock directory (what a WAIT names). */
  name: string;
  /** Replies owed to waiting workers, sent at release (or once the holder's fill streams). */
  waiters: ((arg: number) => void)[];
  /** Held, and its fill streams: a waiter is told "fetching here" at once. */
  streaming: boolean;
  /** Lingering: the set of released locks it is in (`fresh`, which then ages whole). */
  lingering?: Set<Lock>;
}

/** How long a stored key's lock goes on answering "stored here" after its notice left, at least. */
export const LINGER_MS = 500;

/** What a released lock's waiters are told when its fetch stored nothing. */
const ALONE_ARG = answerArg({ kind: 'alone' });

/** Answer of take(): a grant, or "the holder let go meanwhile: look again" (directory first). */
export type Taken = Grant | 'retry';

/** Sends a WAIT for lock `name` with `id` to worker `w`; false when there is no link to it. */
export type AskHolder = (worker: number, id: number, name: string) => boolean;

/** Another hash of the key than keyHash (djb2 with xor): the lock's name carries both (64 bits). */
function otherHash(key: string): number {
  let h = 5381;
  for (let i = 0; i < key.length; i++) h = Math.imul(h, 33) ^ key.charCodeAt(i);
  return h >>> 0;
}

/**
 * The lock directory of one start of the node, `tag` naming that start: in a tmpfs
 * where there is one, else in `fallback` (beside the link sockets). The primary
 * names it once and hands it to every worker (plan.ts WorkerAssignment.lockDir).
 */
export function lockDirFor(tag: string, fallback: string): string {
  let base = fallback;
  try {
    if (process.platform === 'linux' && statSync('/dev/shm').isDirectory()) {
      accessSync('/dev/shm', constants.W_OK);
      base = '/dev/shm';
    }
  } catch {
    // no (writable) /dev/shm: next to the link sockets
  }
  return join(base, `${tag}-locks`);
}

/** Removes the lock links a dead worker left (the primary, before restarting it). */
export function clearLocksOf(dir: string, index: number): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const prefix = `${index}.`;
  for (const n of names) {
    try {
      if (readlinkSync(join(dir, n)).startsWith(prefix)) unlinkSync(join(dir, n));
    } catch {
      // let go meanwhile
    }
  }
}

export function removeLockDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class KeyLocks {
  /**
   * This worker's locks, held and lingering, by key and by name (a WAIT names one);
   * a lock is lingering while it is in `fresh` or one of `aged`, else held.
   */
  private readonly byKey = new Map<string, Lock>();
  private readonly byName = new Map<string, Lock>();
  /** Lingering locks released since the last sweep. */
  private fresh = new Set<Lock>();
  /** Lingering locks by the sweep that aged them (oldest first): let go LINGER_MS after it. */
  private aged: { atMs: number; locks: Set<Lock> }[] = [];
  private agedCount = 0;
  /** This worker's waits on other workers' locks, by wait id. */
  private readonly waits = new Map<number, { worker: number; resolve: (t: Taken) => void }>();
  private nextWait = 0;
  private readonly me: string;
  /** What a lingering lock answers: stored here. */
  private readonly storedHere: number;
  /** What a held lock whose fill streams answers: join the fetch here. */
  private readonly fetchingHere: number;
  readonly counts = { granted: 0, waited: 0, failed: 0 };

  /** `dir`: this start's lockDirFor(); `index`: this worker's; `ask`: sends a WAIT over the link to a holder. */
  constructor(
    private readonly dir: string,
    private readonly index: number,
    private readonly ask: AskHolder,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.me = `${index}.${process.pid}`;
    this.storedHere = answerArg({ kind: 'at', worker: index });
    this.fetchingHere = answerArg({ kind: 'fetching', worker: index });
  }

  private lingers(lock: Lock): boolean {
    return lock.lingering !== undefined;
  }

  /** This worker holds `key`'s lock (fetching it now). */
  holds(key: string): boolean {
    const lock = this.byKey.get(key);
    return lock !== undefined && !this.lingers(lock);
  }

  get heldCount(): number {
    return this.byKey.size - this.lingeringCount;
  }

  get lingeringCount(): number {
    return this.fresh.size + this.agedCount;
  }

  /** The key's lock: `go` (held now), the holder's answer once it let go, or `retry`. */
  take(key: string, hash: number): Taken | Promise<Taken> {
    const mine = this.byKey.get(key);
    if (mine) {
      // Lingering (acquire() never asks for a lock it holds): stored here a moment ago and
      // missed again (evicted, purged): the lock is still ours, held again.
      if (mine.lingering) {
        mine.lingering.delete(mine);
        if (mine.lingering !== this.fresh) this.agedCount--;
        mine.lingering = undefined;
      }
      mine.streaming = false;
      this.counts.granted++;
      return { kind: 'go' };
    }
    const name = `${hash.toString(36)}-${otherHash(key).toString(36)}`;
    const path = join(this.dir, name);
    try {
      symlinkSync(this.me, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return this.wait(name, path);
      this.counts.failed++;
      return { kind: 'alone' };
    }
    const lock: Lock = { key, name, waiters: [], streaming: false };
    this.byKey.set(key, lock);
    this.byName.set(name, lock);
    this.counts.granted++;
    return { kind: 'go' };
  }

  /** Another worker holds the lock: ask it to answer when it lets go. */
  private wait(name: string, path: string): Taken | Promise<Taken> {
    let holder: string;
    try {
      holder = readlinkSync(path);
    } catch {
      return 'retry'; // let go between the symlink and the read
    }
    const dot = holder.indexOf('.');
    const worker = Number(holder.slice(0, dot));
    const pid = Number(holder.slice(dot + 1));
    if (!alive(pid)) {
      // Left by a worker that died (its primary clears them before restarting it; this is the moment between).
      try {
        unlinkSync(path);
      } catch {
        // another waiter removed it
      }
      return 'retry';
    }
    if (worker === this.index) {
      this.counts.failed++; // this worker's own lock under another key (64-bit names colliding): no wait on itself
      return { kind: 'alone' };
    }
    return new Promise((resolve) => {
      const id = (this.nextWait = (this.nextWait + 1) >>> 0);
      this.waits.set(id, { worker, resolve });
      if (this.ask(worker, id, name)) return;
      this.waits.delete(id);
      this.counts.failed++;
      resolve({ kind: 'alone' });
    });
  }

  /** A holder's ANSWER to this worker's wait `id`. */
  answered(id: number, arg: number): void {
    const w = this.waits.get(id);
    if (!w) return;
    this.waits.delete(id);
    if (arg === RETRY_ARG) return w.resolve('retry');
    this.counts.waited++;
    w.resolve(answerOf(arg));
  }

  /** Waits of this worker on other workers' locks, now. */
  get waitCount(): number {
    return this.waits.size;
  }

  /** The link to `worker` closed, or it stopped answering: whatever it held, its waiters here fetch alone. */
  peerGone(worker: number): void {
    for (const [id, w] of this.waits) {
      if (w.worker !== worker) continue;
      this.waits.delete(id);
      this.counts.failed++;
      w.resolve({ kind: 'alone' });
    }
  }

  /** Another worker's WAIT for lock `name`: `reply` now (lingering: stored here; not held: look again) or at release. */
  waitFor(name: string, reply: (arg: number) => void): void {
    const lock = this.byName.get(name);
    if (!lock) reply(RETRY_ARG);
    else if (this.lingers(lock)) reply(this.storedHere);
    else if (lock.streaming) reply(this.fetchingHere);
    else lock.waiters.push(reply);
  }

  /**
   * The fetch `take` allowed has its response and is storing it (the fill streams):
   * its waiters, and any from now on, are told to join it here. False when this
   * worker does not hold the lock (let go already).
   */
  streams(key: string): boolean {
    const lock = this.byKey.get(key);
    if (!lock || this.lingers(lock)) return false;
    lock.streaming = true;
    for (const reply of lock.waiters) reply(this.fetchingHere);
    lock.waiters = [];
    return true;
  }

  private letGo(lock: Lock): void {
    this.byKey.delete(lock.key);
    this.byName.delete(lock.name);
    try {
      unlinkSync(join(this.dir, lock.name));
    } catch {
      // removed already (the directory went away at shutdown)
    }
  }

  /**
   * The fetch `take` allowed is over. Its waiters are told "stored here" or "fetch
   * alone"; a stored key's lock lingers (at least LINGER_MS after the next sweep),
   * answering at once, and any other is let go. False when this worker did not hold the lock.
   */
  release(key: string, stored: boolean): boolean {
    const lock = this.byKey.get(key);
    if (!lock || this.lingers(lock)) return false;
    const answer = stored ? this.storedHere : ALONE_ARG;
    for (const reply of lock.waiters) reply(answer);
    lock.waiters = [];
    lock.streaming = false;
    if (stored) {
      this.fresh.add(lock);
      lock.lingering = this.fresh;
    }
    else this.letGo(lock);
    return true;
  }

  /** The notices of the locks released since the last sweep left (lock-links.ts): they age from now; those aged LINGER_MS ago go. */
  sweep(nowMs = Date.now()): void {
    if (this.fresh.size > 0) {
      this.aged.push({ atMs: nowMs, locks: this.fresh });
      this.agedCount += this.fresh.size;
      this.fresh = new Set();
    }
    while (this.aged.length > 0 && nowMs - this.aged[0]!.atMs >= LINGER_MS) {
      const g = this.aged.shift()!;
      this.agedCount -= g.locks.size;
      for (const lock of g.locks) this.letGo(lock);
    }
  }

  close(): void {
    for (const lock of [...this.byKey.values()]) this.letGo(lock);
    for (const w of this.waits.values()) w.resolve({ kind: 'alone' });
    this.waits.clear();
    this.fresh.clear();
    this.aged = [];
    this.agedCount = 0;
  }
}
