// The primary process of a node with several workers: it only supervises. It
// serves no request and holds no cache; node:cluster shares the listeners.
//
// - starts N workers, each with its assignment (plan.ts) in its environment;
// - restarts a worker that dies, with back-off (doubling from 100 ms up to 30 s;
//   a worker that ran a minute before dying starts from 100 ms again);
// - SIGTERM/SIGINT: every worker gets SIGTERM and its shutdown grace; a worker
//   still running at grace + backstop is killed; exit 0 when all stopped cleanly;
// - SIGHUP: forwarded to every worker (each reloads; each logs what it applied);
//   a worker still starting is sent it once it started (before, the signal would end it);
// - keeps the node's running configuration (node-config.ts): a worker it restarts
//   runs what the others run, not the config file as it is at that moment.
//
// Worker links use loopback ports the primary reserves at start, below the kernel's
// ephemeral range (link-ports.ts): a restarted worker takes the same ports back, so
// the other workers' peer lists stay valid.

import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { ephemeralRange, reserveLinkPorts } from './link-ports.js';
import { clearLocksOf, lockDirFor, removeLockDir } from './key-lock.js';
import { ASSIGNMENT_ENV, type WorkerAssignment } from './plan.js';
import { unusedDirsOf } from './unused-dirs.js';
import { NodeConfig, type ConfigMessage } from './node-config.js';
import type { RoutingOverrides } from '../routing/overrides.js';


const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 30_000;
const STABLE_AFTER_MS = 60_000;
const STOP_BACKSTOP_MS = 5_000;

/** Messages a worker sends its primary. */
export type StartedMessage = { strata: 'started'; listen: unknown; admin?: unknown };
export type WorkerMessage = StartedMessage | { strata: 'routing'; overrides: RoutingOverrides } | ConfigMessage;

/**
 * The workers' link sockets (short paths: a Unix socket path is limited to ~100
 * bytes) and the key locks' directory, named once from a tag unique to this start of the primary.
 */
function startFiles(count: number): { lockPaths: string[]; lockDir: string } {
  const tag = `strata-${process.pid}-${randomBytes(4).toString('hex')}`;
  return { lockPaths: Array.from({ length: count }, (_, i) => join(tmpdir(), `${tag}-w${i}.sock`)), lockDir: lockDirFor(tag, tmpdir()) };
}

function removeSockets(paths: string[]): void {
  for (const p of paths) {
    try {
      unlinkSync(p);
    } catch {
      // never created, or already removed
    }
  }
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  startedAtMs: number;
  backoffMs: number;
  restarts: number;
  started?: StartedMessage;
  /** Its current process said it started: its signal handlers are installed. */
  serving: boolean;
  /** A reload asked while it was not serving (starting, or waiting for its restart): SIGHUP once it serves. */
  reloadOwed: boolean;
}

export interface Supervisor {
  /** Resolves with the exit code once every worker stopped (after stop()). */
  readonly done: Promise<number>;
  stop(): void;
  reload(): void;
}

/** Start `count` workers of `config` and supervise them. */
export async function supervise(config: Readonly<Config>, count: number, logger: Logger): Promise<Supervisor> {
  await warnUnusedDirs(config.cache.dir, count, logger);
  await recordCount(config.cache.dir, count, logger);
  const secret = randomBytes(32).toString('hex');
  const links = await reserveLinkPorts(count, { ephemeral: await ephemeralRange() });
  const { lockPaths, lockDir } = startFiles(count);
  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({ index, worker: undefined, startedAtMs: 0, backoffMs: BACKOFF_MIN_MS, restarts: 0, serving: false, reloadOwed: false }));
  let stopping = false;
  let failed = false;
  /** A worker refused to start (exit 2: configuration or listener): the node exits 2 too, as a single process would. */
  let startRefused = false;
  const exitCode = (): number => (startRefused ? 2 : failed ? 1 : 0);
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));
  let started = 0;
  /** The admin API's routing changes (drains, canary weights), for a worker started after them. */
  let routing: RoutingOverrides | undefined;
  const running = new NodeConfig(config);
  // Structured clone, not JSON: a configuration travels to restarted workers as reloadedConfig copies it.
  cluster.setupPrimary({ serialization: 'advanced' });

  const fork = (slot: Slot): void => {
    const assignment: WorkerAssignment = { index: slot.index, count, secret, links, lockPaths, lockDir, ...(slot.restarts > 0 ? { restarted: true } : {}), ...(routing ? { routing } : {}) };
    const worker = cluster.fork({ [ASSIGNMENT_ENV]: JSON.stringify(assignment) });
    slot.worker = worker;
    slot.serving = false;
    slot.startedAtMs = Date.now();
    worker.on('message', (m: WorkerMessage) => {
      if (running.handle(m, (answer) => worker.send(answer))) return;
      // Every worker sends the same record after an admin change (they all apply it): the last one stands.
      if (m?.strata === 'routing') routing = m.overrides;
      if (m?.strata !== 'started') return;
      // A worker that died before it ever started counts as starting now, not as restarted:
      // else the node's start (its listen address) was never logged.
      const first = slot.started === undefined;
      slot.started = m;
      slot.serving = true;
      if (slot.reloadOwed) {
        slot.reloadOwed = false;
        worker.process.kill('SIGHUP');
      }
      // Worker 0 answers the node's admin address: its address is the node's.
      if (first && ++started === count) logger.info({ workers: count, pid: process.pid, pids: slots.map((s) => s.worker?.process.pid), listen: m.listen, admin: slots[0]!.started?.admin }, 'strata workers started');
      else if (!first) logger.info({ worker: slot.index, pid: worker.process.pid, restarts: slot.restarts }, 'worker restarted');
    });
    worker.on('exit', (code, signal) => {
      slot.worker = undefined;
      if (stopping) {
        // Ended by the stop's SIGTERM before it started (no handlers yet): it had nothing to drain.
        const endedStarting = signal === 'SIGTERM' && !slot.serving;
        if (code !== 0 && !endedStarting) failed = true;
        if (slots.every((s) => s.worker === undefined)) resolveDone(exitCode());
        return;
      }
      // Exit code 2: the configuration or a listener is wrong; restarting would loop.
      if (code === 2 && slot.restarts === 0 && started < count) {
        logger.fatal({ worker: slot.index, code }, 'worker could not start; stopping the node');
        startRefused = true;
        stop();
        if (slots.every((s) => s.worker === undefined)) resolveDone(exitCode());
        return;
      }
      // The key locks it held: free for the others now (its waiters already fetch alone: their link closed).
      clearLocksOf(lockDir, slot.index);
      if (Date.now() - slot.startedAtMs >= STABLE_AFTER_MS) slot.backoffMs = BACKOFF_MIN_MS;
      const delay = slot.backoffMs;
      slot.backoffMs = Math.min(BACKOFF_MAX_MS, slot.backoffMs * 2);
      slot.restarts++;
      logger.error({ worker: slot.index, pid: worker.process.pid, code, signal, restartInMs: delay }, 'worker died; restarting it');
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, delay);
    });
  };

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    const live = slots.filter((s) => s.worker);
    logger.info({ workers: live.length }, 'strata workers stopping');
    if (live.length === 0) resolveDone(exitCode());
    for (const s of live) s.worker!.process.kill('SIGTERM');
    setTimeout(() => {
      for (const s of slots) if (s.worker) {
        logger.warn({ worker: s.index }, 'worker still running past the shutdown grace: killed');
        s.worker.process.kill('SIGKILL');
      }
    }, config.limits.shutdownGraceMs + STOP_BACKSTOP_MS).unref();
  };

  void done.then(() => {
    removeSockets(lockPaths);
    removeLockDir(lockDir);
  });
  for (const slot of slots) fork(slot);
  return {
    done,
    stop,
    reload: () => {
      // Not to a process still starting: before its handlers are installed SIGHUP would end it.
      // It reloads once it serves (the configuration it asked for may predate this reload).
      for (const s of slots) {
        if (s.worker && s.serving) s.worker.process.kill('SIGHUP');
        else s.reloadOwed = true;
      }
    },
  };
}

/** A start with fewer workers than before leaves directories unused: say so (they are kept, not deleted). */
async function warnUnusedDirs(dir: string, count: number, logger: Logger): Promise<void> {
  const unused = (await unusedDirsOf(dir, count)).map((d) => basename(d));
  if (unused.length > 0) {
    logger.warn(
      { dir, unused, workers: count },
      'worker cache directories left by a start with more workers are not served (kept on disk, and every purge is journalled into them: start with as many workers again, or delete them)',
    );
  }
}

export { warnUnusedDirs };

const COUNT_FILE = 'workers.json';

/**
 * Remember the worker count in the cache dir; a different one than last time is
 * said in the log (every worker's directory is filled from every worker's disk
 * at start: lock-links.ts announce).
 */
async function recordCount(dir: string, count: number, logger: Logger): Promise<boolean> {
  let before: number | undefined;
  try {
    before = (JSON.parse(await readFile(join(dir, COUNT_FILE), 'utf8')) as { workers?: number }).workers;
  } catch {
    // No record: a directory a single process filled (count 1), or a new one (its worker
    // directories, made by the start-up check, are no single process's).
    before = (await readdir(dir).catch(() => [])).some((e) => !/^w\d+$/.test(e)) ? 1 : undefined;
  }
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, COUNT_FILE), JSON.stringify({ workers: count }) + '\n');
  } catch (err) {
    logger.warn({ dir, err: (err as Error).message }, 'could not record the worker count in the cache directory');
  }
  const changed = before !== undefined && before !== count;
  if (changed) logger.warn({ from: before, to: count }, 'worker count changed: every worker directory is kept and read; every worker learns at start which worker holds each stored object, so none is fetched again from the origin');
  return changed;
}
