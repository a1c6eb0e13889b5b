// What cli.ts does differently with workers: how many processes, the primary's
// start, and a worker's Config (its assignment applied to every load, start-up
// and reloads alike, so a reload compares like with like).

import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Config } from '../config/types.js';
import { StrataError } from '../errors.js';
import { isClustered } from '../cluster/cluster.js';
import { createLogger } from '../observability/logger.js';
import { workerConfig, workerCount, workerDir, workerLinks, type WorkerAssignment, type WorkerLinks } from './plan.js';
import { supervise, warnUnusedDirs, type Supervisor } from './primary.js';
import type { RoutingOverrides } from '../routing/overrides.js';
import type { ReloadHook } from '../node-api.js';
import { reportApplied } from './node-config.js';
import { checkRequestBodyDir } from '../server/request-body-dir.js';

/**
 * How many processes serve this node. A node in a cluster of nodes runs one
 * (workers of clustered nodes are not supported yet: the workers' ownership
 * would have to nest inside the nodes'); asking for more there is refused.
 */
export function processCount(config: Readonly<Config>, cores: number): number {
  if (isClustered(config)) {
    if (config.workers > 1) throw new StrataError('CONFIG_INVALID', `workers: ${config.workers} with cluster peers is not supported yet (expected 1, or 0 for one process per node in a cluster)`);
    return 1;
  }
  return workerCount(config, cores);
}

/**
 * cache.dir can be created and written, checked before anything starts: else the
 * disk tier fails deep inside start-up (a stack trace), and with workers every
 * worker dies and is restarted forever. An operator's mistake: one line naming
 * the key, the path and the cause.
 */
export async function checkCacheDir(dir: string): Promise<void> {
  const refuse = (what: string, err: unknown): StrataError => {
    const cause = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return new StrataError('CONFIG_INVALID', `cache.dir: ${resolve(dir)}: ${what} (${cause})`);
  };
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw refuse('cannot create', err);
  }
  const probe = join(dir, `.strata-write-check-${process.pid}`);
  try {
    await writeFile(probe, '');
  } catch (err) {
    throw refuse('cannot write', err);
  }
  await rm(probe, { force: true });
}

/**
 * Before any worker is forked: a refusal here is the node's, not each worker's in a
 * restart loop. Every worker's directory (cache.dir/w<i>: a file there, or one left
 * by another user) as well as cache.dir itself.
 */
export async function startPrimary(config: Readonly<Config>, count: number): Promise<Supervisor> {
  for (let i = 0; i < count; i++) await checkCacheDir(workerDir(config.cache.dir, i));
  await checkRequestBodyDir(config.limits.requestBodyDir);
  const logger = createLogger(config.logLevel, config.nodeId);
  return supervise(config, count, logger);
}

export async function singleProcessChecks(config: Readonly<Config>): Promise<void> {
  await checkCacheDir(config.cache.dir);
  await checkRequestBodyDir(config.limits.requestBodyDir);
  await warnUnusedDirs(config.cache.dir, 1, createLogger(config.logLevel, config.nodeId));
}

/**
 * A worker's Config from the node's (`config`, and each reload's), and `reported`:
 * the reload hook telling the primary what a reload applied (node-config.ts), for
 * the workers it restarts.
 */
export function asWorker(
  config: Readonly<Config>,
  reload: () => Readonly<Config>,
  assigned: string,
): { config: Readonly<Config>; reloadConfig: () => Readonly<Config>; reported: ReloadHook; links: WorkerLinks; listenAfterLoad: boolean; routing: RoutingOverrides | undefined } {
  const a = JSON.parse(assigned) as WorkerAssignment;
  // The node's configuration (before this worker's share) of the reload under way: the hook runs only once it applied.
  let loaded: Readonly<Config> | undefined;
  const reloadConfig = (): Readonly<Config> => {
    loaded = reload();
    return workerConfig(loaded, a);
  };
  const reported: ReloadHook = { name: 'primary', apply: () => loaded && reportApplied(loaded) };
  return { config: workerConfig(config, a), reloadConfig, reported, links: workerLinks(config, a), listenAfterLoad: a.restarted === true, routing: a.routing };
}


