// How the load scenarios measure: pinned CPUs, Strata as a child process, a GET
// that counts bytes, Strata's /stats, priming a hit, slices alternating with the
// baseline, and the sums of slices.

import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeDir, scriptPath, startServer, trackDir, type ServerChild } from './children.js';
import type { Generator, LoadResult } from './generator.js';

export const SERVER_CPU = 0;

export const LOAD_CPU = 1;

export interface LoadSettings {
  /** Measured seconds per side, split over `rounds` alternating slices. */
  durationS: number;
  warmupS: number;
  /** Measured slices per side; the two sides alternate (A B B A A B …) so drift hits both alike. */
  rounds: number;
  connections: number;
  /** Extra node flags for the Strata child (BENCH_NODE_ARGS, e.g. --cpu-prof). */
  strataNodeArgs: string[];
}

export interface Side {
  /** All measured slices together: requests and time summed, percentiles request-weighted. */
  result: LoadResult;
  warmup: LoadResult | undefined;
  rounds: LoadResult[];
  /**
   * The server's CPU time (all threads, its settle step included) per request over the
   * measured slices, µs; when its pid was given. Steadier than requests per second on
   * this VM, whose kernel send path changes speed from one run to the next (RESULTS.md).
   */
  cpuUsPerRequest?: number;
}

const CLK_TCK = 100; // Linux USER_HZ: the unit of /proc/<pid>/stat's times

/** utime + stime (seconds) of `pid`, all its threads; 0 when gone (or no /proc). */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

export interface FillStats {
  /** Fills (misses) during the measured slices, and how many were committed when each slice ended. */
  misses: number;
  committedInWindow: number;
  /** Seconds after the slices until every fill was committed. */
  drainS: number;
  /** Requests ÷ (measured time + drain time): the miss rate the node can keep up with. */
  sustainedRps: number;
}

export const MiB = 1024 * 1024;

/**
 * Parent of Strata's cache directory in the miss and storm scenarios:
 * BENCH_CACHE_DIR (e.g. /dev/shm, where the nginx of /work/shared/anchors keeps
 * its cache), else the OS temporary directory the disk scenarios use.
 */
export function cacheParent(): string {
  return process.env['BENCH_CACHE_DIR'] || tmpdir();
}

export async function startStrata(
  originPort: number,
  s: LoadSettings,
  opts: { parentDir?: string; extraArgs?: string[]; cacheDir?: string; keep?: boolean; env?: Record<string, string> } = {},
): Promise<{ strata: ServerChild; cacheDir: string }> {
  const cacheDir = opts.cacheDir ?? trackDir(mkdtempSync(join(opts.parentDir ?? tmpdir(), 'strata-bench-cache-')));
  try {
    // keep: the directory outlives this node (a restart on it follows); the runner still removes it at the end.
    const args = ['--origin', `http://127.0.0.1:${originPort}`, '--cache-dir', cacheDir, ...(opts.keep ? [] : ['--ephemeral']), ...(opts.extraArgs ?? [])];
    const strata = await startServer('strata', scriptPath('strata-server.js'), args, {
      cpu: SERVER_CPU,
      nodeArgs: s.strataNodeArgs,
      ...(opts.env ? { env: opts.env } : {}),
    });
    return { strata, cacheDir };
  } catch (err) {
    if (!opts.cacheDir) removeDir(cacheDir);
    throw err;
  }
}


export const log = (s: string) => process.stderr.write(s + '\n');

export const FS_MAGIC: Record<number, string> = { 0x01021994: 'tmpfs', 0xef53: 'ext4', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x794c7630: 'overlayfs', 0x2fc12fc1: 'zfs' };

/** "tmpfs on /dev/shm": the filesystem type and mount point of `dir`. */
export function describeFs(dir: string): string {
  try {
    const out = execFileSync('findmnt', ['-n', '-o', 'FSTYPE,TARGET', '-T', dir], { encoding: 'utf8' }).trim();
    const [type, target] = out.split(/\s+/);
    if (type && target) return `${type} on ${target}`;
  } catch {
    // no findmnt: the statfs magic number
  }
  try {
    const t = statfsSync(dir).type;
    return FS_MAGIC[t] ?? `filesystem type 0x${t.toString(16)}`;
  } catch {
    return 'unknown filesystem';
  }
}

/** GET `url` and count its body's bytes (a fresh connection unless an agent is given). */
export function get(url: string, headers: Record<string, string> = {}, agent?: http.Agent, timeoutMs = 5000): Promise<{ status: number; headers: http.IncomingHttpHeaders; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: agent ?? false, timeout: timeoutMs, headers }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => reject(new Error(`GET ${url}: ${err.message}`)));
  });
}

/** Strata's /stats JSON, whole. */
export async function statsJson(strata: ServerChild): Promise<Record<string, unknown>> {
  const url = `http://127.0.0.1:${strata.info['admin'] as number}/stats`;
  const r = await new Promise<string>((resolve, reject) => {
    http
      .get(url, { agent: false, timeout: 5000 }, (res) => {
        let s = '';
        res.setEncoding('utf8').on('data', (d: string) => (s += d));
        res.on('end', () => resolve(s));
      })
      .on('timeout', function (this: http.ClientRequest) {
        this.destroy(new Error('timed out'));
      })
      .on('error', (err) => reject(new Error(`strata admin GET ${url}: ${err.message}`)));
  });
  return JSON.parse(r) as Record<string, unknown>;
}

/** The numeric top-level counters of Strata's /stats. */
export async function counters(strata: ServerChild): Promise<Record<string, number>> {
  const j = await statsJson(strata);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(j)) if (typeof v === 'number') out[k] = v;
  return out;
}

/** One request to prime the cache, then the next must be a hit (the fill commits just after the first answer ends). */
export async function primeAndCheckHit(url: string, bodyBytes: number, headers: Record<string, string> = {}): Promise<void> {
  const first = await get(url, headers);
  if (first.status !== 200 || first.bytes !== bodyBytes) {
    throw new Error(`priming ${url}: expected 200 with ${bodyBytes} bytes, got ${first.status} with ${first.bytes} bytes`);
  }
  let last = '';
  for (let attempt = 0; attempt < 20; attempt++) {
    const r = await get(url, headers);
    last = String(r.headers['cache-status'] ?? '(no cache-status)');
    if (r.status === 200 && r.bytes === bodyBytes && last.includes('; hit')) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`ABORT: ${url} is not answered from cache after priming: cache-status is "${last}" (expected it to contain "; hit"). The hit scenario would measure something else; not measuring.`);
}

/** Integer-second slices: `total` seconds over `n` slices (10, 5 → 2 2 2 2 2; 10, 3 → 4 3 3). */
export function slices(total: number, n: number): number[] {
  const t = Math.max(1, Math.round(total));
  const k = Math.max(1, Math.min(Math.round(n), t));
  return Array.from({ length: k }, (_, i) => Math.floor(t / k) + (i < t % k ? 1 : 0));
}

/** Request-weighted summary of several slices. */
export function aggregate(rs: LoadResult[]): LoadResult {
  const requests = rs.reduce((a, r) => a + r.requests, 0);
  const durationS = rs.reduce((a, r) => a + r.durationS, 0);
  const w = (f: (r: LoadResult) => number) => (requests === 0 ? NaN : rs.reduce((a, r) => a + f(r) * r.requests, 0) / requests);
  return {
    tool: rs[0]!.tool,
    requests,
    durationS,
    rps: requests / durationS,
    p50Ms: w((r) => r.p50Ms),
    p99Ms: w((r) => r.p99Ms),
    meanMs: w((r) => r.meanMs),
    maxMs: Math.max(...rs.map((r) => r.maxMs)),
    bytes: rs.reduce((a, r) => a + r.bytes, 0),
    errors: rs.reduce((a, r) => a + r.errors, 0),
    badStatus: rs.reduce((a, r) => a + r.badStatus, 0),
  };
}

export interface SideSpec {
  label: string;
  url: string;
  /** Every request a new URL. */
  unique: boolean;
  /** Run after each of this side's slices (and its warm-up), before the other side goes. */
  settle?: () => Promise<void>;
  connections?: number;
  randomRange?: { chunkBytes: number; totalBytes: number };
  spreadPaths?: number;
  headers?: Record<string, string>;
  /** The server's process: its CPU time per request is measured over the slices. */
  pid?: number;
}

/**
 * Warm both sides up, then alternate measured slices A B, B A, A B, … so that
 * drift of the machine (other tenants, CPU frequency) falls on both sides alike.
 */
export async function measurePair(gen: Generator, a: SideSpec, b: SideSpec, s: LoadSettings, runId: string, onMeasureStart?: () => void): Promise<[Side, Side]> {
  const one = (side: SideSpec, durationS: number, phase: string) =>
    gen.run({
      url: side.url,
      durationS,
      connections: side.connections ?? s.connections,
      uniquePrefix: side.unique ? `${side.label}-${runId}-${phase}` : undefined,
      randomRange: side.randomRange,
      spreadPaths: side.spreadPaths,
      headers: side.headers,
      // A whole 256 MiB body takes seconds per connection on one pinned core.
      timeoutS: side.connections !== undefined ? 30 : undefined,
    });
  const warm: (LoadResult | undefined)[] = [undefined, undefined];
  const rounds: LoadResult[][] = [[], []];
  const sides = [a, b];
  if (s.warmupS > 0) {
    for (const i of [0, 1]) {
      warm[i] = await one(sides[i]!, s.warmupS, 'warmup');
      await sides[i]!.settle?.();
    }
  }
  onMeasureStart?.();
  const lens = slices(s.durationS, s.rounds);
  const cpuS = [0, 0];
  for (let r = 0; r < lens.length; r++) {
    for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) {
      const pid = sides[i]!.pid;
      const before = pid === undefined ? 0 : cpuSecondsOf(pid);
      rounds[i]!.push(await one(sides[i]!, lens[r]!, `r${r}`));
      await sides[i]!.settle?.();
      if (pid !== undefined) cpuS[i]! += cpuSecondsOf(pid) - before;
    }
  }
  return [0, 1].map((i) => {
    const result = aggregate(rounds[i]!);
    const cpu = sides[i]!.pid !== undefined && result.requests > 0 && cpuS[i]! > 0 ? { cpuUsPerRequest: (cpuS[i]! * 1e6) / result.requests } : {};
    return { result, warmup: warm[i], rounds: rounds[i]!, ...cpu };
  }) as [Side, Side];
}

export function checkSide(label: string, side: Side, warnings: string[], byBytes = false): void {
  const r = side.result;
  // A scenario compared by bytes may see no 256 MiB answer complete within a short slice.
  if (byBytes ? !(r.bytes > 0) : r.requests === 0) throw new Error(`${label}: no ${byBytes ? 'byte received' : 'request completed'}`);
  if (r.errors > 0) warnings.push(`${label}: ${r.errors} socket errors/timeouts`);
  // More than 1 % of answers refused: the figure measures refusals, not the scenario (a doubled Host once made every
  // disk-hit request a 400 on both sides, and the ratio still looked plausible).
  if (r.badStatus > r.requests / 100) throw new Error(`ABORT: ${label}: ${r.badStatus} of ${r.requests} responses had a status other than 2xx/3xx; not a measurement`);
  if (r.badStatus > 0) warnings.push(`${label}: ${r.badStatus} responses with a status other than 2xx/3xx`);
}
