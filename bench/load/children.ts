// Child processes of the benchmark: servers (Strata, bare node:http, origin) and
// the load generator. Every child is tracked so that it is killed whatever way the
// runner ends (normal end, thrown error, Ctrl-C, SIGTERM), and temporary
// directories are removed with them. Servers are pinned to a CPU with taskset.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('which', [cmd], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const canPin = hasCommand('taskset');

/** `cmd args` run under `taskset -c cpu` when taskset exists and a CPU is given. */
export function pinned(cpu: number | undefined, cmd: string, args: string[]): [string, string[]] {
  if (cpu === undefined || !canPin) return [cmd, args];
  return ['taskset', ['-c', String(cpu), cmd, ...args]];
}

/** Pin this process (all its threads) to one CPU, e.g. while it generates load itself. */
export function pinSelf(cpu: number): boolean {
  if (!canPin) return false;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** A temporary directory removed at the latest when the runner exits. */
export function trackDir(dir: string): string {
  tempDirs.add(dir);
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

function killAllNow(): void {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
  for (const d of tempDirs) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  tempDirs.clear();
}

let installed = false;
/** Kill every child on exit and on the usual termination signals. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAllNow);
  const signals: [NodeJS.Signals, number][] = [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ];
  for (const [sig, code] of signals) {
    process.once(sig, () => {
      process.stderr.write(`\nbench: ${sig}; stopping child processes\n`);
      killAllNow();
      process.exit(code);
    });
  }
}

export interface ServerChild {
  name: string;
  port: number;
  /** Everything the child printed on its ready line. */
  info: Record<string, unknown>;
  pid: number;
  stop(): Promise<void>;
  /** Kill at once with `signal` (a crash, not a shutdown), resolving once it is gone. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(t);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/** Path of a compiled sibling script (dist/bench/load/<name>.js). */
export function scriptPath(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

/**
 * Start a node script as a server child; it must print one JSON line with `port`
 * on stdout once listening. The child's stdin is a pipe it watches: when the
 * runner dies, even by SIGKILL, the pipe closes and the child exits.
 */
export async function startServer(
  name: string,
  script: string,
  args: string[],
  opts: { cpu?: number; nodeArgs?: string[]; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<ServerChild> {
  const [cmd, cmdArgs] = pinned(opts.cpu, process.execPath, [...(opts.nodeArgs ?? []), script, ...args]);
  const child = track(spawn(cmd, cmdArgs, { stdio: ['pipe', 'pipe', 'inherit'], ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}) }));
  let stopping = false;
  let ready = false;
  child.once('exit', (code, sig) => {
    if (ready && !stopping) process.stderr.write(`bench: ${name} (pid ${child.pid}) exited unexpectedly (code ${code}, signal ${sig})\n`);
  });
  const stop = async () => {
    stopping = true;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    if (!(await waitExit(child, 5000))) {
      child.kill('SIGKILL');
      await waitExit(child, 2000);
    }
  };
  try {
    const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout! });
      const timer = setTimeout(() => reject(new Error(`${name}: not listening after ${opts.timeoutMs ?? 15000} ms`)), opts.timeoutMs ?? 15000);
      const onExit = (code: number | null, sig: string | null) => {
        clearTimeout(timer);
        reject(new Error(`${name}: exited before listening (code ${code}, signal ${sig})`));
      };
      child.once('exit', onExit);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`${name}: could not start: ${err.message}`));
      });
      rl.once('line', (line) => {
        clearTimeout(timer);
        child.off('exit', onExit);
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (typeof parsed['port'] !== 'number') throw new Error('no port');
          resolve(parsed);
        } catch {
          reject(new Error(`${name}: unexpected first line on stdout: ${line.slice(0, 200)}`));
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        child.stdout!.resume();
      });
    });
    ready = true;
    const kill = async (signal: NodeJS.Signals) => {
      stopping = true;
      child.kill(signal);
      await waitExit(child, 5000);
    };
    return { name, port: info['port'] as number, info, pid: child.pid ?? -1, stop, kill };
  } catch (err) {
    await stop();
    throw err;
  }
}
