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
import { removeDir, scriptPath, startServer, type ServerChild } from './children.js';
import type { Generator, LoadResult } from './generator.js';
import { LOAD_CPU, MiB, SERVER_CPU, checkSide, counters, get, log, measurePair, primeAndCheckHit, slices, statsJson, startStrata, type FillStats, type LoadSettings, type Side } from './measure.js';
import { missScenario } from './miss-scenario.js';
import { diskScenario } from './disk-scenario.js';





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
  /** The baseline's CPU per request ÷ Strata's (both pinned to one core): the ratio as the servers' own cost sees it. */
  cpuRatio?: number;
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


/** BENCH_ONLY selection: an entry names a scenario or its group. */
export function selected(only: string[], sc: { name: string; group?: string }): boolean {
  return only.length === 0 || only.includes(sc.name) || (sc.group !== undefined && only.includes(sc.group));
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
    const [st, bs] = await measurePair(gen, { label: 'strata', url, unique: false, spreadPaths: spread, headers, pid: strata.pid }, { label: 'bare', url: bareUrl, unique: false, spreadPaths: spread, headers, pid: bare.pid }, s, runId);
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
    ...(!sc.byBytes && strataSide.cpuUsPerRequest && bareSide.cpuUsPerRequest ? { cpuRatio: bareSide.cpuUsPerRequest / strataSide.cpuUsPerRequest } : {}),
    ...(sc.target !== undefined ? { target: sc.target, pass: ratio >= sc.target } : {}),
    p99Ratio,
    ...(sc.p99Target !== undefined ? { p99Target: sc.p99Target, p99Pass: p99Ratio <= sc.p99Target } : {}),
    warnings,
  };
}


