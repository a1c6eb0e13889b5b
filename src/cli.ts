#!/usr/bin/env node
// The `strata` command: the only place that touches argv, env, the host name and
// the process exit code. It turns them into a subcommand (config/command.ts):
// printing (--help, check-config, config-docs) exits 0; running builds one node
// from the Config and ties its lifetime to SIGTERM/SIGINT; SIGHUP reloads the
// configuration from the same file, flags and environment (an invalid one is
// logged and the running one stays). Operator mistakes (bad
// config, port in use) end as one `strata: ...` line on stderr and exit code 2;
// a stack trace is reserved for bugs.

import { readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { Config } from './config/types.js';
import { type Command, parseCommand, runReload } from './config/command.js';
import { isStrataError } from './errors.js';
import { checkCertificates } from './server/certificates.js';
import { ASSIGNMENT_ENV, isRestart } from './workers/plan.js';
import { askPrimary } from './workers/node-config.js';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_CONFIG = 2;

// Beyond the node's own grace period, a wedged stop() must not keep a
// supervisor waiting forever.
const STOP_BACKSTOP_MS = 5_000;

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

/** Operator errors get one line; anything else is a bug and keeps its stack. */
function report(err: unknown): number {
  if (isStrataError(err) && err.source === 'config') {
    process.stderr.write(`strata: ${oneLine(err.message)}\n`);
    return EXIT_CONFIG;
  }
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`strata: unexpected error: ${detail}\n`);
  return EXIT_FAILURE;
}

/** `worker`: a worker of a primary, which decides when to stop (a terminal's Ctrl-C reaches it too). */
function handleSignals(stop: () => Promise<void>, config: () => Readonly<Config>, reload: () => Promise<unknown>, worker = false): void {
  let stopping = false;
  const onSignal = (): void => {
    // A second Ctrl-C means "now": skip the graceful drain.
    if (stopping) process.exit(EXIT_FAILURE);
    stopping = true;
    setTimeout(() => process.exit(EXIT_FAILURE), config().limits.shutdownGraceMs + STOP_BACKSTOP_MS).unref();
    stop().then(
      () => process.exit(EXIT_OK),
      (err: unknown) => process.exit(report(err) === EXIT_CONFIG ? EXIT_CONFIG : EXIT_FAILURE),
    );
  };
  process.on('SIGTERM', onSignal);
  if (worker) {
    process.on('SIGINT', () => undefined);
    // The primary is gone (killed): nobody supervises this worker any more.
    process.on('disconnect', onSignal);
  } else process.on('SIGINT', onSignal);
  // The node logs what a reload applied, or why it refused it; the process keeps running either way.
  process.on('SIGHUP', () => void reload().catch(() => undefined));
}

async function main(): Promise<number | undefined> {
  const assigned = process.env[ASSIGNMENT_ENV];
  let command: Command;
  try {
    const opts = { argv: process.argv.slice(2), env: process.env, readFile: (path: string) => readFileSync(path, 'utf8'), hostname: hostname() };
    // A worker restarted after a crash runs what the other workers run, asked of the primary:
    // the file may have changed since without a reload, or a reload of it been refused.
    command = assigned !== undefined && isRestart(assigned) ? { run: await askPrimary(), reload: runReload(opts) } : parseCommand(opts);
  } catch (err) {
    return report(err);
  }
  if ('print' in command) {
    if (command.checked) {
      // As start-up would: the certificate files read and each key matched to its certificate.
      try {
        const { tls } = command.checked;
        await checkCertificates(tls.certificates, tls.minVersion);
        // And the process count, whose refusals (workers with cluster peers) start-up makes too.
        (await import('./workers/entry.js')).processCount(command.checked, availableParallelism());
      } catch (err) {
        return report(err);
      }
    }
    process.stdout.write(command.print);
    return EXIT_OK;
  }
  let config = command.run;
  let reloadConfig = command.reload;
  // Loaded only once the config is known good, so --help and config errors stay
  // fast and do not depend on the server modules loading.
  const workers = await import('./workers/entry.js');
  let links;
  let listenAfterLoad = false;
  let routing;
  let reported;
  if (assigned === undefined) {
    let count: number;
    try {
      count = workers.processCount(config, availableParallelism());
    } catch (err) {
      return report(err);
    }
    try {
      if (count > 1) {
        const primary = await workers.startPrimary(config, count);
        const stop = (): void => primary.stop();
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
        process.on('SIGHUP', () => primary.reload());
        process.exit(await primary.done);
      }
      await workers.singleProcessChecks(config);
    } catch (err) {
      return report(err);
    }
  } else {
    const w = workers.asWorker(config, reloadConfig, assigned);
    ({ config, reloadConfig, links, listenAfterLoad, reported } = w);
    // The primary keeps the admin API's routing changes for a worker it restarts.
    routing = { initial: w.routing, changed: (overrides: unknown) => process.send?.({ strata: 'routing', overrides }) };
  }

  const { createNode } = await import('./node.js');
  const node = createNode(config, { loadConfig: reloadConfig, listenAfterLoad, ...(links ? { links } : {}), ...(routing ? { routing } : {}) });
  if (reported) node.onReload(reported);
  // Installed before start() so a signal during start-up still stops cleanly.
  handleSignals(() => node.stop(), () => node.config(), () => node.reload(), assigned !== undefined);
  try {
    await node.start();
  } catch (err) {
    return report(err);
  }
  // Not listening: stopped (a signal) while it started; the signal handler decides the exit.
  const listening = node.proxyAddress() as AddressInfo | null;
  if (assigned !== undefined && listening !== null) {
    process.send?.({ strata: 'started', listen: listening, admin: node.adminAddress() });
  }
  return undefined; // running; the signal handlers decide the exit code
}

main().then(
  (code) => {
    // Exit explicitly on failure: start() may have left listeners open.
    if (code !== undefined && code !== EXIT_OK) process.exit(code);
    if (code === EXIT_OK) process.exitCode = EXIT_OK;
  },
  (err: unknown) => process.exit(report(err)),
);
