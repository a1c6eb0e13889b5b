// One node, several worker processes: what each worker is (pure; no I/O).
//
// Design (CACHING.md, "Workers"): the workers of a node are a small cluster of
// their own, built from the mini-CDN's machinery (src/cluster/). Each worker is
// a member named `<nodeId>.w<i>`. A miss is fetched from the origin by the worker
// that received it, holding the key's lock (a symlink made under the key's
// name: key-lock.ts); every worker's directory knows which worker stored
// the key (lock-links.ts), and a miss elsewhere is then taken from that worker's
// cache over a loopback link (HMAC proof with a per-node random secret, never
// forwarded again) and kept as an edge copy in memory (worker-fetch.ts). So one
// origin fetch per object per node, and an object one worker stored is a hit on
// every other.
// Each worker owns its disk directory (single writer): worker 0 the cache dir
// itself (so `--workers 1` → 2 keeps every object), worker i `<dir>/w<i>`.
// The node's memory and disk budgets are split evenly among the workers.
//
// Every worker listens on the shared proxy address (node:cluster), on a private
// loopback proxy link and a private admin link; worker 0 alone also answers the
// node's admin address and speaks for every worker there (admin-view.ts).

import { join } from 'node:path';
import type { Config, ListenAddress } from '../config/types.js';
import type { PeerSpec } from '../config/schema/index.js';
import type { WorkerAdmin } from './admin-view.js';
import type { RoutingOverrides } from '../routing/overrides.js';

/** The environment variable carrying a worker's assignment (not STRATA_*: it is no setting). */
export const ASSIGNMENT_ENV = 'STRATA0_WORKER_ASSIGNMENT';

/** What the primary hands a worker (serialised into its environment). */
export interface WorkerAssignment {
  index: number;
  count: number;
  /** Per node, random at each start of the primary: authenticates worker links. */
  secret: string;
  /** Loopback ports per worker: its proxy link and its admin link. */
  links: { proxyPort: number; adminPort: number }[];
  /** Unix-domain socket path per worker: its link for directory notices and lock waits (lock-links.ts). */
  lockPaths: string[];
  /** The directory of the node's key locks (key-lock.ts), named by the primary for this start. */
  lockDir: string;
  /**
   * A restart after a crash: listen only once the disk index loaded (the other workers serve meanwhile),
   * and run the node's running configuration, asked of the primary (node-config.ts), not the file as it is now.
   */
  restarted?: boolean;
  /** The admin API's routing changes so far (drains, canary weights): a restarted worker takes them. */
  routing?: RoutingOverrides;
}

/** The worker's private listeners, beside those of its Config. */
export interface WorkerLinks {
  proxy: ListenAddress;
  /** Worker 0 only: its admin link (the others answer their link on admin.listen). */
  admin?: ListenAddress;
  /** Worker 0 only: it answers the node's admin address for every worker (admin-view.ts). */
  node?: { id: string; workers: WorkerAdmin[] };
  /** Its link and the others' (every worker's socket path, by index), and the node's lock directory. */
  locks: { index: number; paths: string[]; dir: string };
}

const LOOPBACK = '127.0.0.1';
const LINK_CHECK_MS = 250;

/** Does the assignment `assigned` (ASSIGNMENT_ENV's value) restart a worker after a crash? */
export function isRestart(assigned: string): boolean {
  return (JSON.parse(assigned) as WorkerAssignment).restarted === true;
}

/** `workers: 0` means one per core. */
export function workerCount(config: Readonly<Config>, cores: number): number {
  return config.workers > 0 ? config.workers : Math.max(1, cores);
}

export function workerId(nodeId: string, index: number): string {
  return `${nodeId}.w${index}`;
}

/** Worker i's disk directory: the cache dir itself for worker 0. */
export function workerDir(dir: string, index: number): string {
  return index === 0 ? dir : join(dir, `w${index}`);
}

/** Worker `a.index`'s Config: its name, directory, share of the budgets, admin link and peers (the other workers). */
export function workerConfig(config: Readonly<Config>, a: WorkerAssignment): Config {
  const n = a.count;
  const peers: PeerSpec[] = a.links.map((l, i) => ({ id: workerId(config.nodeId, i), url: `http://${LOOPBACK}:${l.proxyPort}`, adminPort: l.adminPort }));
  const own = a.links[a.index]!;
  return {
    ...config,
    nodeId: workerId(config.nodeId, a.index),
    workers: 1,
    admin: { ...config.admin, listen: a.index === 0 ? config.admin.listen : { host: LOOPBACK, port: own.adminPort } },
    cache: {
      ...config.cache,
      dir: workerDir(config.cache.dir, a.index),
      memoryMaxBytes: Math.max(1, Math.floor(config.cache.memoryMaxBytes / n)),
      diskMaxBytes: Math.max(1, Math.floor(config.cache.diskMaxBytes / n)),
    },
    cluster: {
      ...config.cluster,
      peers,
      secret: a.secret,
      // No handoff between workers: a worker's miss takes the key's lock, and the node's
      // directory (filled from every worker's disk at start) names who holds it.
      handoffMs: 0,
      // A worker that dies is restarted by the primary: a second copy of each object on the
      // next worker would halve the node's memory and add a hop to every miss.
      successorCopy: false,
      // Loopback checks are cheap: workers find each other (and a restarted one) within a second.
      healthCheckIntervalMs: Math.min(config.cluster.healthCheckIntervalMs, LINK_CHECK_MS),
    },
  };
}

export function workerLinks(config: Readonly<Config>, a: WorkerAssignment): WorkerLinks {
  const own = a.links[a.index]!;
  const locks = { index: a.index, paths: a.lockPaths, dir: a.lockDir };
  if (a.index !== 0) return { proxy: { host: LOOPBACK, port: own.proxyPort }, locks };
  const workers = a.links.map((l, i) => ({ name: `w${i}`, url: `http://${LOOPBACK}:${l.adminPort}` }));
  return { proxy: { host: LOOPBACK, port: own.proxyPort }, admin: { host: LOOPBACK, port: own.adminPort }, node: { id: config.nodeId, workers }, locks };
}

/** Worker directories `<dir>/w<i>` a node of `count` workers does not use (left by a start with more workers). */
export function unusedWorkerDirs(entries: string[], count: number): string[] {
  return entries.filter((e) => /^w\d+$/.test(e) && Number(e.slice(1)) >= count && Number(e.slice(1)) > 0).sort();
}
