// The load scenarios. Each measures Strata and a baseline in the same run, one
// after the other, with the server under test alone on SERVER_CPU and the load
// generator on LOAD_CPU:
//
//   hit 1 KiB / hit 1 MiB  Strata answering a stored response, vs a bare
//                          node:http server answering the same bytes.
//   miss 1 KiB / 16 KiB /  every request a new URL: Strata fetches it from the
//   256 KiB                origin (its own process, pinned beside the load
//                          generator) and stores it; the baseline is a bare
//                          pass-through proxy (node:http + undici Pool, no cache,
//                          no log) forwarding to the SAME origin process.
//   disk 256 MiB full /    Strata answering a 256 MiB response from its disk tier
//   disk 256 MiB ranges    (whole, or random aligned 1 MiB ranges), vs a bare
//                          node:http server streaming the same file with
//                          fs.createReadStream. Compared by bytes per second.

import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, statfsSync, writeSync } from 'node:fs';
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

export interface ScenarioResult {
  scenario: string;
  bodyBytes: number;
  strata: Side & { counters?: Record<string, number>; fills?: FillStats };
  bare: Side;
  baseline: string;
  ratio: number;
  /** What the ratio compares when not requests per second. */
  ratioOf?: 'bytes/s';
  /** Per-round ratios (strata slice ÷ the baseline slice of the same round): the spread shows the noise. */
  roundRatios: number[];
  /** Best Strata slice ÷ best baseline slice: interference only ever lowers a slice, so this is the least disturbed comparison. */
  bestSliceRatio: number;
  /** Minimum ratio aimed for, if any. */
  target?: number;
  pass?: boolean;
  /** Strata's p99 ÷ the baseline's p99 (request-weighted slice p99s). */
  p99Ratio: number;
  /** Maximum p99 ratio aimed for, if any. */
  p99Target?: number;
  p99Pass?: boolean;
  /** Where Strata's cache directory was (miss scenarios): path and filesystem. */
  cacheFs?: string;
  warnings: string[];
}

export interface Scenario {
  name: string;
  /** BENCH_ONLY also selects a scenario by its group (e.g. "miss" for the three miss scenarios). */
  group?: string;
  bodyBytes: number;
  kind: 'hit' | 'miss' | 'disk';
  target?: number;
  /** Maximum Strata p99 ÷ baseline p99 aimed for, if any. */
  p99Target?: number;
  /** Origin's Cache-Control for Strata's entry (hit scenarios; ETag added, revalidations held). */
  cacheControl?: string;
  /** Keep-alive connections, when the scenario needs other than the setting (large bodies). */
  connections?: number;
  /** Every request asks for one random aligned range of this many bytes. */
  rangeBytes?: number;
  /** Compare bytes per second instead of requests per second (bodies so large that few requests end within a slice). */
  byBytes?: boolean;
  /** The object is stored in slices (its origin advertises ranges) instead of whole on disk. */
  sliced?: boolean;
  /** Hit scenarios: the body is kept out of the memory tier (its per-object limit set below it), so every hit reads it from disk. */
  fromDisk?: boolean;
  /** Hit scenarios: requests spread at random over this many stored URLs (the same sequence on both sides) instead of one. */
  spreadPaths?: number;
}

const MiB = 1024 * 1024;

export const SCENARIOS: Scenario[] = [
  // Targets: issue 15 (hits: 1 KiB ≥ 0.85, 1 MiB ≥ 1.0, 16 KiB from disk ≥ 0.6; misses ≥ 0.8 with p99 ≤ 2×).
  { name: 'hit 1 KiB', bodyBytes: 1024, kind: 'hit', target: 0.85 },
  // Fresh for the priming and the warm-up's first second, stale for the rest: every
  // measured request is a stale-while-revalidate hit, with one revalidation held in flight.
  { name: 'hit 1 KiB stale-while-revalidate', bodyBytes: 1024, kind: 'hit', target: 0.85, cacheControl: 'max-age=1, stale-while-revalidate=86400' },
  { name: 'hit 1 MiB', bodyBytes: 1024 * 1024, kind: 'hit', target: 1.0 },
  // Issue 15: a small object on disk only, its file in the page cache (read whole and verified on every hit).
  // Spread over 1,000 disk-only entries: concurrent hits on one URL share one read, so one hot URL measures that sharing, not the disk.
  { name: 'hit 16 KiB from disk', bodyBytes: 16 * 1024, kind: 'hit', target: 0.6, fromDisk: true, spreadPaths: 1000 },
  { name: 'hit 16 KiB from disk (one URL)', bodyBytes: 16 * 1024, kind: 'hit', fromDisk: true },
  // Every request a new URL, vs a bare pass-through proxy to the same origin.
  { name: 'miss 1 KiB', group: 'miss', bodyBytes: 1024, kind: 'miss', target: 0.8, p99Target: 2 },
  { name: 'miss 16 KiB', group: 'miss', bodyBytes: 16 * 1024, kind: 'miss', target: 0.8, p99Target: 2 },
  { name: 'miss 256 KiB', group: 'miss', bodyBytes: 256 * 1024, kind: 'miss', target: 0.8, p99Target: 2 },
  { name: 'disk 256 MiB full', bodyBytes: 256 * MiB, kind: 'disk', target: 0.8, connections: 2, byBytes: true },
  { name: 'disk 256 MiB ranges', bodyBytes: 256 * MiB, kind: 'disk', target: 0.8, connections: 16, rangeBytes: MiB, byBytes: true },
  { name: 'slices 256 MiB full', bodyBytes: 256 * MiB, kind: 'disk', connections: 2, byBytes: true, sliced: true },
];

const log = (s: string) => process.stderr.write(s + '\n');

/** BENCH_ONLY selection: an entry names a scenario or its group. */
export function selected(only: string[], sc: { name: string; group?: string }): boolean {
  return only.length === 0 || only.includes(sc.name) || (sc.group !== undefined && only.includes(sc.group));
}

/**
 * Parent of Strata's cache directory in the miss and storm scenarios:
 * BENCH_CACHE_DIR (e.g. /dev/shm, where the nginx of /work/shared/anchors keeps
 * its cache), else the OS temporary directory the disk scenarios use.
 */
export function cacheParent(): string {
  return process.env['BENCH_CACHE_DIR'] || tmpdir();
}

const FS_MAGIC: Record<number, string> = { 0x01021994: 'tmpfs', 0xef53: 'ext4', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x794c7630: 'overlayfs', 0x2fc12fc1: 'zfs' };

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
async function counters(strata: ServerChild): Promise<Record<string, number>> {
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

interface SideSpec {
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
}

/**
 * Warm both sides up, then alternate measured slices A B, B A, A B, … so that
 * drift of the machine (other tenants, CPU frequency) falls on both sides alike.
 */
async function measurePair(gen: Generator, a: SideSpec, b: SideSpec, s: LoadSettings, runId: string, onMeasureStart?: () => void): Promise<[Side, Side]> {
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
  for (let r = 0; r < lens.length; r++) {
    for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) {
      rounds[i]!.push(await one(sides[i]!, lens[r]!, `r${r}`));
      await sides[i]!.settle?.();
    }
  }
  return [0, 1].map((i) => ({ result: aggregate(rounds[i]!), warmup: warm[i], rounds: rounds[i]! })) as [Side, Side];
}

function checkSide(label: string, side: Side, warnings: string[], byBytes = false): void {
  const r = side.result;
  // A scenario compared by bytes may see no 256 MiB answer complete within a short slice.
  if (byBytes ? !(r.bytes > 0) : r.requests === 0) throw new Error(`${label}: no ${byBytes ? 'byte received' : 'request completed'}`);
  if (r.errors > 0) warnings.push(`${label}: ${r.errors} socket errors/timeouts`);
  if (r.badStatus > 0) warnings.push(`${label}: ${r.badStatus} responses with a status other than 2xx/3xx`);
}

export async function startStrata(
  originPort: number,
  s: LoadSettings,
  opts: { parentDir?: string; extraArgs?: string[]; cacheDir?: string; keep?: boolean } = {},
): Promise<{ strata: ServerChild; cacheDir: string }> {
  const cacheDir = opts.cacheDir ?? trackDir(mkdtempSync(join(opts.parentDir ?? tmpdir(), 'strata-bench-cache-')));
  try {
    // keep: the directory outlives this node (a restart on it follows); the runner still removes it at the end.
    const args = ['--origin', `http://127.0.0.1:${originPort}`, '--cache-dir', cacheDir, ...(opts.keep ? [] : ['--ephemeral']), ...(opts.extraArgs ?? [])];
    const strata = await startServer('strata', scriptPath('strata-server.js'), args, {
      cpu: SERVER_CPU,
      nodeArgs: s.strataNodeArgs,
    });
    return { strata, cacheDir };
  } catch (err) {
    if (!opts.cacheDir) removeDir(cacheDir);
    throw err;
  }
}

/** The Host of every request of a disk-hit scenario: the cache key names it, and the node restarts on another port. */
const SAME_HOST = { host: 'strata.bench' };

/** Wait (bounded) until the disk tier holds `n` entries (and, after a restart, has loaded its index). */
async function diskHolds(strata: ServerChild, n: number, loaded: boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const disk = ((await statsJson(strata)) as { tiers?: { disk?: { items?: number; loading?: boolean } } }).tiers?.disk;
    if ((disk?.items ?? 0) >= n && (!loaded || disk?.loading === false)) return;
    if (Date.now() > deadline) throw new Error(`ABORT: the disk tier holds ${disk?.items} of ${n} entries after 60 s (loading: ${disk?.loading})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A node whose disk holds `paths` (primed through memory, so small bodies sit in
 * segment files as they do after memory evicts them), restarted with its memory
 * tier refusing them: every hit reads its body from disk.
 */
async function diskOnlyStrata(originPort: number, s: LoadSettings, url: (port: number) => string[], bodyBytes: number, started: ServerChild[], dirs: string[]): Promise<ServerChild> {
  const first = await startStrata(originPort, s, { keep: true });
  dirs.push(first.cacheDir);
  const n = url(0).length;
  try {
    for (const u of url(first.strata.port)) await primeAndCheckHit(u, bodyBytes, SAME_HOST);
    await diskHolds(first.strata, n, false);
  } finally {
    await first.strata.stop();
  }
  const { strata } = await startStrata(originPort, s, { cacheDir: first.cacheDir, extraArgs: ['--memory-max-object', String(bodyBytes - 1)] });
  started.push(strata);
  // Entries not loaded yet would be misses: wait for the index load to finish.
  await diskHolds(strata, n, true);
  for (const u of url(strata.port)) {
    const r = await get(u, SAME_HOST);
    if (r.status !== 200 || r.bytes !== bodyBytes || !String(r.headers['cache-status']).includes('; hit')) {
      throw new Error(`ABORT: ${u} after the restart: ${r.status}, ${r.bytes} bytes, cache-status "${String(r.headers['cache-status'])}" (expected a hit from disk)`);
    }
  }
  return strata;
}

const DRAIN_LIMIT_MS = 60_000;

/**
 * Misses are answered before their fill is committed, so under sustained misses
 * commits fall behind. Wait (bounded) until every fill so far is committed, so
 * that the backlog does not eat the CPU while the baseline is measured.
 */
function fillTracker(strata: ServerChild, warnings: string[]) {
  let misses = 0;
  let committedInWindow = 0;
  let drainMs = 0;
  let measuring = false;
  let before: Record<string, number> = {};
  return {
    startMeasuring: () => {
      measuring = true;
    },
    async settle(): Promise<void> {
      const t0 = Date.now();
      let c = await counters(strata);
      if (measuring) {
        misses += (c['misses'] ?? 0) - (before['misses'] ?? 0);
        committedInWindow += (c['stored'] ?? 0) - (before['stored'] ?? 0);
      }
      let last = c['stored'] ?? 0;
      let lastProgress = Date.now();
      while ((c['stored'] ?? 0) < (c['misses'] ?? 0)) {
        if (Date.now() - t0 > DRAIN_LIMIT_MS || Date.now() - lastProgress > 5_000) {
          warnings.push(`strata: fills not all committed (${c['stored']} of ${c['misses']}) ${Math.round((Date.now() - t0) / 1000)} s after the load stopped`);
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
        c = await counters(strata);
        if ((c['stored'] ?? 0) !== last) {
          last = c['stored'] ?? 0;
          lastProgress = Date.now();
        }
      }
      if (measuring) drainMs += Date.now() - t0;
      before = c;
    },
    stats(requests: number, windowS: number): FillStats {
      const drainS = drainMs / 1000;
      return { misses, committedInWindow, drainS, sustainedRps: requests / (windowS + drainS) };
    },
  };
}

export async function runScenario(sc: Scenario, gen: Generator, s: LoadSettings): Promise<ScenarioResult> {
  const warnings: string[] = [];
  const started: ServerChild[] = [];
  const dirs: string[] = [];
  const stopAll = async () => {
    for (const c of started.splice(0).reverse()) await c.stop();
    for (const d of dirs.splice(0)) removeDir(d);
  };
  const runId = Date.now().toString(36);
  try {
    if (sc.kind === 'disk') {
      const r = await diskScenario(sc, gen, s, runId, started, dirs, warnings);
      await stopAll();
      return finish(sc, r.strata, r.bare, r.baseline, warnings);
    }
    if (sc.kind === 'miss') {
      const r = await missScenario(sc, gen, s, runId, started, dirs, warnings);
      await stopAll();
      return { ...finish(sc, r.strata, r.bare, r.baseline, warnings), cacheFs: r.cacheFs };
    }
    const path = `/bench/hit-${sc.bodyBytes}`;

    // Strata's origin: parked beside the load generator; it answers only the priming request.
    const origin = await startServer('origin', scriptPath('bare-server.js'), [String(sc.bodyBytes), '0', ...(sc.cacheControl ? [sc.cacheControl] : [])], { cpu: LOAD_CPU });
    started.push(origin);
    const spread = sc.spreadPaths;
    const urls = (port: number) => (spread === undefined ? [`http://127.0.0.1:${port}${path}`] : Array.from({ length: spread }, (_, k) => `http://127.0.0.1:${port}${path}/${k + 1}`));
    let strata: ServerChild;
    if (sc.fromDisk) strata = await diskOnlyStrata(origin.port, s, urls, sc.bodyBytes, started, dirs);
    else {
      const fresh = await startStrata(origin.port, s);
      strata = fresh.strata;
      started.push(strata);
      dirs.push(fresh.cacheDir);
      for (const u of urls(strata.port)) await primeAndCheckHit(u, sc.bodyBytes);
    }
    const url = `http://127.0.0.1:${strata.port}${path}`;
    // The baseline, alone on the server CPU whenever it is measured: a bare server with the same bytes.
    const bare = await startServer('bare', scriptPath('bare-server.js'), [String(sc.bodyBytes), '0'], { cpu: SERVER_CPU });
    started.push(bare);
    const bareUrl = `http://127.0.0.1:${bare.port}${path}`;
    const check = await get(bareUrl);
    if (check.status !== 200 || check.bytes !== sc.bodyBytes) throw new Error(`baseline server answered ${check.status} with ${check.bytes} bytes`);

    log(`  strata: pid ${strata.pid} on CPU ${SERVER_CPU}, ${url}${spread ? `/1..${spread}` : ''} (primed: cache-status has "; hit"${sc.fromDisk ? ', from disk after a restart' : ''})`);
    log(`  bare node:http: pid ${bare.pid} on CPU ${SERVER_CPU}, ${bareUrl}`);
    const headers = sc.fromDisk ? SAME_HOST : undefined;
    const [st, bs] = await measurePair(gen, { label: 'strata', url, unique: false, spreadPaths: spread, headers }, { label: 'bare', url: bareUrl, unique: false, spreadPaths: spread, headers }, s, runId);
    const c = await counters(strata);
    // Every request after the priming ones should have been a hit.
    if (c['misses'] !== (sc.fromDisk ? 0 : (spread ?? 1)) || (c['stale'] ?? 0) > 0 || (c['bypass'] ?? 0) > 0 || (c['errors'] ?? 0) > 0) {
      warnings.push(`strata: not all hits (misses ${c['misses']}, stale ${c['stale']}, bypass ${c['bypass']}, errors ${c['errors']})`);
    }
    if (sc.fromDisk) {
      const memoryEntries = ((await statsJson(strata)) as { tiers?: { memory?: { items?: number } } }).tiers?.memory?.items;
      if (memoryEntries !== 0) warnings.push(`strata: ${memoryEntries} entries in the memory tier (expected none: every hit from disk)`);
    }
    if (sc.cacheControl && (c['backgroundRevalidations'] ?? 0) !== 1) {
      warnings.push(`strata: ${c['backgroundRevalidations']} background revalidations (expected exactly 1, held by the origin)`);
    }
    await stopAll();
    return finish(sc, { ...st, counters: c }, bs, 'bare node:http server, same bytes', warnings);
  } finally {
    await stopAll();
  }
}

/**
 * Every request a new URL. One origin process (parked beside the load generator)
 * answers both sides: Strata fetches and stores each URL; the baseline is a bare
 * pass-through proxy (bare-proxy.ts) forwarding to that same origin. Both proxies
 * sit on the server CPU; only the one being measured gets load.
 */
async function missScenario(sc: Scenario, gen: Generator, s: LoadSettings, runId: string, started: ServerChild[], dirs: string[], warnings: string[]) {
  const path = `/bench/miss-${sc.bodyBytes}`;
  const origin = await startServer('origin', scriptPath('bare-server.js'), [String(sc.bodyBytes), '0'], { cpu: LOAD_CPU });
  started.push(origin);
  const parentDir = cacheParent();
  const { strata, cacheDir } = await startStrata(origin.port, s, { parentDir });
  started.push(strata);
  dirs.push(cacheDir);
  const cacheFs = `${cacheDir} (${describeFs(cacheDir)})`;
  const url = `http://127.0.0.1:${strata.port}${path}`;
  const proxy = await startServer('bare proxy', scriptPath('bare-proxy.js'), [`http://127.0.0.1:${origin.port}`, '0'], { cpu: SERVER_CPU });
  started.push(proxy);
  const bareUrl = `http://127.0.0.1:${proxy.port}${path}`;
  for (const [label, u] of [['strata', url], ['bare proxy', bareUrl]] as const) {
    const probe = await get(`${u}/probe-${runId}`);
    if (probe.status !== 200 || probe.bytes !== sc.bodyBytes) throw new Error(`${label} answered the probe with ${probe.status}, ${probe.bytes} bytes`);
  }
  log(`  strata: pid ${strata.pid} on CPU ${SERVER_CPU} → origin pid ${origin.pid} on CPU ${LOAD_CPU}, ${url}/<run>/<n>; cache dir ${cacheFs}`);
  log(`  bare proxy (node:http + undici Pool): pid ${proxy.pid} on CPU ${SERVER_CPU} → the same origin, ${bareUrl}/<run>/<n>`);
  const fills = fillTracker(strata, warnings);
  await fills.settle();
  const strataSpec: SideSpec = { label: 'strata', url, unique: true, settle: () => fills.settle() };
  const [st, bs] = await measurePair(gen, strataSpec, { label: 'bare', url: bareUrl, unique: true }, s, runId, () => fills.startMeasuring());
  const c = await counters(strata);
  if ((c['hits'] ?? 0) > 0) warnings.push(`strata: ${c['hits']} hits in the miss scenario (URLs repeated?)`);
  return {
    strata: { ...st, counters: c, fills: fills.stats(st.result.requests, st.result.durationS) },
    bare: bs,
    baseline: 'bare pass-through proxy (node:http + undici Pool, no cache, no log) to the same origin',
    cacheFs,
  };
}

function finish(sc: Scenario, strataSide: ScenarioResult['strata'], bareSide: Side, baseline: string, warnings: string[]): ScenarioResult {
  checkSide('strata', strataSide, warnings, sc.byBytes);
  checkSide('bare', bareSide, warnings, sc.byBytes);
  const rate = (r: LoadResult) => (sc.byBytes ? r.bytes / r.durationS : r.rps);
  const ratio = rate(strataSide.result) / rate(bareSide.result);
  const p99Ratio = strataSide.result.p99Ms / bareSide.result.p99Ms;
  return {
    scenario: sc.name,
    bodyBytes: sc.bodyBytes,
    strata: strataSide,
    bare: bareSide,
    baseline,
    ratio,
    ...(sc.byBytes ? { ratioOf: 'bytes/s' as const } : {}),
    roundRatios: strataSide.rounds.map((r, i) => rate(r) / rate(bareSide.rounds[i]!)),
    bestSliceRatio: Math.max(...strataSide.rounds.map(rate)) / Math.max(...bareSide.rounds.map(rate)),
    ...(sc.target !== undefined ? { target: sc.target, pass: ratio >= sc.target } : {}),
    p99Ratio,
    ...(sc.p99Target !== undefined ? { p99Target: sc.p99Target, p99Pass: p99Ratio <= sc.p99Target } : {}),
    warnings,
  };
}

/** `size` bytes of the bench pattern, written 1 MiB at a time (never held whole). */
export function writePatternFile(path: string, size: number): void {
  const chunk = Buffer.alloc(MiB, 'strata-bench ');
  const fd = openSync(path, 'w');
  try {
    for (let left = size; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  } finally {
    closeSync(fd);
  }
}

/**
 * A large response from Strata's disk tier vs a bare server streaming the same
 * file. Strata fills from a file server of its own (parked beside the load
 * generator); its default per-object memory limit (8 MiB) keeps the body on disk.
 */
async function diskScenario(sc: Scenario, gen: Generator, s: LoadSettings, runId: string, started: ServerChild[], dirs: string[], warnings: string[]) {
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'strata-bench-file-')));
  dirs.push(dir);
  const file = join(dir, 'body.mp4');
  writePatternFile(file, sc.bodyBytes);
  const origin = await startServer('origin', scriptPath('file-server.js'), [file, '0', sc.sliced ? 'ranges' : 'whole'], { cpu: LOAD_CPU });
  started.push(origin);
  const { strata, cacheDir } = await startStrata(origin.port, s);
  started.push(strata);
  dirs.push(cacheDir);
  const path = `/bench/disk-${sc.bodyBytes}`;
  const url = `http://127.0.0.1:${strata.port}${path}`;
  const bare = await startServer('bare (fs.createReadStream)', scriptPath('file-server.js'), [file, '0'], { cpu: SERVER_CPU });
  started.push(bare);
  const bareUrl = `http://127.0.0.1:${bare.port}${path}`;
  await primeAndCheckHit(url, sc.bodyBytes);
  const primed = await get(url, { range: 'bytes=0-0' });
  if (String(primed.headers['cache-status']).includes('slices') !== Boolean(sc.sliced)) {
    throw new Error(`ABORT: the object was ${sc.sliced ? 'not ' : ''}stored in slices (cache-status "${primed.headers['cache-status']}"); this scenario would measure something else`);
  }
  if (sc.rangeBytes) {
    for (const [label, u] of [['strata', url], ['bare', bareUrl]] as const) {
      const r = await get(u, { range: `bytes=${sc.rangeBytes}-${2 * sc.rangeBytes - 1}` });
      if (r.status !== 206 || r.bytes !== sc.rangeBytes) throw new Error(`${label} answered a range with ${r.status}, ${r.bytes} bytes`);
    }
  }
  log(`  strata: pid ${strata.pid} on CPU ${SERVER_CPU}, ${url} (primed from the file server: cache-status has "; hit")`);
  log(`  bare node:http + fs.createReadStream: pid ${bare.pid} on CPU ${SERVER_CPU}, ${bareUrl}`);
  const randomRange = sc.rangeBytes ? { chunkBytes: sc.rangeBytes, totalBytes: sc.bodyBytes } : undefined;
  const side = (label: string, u: string): SideSpec => ({ label, url: u, unique: false, connections: sc.connections, randomRange });
  const [st, bs] = await measurePair(gen, side('strata', url), side('bare', bareUrl), s, runId);
  const c = await counters(strata);
  if (c['misses'] !== 1 || (c['errors'] ?? 0) > 0) warnings.push(`strata: not all hits (misses ${c['misses']}, errors ${c['errors']})`);
  return { strata: { ...st, counters: c }, bare: bs, baseline: 'bare node:http + fs.createReadStream of the same file' };
}
