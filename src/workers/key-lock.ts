// The per-key lock of a node's workers: a Unix-domain socket bound under a name
// made from the key (Linux: in the abstract namespace, nothing on disk). A bind
// is atomic across processes: the worker whose bind succeeds fetches the key; a
// worker whose bind fails (EADDRINUSE) connects to that socket and waits for its
// answer (lock-wire.ts grantArg, u16): "stored at w" or "stored nothing" (then it
// fetches alone, as a single process's collapsed followers do when the answer was
// not theirs to share).
//
// Why not ask an owner worker: a question and its answer between two processes
// cost ~135 µs of CPU on the 2-core VM (mostly waking an idle peer, twice) for
// every miss on a key another worker owned; a bind, listen and close cost ~15 µs
// in the worker itself and wake nobody when nobody waits, which is the common miss.
//
// - A holder that dies: the kernel closes its socket; its waiters see the link
//   close with no answer and fetch alone. Nothing is left behind (abstract names).
// - A lock whose object was stored lingers bound a little (until the notice that
//   it is stored has left for the other workers' directories: lock-links.ts),
//   answering "stored here" at once: a worker that misses the key meanwhile is
//   sent to the holder instead of fetching it again.
// - A worker's second fetch of a key it holds the lock of (a background fill)
//   is told "alone" by the caller (holds()), as before.

import { unlink } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { Grant } from './directory.js';
import { grantOf } from './lock-wire.js';

interface Lock {
  server: net.Server;
  /** Connected waiters, answered at release. */
  waiters: net.Socket[];
  /** What waiters are told (grantArg), once released. */
  answer: number | undefined;
}

/** Answer of take(): a grant, or "the holder let go meanwhile: look again" (directory first). */
export type Taken = Grant | 'retry';

/** Another hash of the key than keyHash (djb2 with xor): the lock's name carries both (64 bits). */
function otherHash(key: string): number {
  let h = 5381;
  for (let i = 0; i < key.length; i++) h = Math.imul(h, 33) ^ key.charCodeAt(i);
  return h >>> 0;
}

function u16(n: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16LE(n, 0);
  return b;
}

export class KeyLocks {
  private readonly held = new Map<string, Lock>();
  private readonly lingering = new Map<string, Lock>();
  /** Lingering locks by age: closed at the second sweep after their release. */
  private fresh: [string, Lock][] = [];
  private old: [string, Lock][] = [];
  private readonly abstract = process.platform === 'linux';
  readonly counts = { granted: 0, waited: 0, failed: 0 };

  /**
   * `namespace`: unique to this start of the node (its workers share it);
   * `dir`: where lock sockets are made where there is no abstract namespace.
   */
  constructor(
    private readonly namespace: string,
    private readonly dir: string,
  ) {}

  /** This worker holds `key`'s lock (fetching it now). */
  holds(key: string): boolean {
    return this.held.has(key);
  }

  get heldCount(): number {
    return this.held.size;
  }

  get lingeringCount(): number {
    return this.lingering.size;
  }

  private nameOf(key: string, hash: number): string {
    const name = `strata-${this.namespace}-${hash.toString(36)}-${otherHash(key).toString(36)}`;
    return this.abstract ? `\0${name}` : join(this.dir, `${name}.sock`);
  }

  /** The key's lock: `go` (held now), the holder's answer once it let go, or `retry`. */
  take(key: string, hash: number): Promise<Taken> {
    const lingering = this.lingering.get(key);
    if (lingering) {
      // Stored here a moment ago and missed again (evicted, purged): the lock is still ours.
      this.lingering.delete(key);
      lingering.answer = undefined;
      this.held.set(key, lingering);
      this.counts.granted++;
      return Promise.resolve({ kind: 'go' });
    }
    const name = this.nameOf(key, hash);
    return new Promise((resolve) => {
      const lock: Lock = { server: net.createServer((s) => this.waiter(lock, s)), waiters: [], answer: undefined };
      this.held.set(key, lock);
      lock.server.once('error', (err: NodeJS.ErrnoException) => {
        if (this.held.get(key) === lock) this.held.delete(key);
        if (err.code === 'EADDRINUSE') return resolve(this.wait(name));
        this.counts.failed++;
        resolve({ kind: 'alone' });
      });
      // exclusive: bound by this worker itself, not shared through the cluster's primary.
      lock.server.listen({ path: name, exclusive: true }, () => {
        lock.server.on('error', () => {
          // an accept that failed: that waiter sees its link close and fetches alone
        });
        this.counts.granted++;
        resolve({ kind: 'go' });
      });
    });
  }

  /** Another worker holds the lock: wait for its answer on its socket. */
  private wait(name: string): Promise<Taken> {
    return new Promise((resolve) => {
      const s = net.connect({ path: name });
      let answer: number | undefined;
      let failed: string | undefined;
      let got = Buffer.alloc(0);
      s.on('data', (b: Buffer) => {
        got = Buffer.concat([got, b]);
        if (got.length < 2) return;
        answer = got.readUInt16LE(0);
        s.destroy();
      });
      s.on('error', (err: NodeJS.ErrnoException) => (failed = err.code ?? 'error'));
      s.once('close', () => {
        if (answer !== undefined) {
          this.counts.waited++;
          return resolve(grantOf(answer));
        }
        // Let go between the bind and the connect (or, on disk, left by a worker that died): look again.
        if (failed === 'ECONNREFUSED' || failed === 'ENOENT') {
          if (!this.abstract && failed === 'ECONNREFUSED') return unlink(name, () => resolve('retry'));
          return resolve('retry');
        }
        // The holder went away without answering (it died): fetch without the lock.
        this.counts.failed++;
        resolve({ kind: 'alone' });
      });
    });
  }

  private waiter(lock: Lock, s: net.Socket): void {
    s.on('error', () => {
      // a waiter that went away
    });
    if (lock.answer !== undefined) s.end(u16(lock.answer));
    else lock.waiters.push(s);
  }

  /**
   * The fetch `take` allowed is over: its waiters are told `answer`; with `linger`
   * (stored), the lock stays bound until the second sweep from now, answering at once.
   * False when this worker did not hold the lock.
   */
  release(key: string, answer: number, linger: boolean): boolean {
    const lock = this.held.get(key);
    if (!lock) return false;
    this.held.delete(key);
    lock.answer = answer;
    for (const s of lock.waiters) s.end(u16(answer));
    lock.waiters = [];
    if (!linger) {
      lock.server.close();
      return true;
    }
    this.lingering.set(key, lock);
    this.fresh.push([key, lock]);
    return true;
  }

  /** Closes the locks that lingered since the sweep before this one. */
  sweep(): void {
    for (const [key, lock] of this.old) {
      if (this.lingering.get(key) !== lock) continue;
      this.lingering.delete(key);
      lock.server.close();
    }
    this.old = this.fresh;
    this.fresh = [];
  }

  close(): void {
    for (const lock of [...this.held.values(), ...this.lingering.values()]) {
      for (const s of lock.waiters) s.destroy();
      lock.server.close();
    }
    this.held.clear();
    this.lingering.clear();
    this.fresh = [];
    this.old = [];
  }
}
