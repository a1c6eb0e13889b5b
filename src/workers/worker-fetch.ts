// A worker's miss: the worker that received it fetches from the origin itself,
// holding the key's lock (key-lock.ts), so the body crosses no second hop and
// is stored once, by the worker that fetched it. Another worker asking for the
// key meanwhile waits for the lock only until the holder has the response and is
// storing it, then asks the holder, whose request path joins its own flight: the
// bytes reach it as they arrive from the origin, not once the whole body is stored
// (a response not stored: it fetches alone once the holder knows). Kept as an edge
// copy; so a herd over every worker still makes one origin request per object per
// node. A key the node's directory says another worker stored is taken from that
// worker's cache.
//
// Measured (bench/RESULTS.md, "Workers"): sending every miss on a key another
// worker owned through that owner (an HTTP hop carrying the body, a second copy
// stored) cost 1.9× the CPU per miss of one worker; asking the owner for a lock
// over a socket, 1.15×; a lock that is a symlink made under the key's name (a
// socket bound under it before: ~30-50 µs more per miss) wakes no other worker
// when nobody waits.
//
// A lock names what its fetch brings: the object, or one range of it (a slice:
// pipeline/slices.ts; a whole object's fill never carries a Range), so two workers
// filling different slices of one object do not wait on each other, and the
// directory names the worker that stored each slice.

import type { Logger } from 'pino';
import type { OriginClient, OriginRequest, OriginResponse } from '../origin/client.js';
import type { FillProgress } from '../pipeline/context.js';
import { WorkerLocks } from './lock-links.js';
import { keyHash, type Grant } from './directory.js';
import { sliceRange } from '../cache/slicing.js';

/** Directory answers followed before fetching without one (each a worker that turned out not to hold it). */
const MAX_REDIRECTS = 2;

/** What a fetch's lock and the directory name: primary key `key`, or the `range` of it a slice fetch asks for. */
export function lockKeyOf(key: string, range: string | undefined): string {
  return range === undefined ? key : `${key} ${range}`;
}

export interface LockService {
  acquire(key: string, notAt?: number): Promise<Grant>;
  /** The holder's fetch is storing its response, streaming: its waiters may join it. */
  streams(key: string): void;
  release(key: string, stored: boolean): void;
  stats(): Record<string, number>;
}

/**
 * Ask worker `w` for `req`: from its cache only, or (`join`) joining its fetch in
 * flight; undefined when it does not hold it or cannot be asked.
 */
export type AskWorker = (w: number, req: OriginRequest & { key: string }, join: boolean) => Promise<OriginResponse | undefined>;

export class WorkerFetch {
  private fromWorkers = 0;
  private fromOrigin = 0;
  /** Locks this worker took and let go (/stats: equals `granted` once nothing is in flight). */
  private told = 0;
  /** Of the misses from other workers: those that joined the holder's fetch as it streamed. */
  private joined = 0;

  constructor(private readonly locks: LockService) {}

  async request(req: OriginRequest & { key: string }, origin: OriginClient, ask: AskWorker, fill: FillProgress): Promise<OriginResponse> {
    const lockKey = lockKeyOf(req.key, req.headers['range']);
    let g = await this.locks.acquire(lockKey);
    for (let redirects = 0; ; redirects++) {
      if (g.kind === 'go') return this.holding(req, lockKey, origin, fill);
      if (g.kind === 'alone' || redirects >= MAX_REDIRECTS) {
        this.fromOrigin++;
        return origin.request(req);
      }
      const res = await ask(g.worker, req, g.kind === 'fetching');
      if (res) {
        if (g.kind === 'fetching') this.joined++;
        this.fromWorkers++;
        return res;
      }
      g = await this.locks.acquire(lockKey, g.worker);
    }
  }

  /**
   * From the origin, holding the lock until the store work on what it brought is
   * over, whatever its outcome (`fill.stored`, resolved once by the pipeline's fill);
   * its waiters are let in as soon as the fill streams (`fill.streaming`).
   */
  private async holding(req: OriginRequest & { key: string }, lockKey: string, origin: OriginClient, fill: FillProgress): Promise<OriginResponse> {
    this.fromOrigin++;
    let res: OriginResponse;
    try {
      res = await origin.request(req);
    } catch (err) {
      this.release(lockKey, false);
      throw err;
    }
    void fill.streaming.then((streaming) => streaming && this.locks.streams(lockKey));
    void fill.stored.then((stored) => this.release(lockKey, stored));
    return res;
  }

  private release(key: string, stored: boolean): void {
    this.told++;
    this.locks.release(key, stored);
  }

  stats(): Record<string, number> {
    return { missesFromOrigin: this.fromOrigin, missesFromOtherWorkers: this.fromWorkers, missesJoiningAnotherWorker: this.joined, lockReleases: this.told, ...this.locks.stats() };
  }
}

/**
 * A worker's miss path, built by node.ts: its locks and links, and the fetch using them.
 * `holding`: this worker's disk keys (undefined while its index loads).
 */
export function workerMisses(
  links: { index: number; paths: string[]; dir: string },
  peerIds: string[],
  logger: Logger,
  holding: () => Iterable<string> | undefined,
): { locks: WorkerLocks; workers: { fetch: WorkerFetch; peerId: (w: number) => string } } {
  const locks = new WorkerLocks({
    index: links.index,
    paths: links.paths,
    lockDir: links.dir,
    logger,
    holding: () => {
      const keys = holding();
      if (!keys) return undefined;
      const out: number[] = [];
      for (const k of keys) out.push(keyHash(k));
      return Uint32Array.from(out);
    },
  });
  return { locks, workers: { fetch: new WorkerFetch(locks), peerId: (w) => peerIds[w]! } };
}

/**
 * What a disk tier holds, as the directory names it: every entry's primary key,
 * and each slice's lock key too (a slice's metadata is always held in RAM).
 */
export function* diskPrimaryKeys(disk: { records: { values(): Iterable<{ primaryKey: string; held?: { slice?: { index: number; bytes: number } | undefined } | undefined }> } }): Iterable<string> {
  for (const r of disk.records.values()) {
    yield r.primaryKey;
    const slice = r.held?.slice;
    if (slice) yield lockKeyOf(r.primaryKey, sliceRange(slice.index, slice.bytes));
  }
}
