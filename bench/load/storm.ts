// Storm scenario: unique 2 KiB URLs at the fastest rate wrk reaches, for a
// configurable time (BENCH_STORM_S, default 60 s), against a Strata child with
// a small memory tier and disk tier (--memory-size 64MiB --disk-size 256MiB).
// Every second the runner samples the child's VmRSS (/proc/<pid>/status) and its
// /stats disk tier (bytes, writesQueued, writesShed) and what the RSS is made of
// (/stats memory: V8's heap, external memory; the disk writer thread's heap; the
// rest: allocator arenas and free lists, code). After the load it keeps
// sampling until the write queue is empty (bounded), then reports: peak RSS −
// RSS at the start vs memory size + 150 MiB with its breakdown at the peak, peak
// disk bytes vs the disk size, and the writes shed. No baseline: the figures are
// bounds, not a ratio.

import { scriptPath, startServer, removeDir, type ServerChild } from './children.js';
import type { Generator, LoadResult } from './generator.js';
import { parseSize } from './child-life.js';
import { procKiB } from './memory.js';
import { LOAD_CPU, SERVER_CPU, cacheParent, startStrata, type LoadSettings } from './measure.js';
import { describeFs, statsJson } from './measure.js';

export interface StormSample {
  /** Seconds since the load started. */
  t: number;
  rssMiB: number;
  diskBytes: number;
  diskItems: number;
  writesQueued: number;
  bytesQueued: number;
  writesShed: number;
  memoryBytes: number;
  memoryItems: number;
  /** The disk tier's records in RAM (tiers.disk.recordBytes). */
  recordBytes: number;
  /** /stats `memory`: V8's heap committed and used, old generation used, young generation, buffers (MiB). */
  heapTotalMiB: number;
  heapUsedMiB: number;
  oldUsedMiB: number;
  newSpaceMiB: number;
  externalMiB: number;
  arrayBuffersMiB: number;
  /** The disk writer thread's V8 heap (tiers.disk.writerHeapBytes). */
  writerHeapMiB: number;
  /** RSS that neither V8's heaps nor the main one's external memory account for: allocator arenas and free lists, thread stacks, code. */
  otherMiB: number;
}

export interface StormResult {
  scenario: string;
  bodyBytes: number;
  durationS: number;
  memorySizeBytes: number;
  diskSizeBytes: number;
  cacheFs: string;
  /** The environment's MALLOC_ARENA_MAX Strata ran with (2 unless the runner's environment set one). */
  mallocArenaMax: string;
  load: LoadResult;
  rssStartMiB: number;
  rssPeakMiB: number;
  rssGrowthMiB: number;
  /** The sample at the peak RSS: what the RSS was made of then. */
  atPeak: StormSample;
  /** memory size + 150 MiB */
  rssLimitMiB: number;
  rssPass: boolean;
  diskPeakBytes: number;
  diskPass: boolean;
  writesShed: number;
  /** Seconds after the load until the write queue was empty (or the bound). */
  drainS: number;
  counters: Record<string, number>;
  samples: StormSample[];
  warnings: string[];
}

export const STORM_SCENARIOS = [{ name: 'storm', bodyBytes: 2048, memorySize: '64MiB', diskSize: '256MiB', rssAllowanceMiB: 150 }];

const MiB = 1024 * 1024;
const DRAIN_LIMIT_MS = 60_000;

function num(o: unknown, k: string): number {
  const v = (o as Record<string, unknown> | undefined)?.[k];
  return typeof v === 'number' ? v : NaN;
}

async function sample(strata: ServerChild, t0: number): Promise<StormSample> {
  const j = await statsJson(strata);
  const rssMiB = procKiB(strata.pid, 'VmRSS') / 1024;
  const tiers = j['tiers'] as Record<string, unknown> | undefined;
  const disk = tiers?.['disk'];
  const mem = j['memory'];
  const mib = (k: string) => num(mem, k) / MiB;
  return {
    t: (Date.now() - t0) / 1000,
    rssMiB,
    diskBytes: num(disk, 'bytes'),
    diskItems: num(disk, 'items'),
    writesQueued: num(disk, 'writesQueued'),
    bytesQueued: num(disk, 'bytesQueued'),
    writesShed: num(disk, 'writesShed'),
    memoryBytes: num(tiers?.['memory'], 'bytes'),
    memoryItems: num(tiers?.['memory'], 'items'),
    recordBytes: num(disk, 'recordBytes'),
    heapTotalMiB: mib('heapTotalBytes'),
    heapUsedMiB: mib('heapUsedBytes'),
    oldUsedMiB: mib('oldSpaceUsedBytes'),
    newSpaceMiB: mib('newSpaceBytes'),
    externalMiB: mib('externalBytes'),
    arrayBuffersMiB: mib('arrayBuffersBytes'),
    writerHeapMiB: num(disk, 'writerHeapBytes') / MiB,
    otherMiB: mib('rssBytes') - mib('heapTotalBytes') - mib('externalBytes') - num(disk, 'writerHeapBytes') / MiB,
  };
}

export async function runStormScenario(sc: (typeof STORM_SCENARIOS)[number], gen: Generator, s: LoadSettings, durationS: number): Promise<StormResult> {
  const warnings: string[] = [];
  const started: ServerChild[] = [];
  let cacheDir: string | undefined;
  try {
    const origin = await startServer('origin', scriptPath('bare-server.js'), [String(sc.bodyBytes), '0'], { cpu: LOAD_CPU });
    started.push(origin);
    // As the Docker image runs it (Dockerfile, CACHING.md): glibc's arenas per thread held 15-20 MiB more under a storm.
    // MALLOC_ARENA_MAX= (empty) in the runner's environment measures glibc's own choice.
    const mallocArenaMax = process.env['MALLOC_ARENA_MAX'] ?? '2';
    const st = await startStrata(origin.port, s, { parentDir: cacheParent(), extraArgs: ['--memory-size', sc.memorySize, '--disk-size', sc.diskSize], env: { MALLOC_ARENA_MAX: mallocArenaMax } });
    started.push(st.strata);
    cacheDir = st.cacheDir;
    const strata = st.strata;
    const cacheFs = `${cacheDir} (${describeFs(cacheDir)})`;
    const url = `http://127.0.0.1:${strata.port}/bench/storm`;
    process.stderr.write(`  strata: pid ${strata.pid} on CPU ${SERVER_CPU} (--memory-size ${sc.memorySize} --disk-size ${sc.diskSize}, MALLOC_ARENA_MAX=${mallocArenaMax || 'unset'}) → origin pid ${origin.pid} on CPU ${LOAD_CPU}; cache dir ${cacheFs}; ${durationS} s of unique ${sc.bodyBytes} B URLs\n`);

    const t0 = Date.now();
    const samples: StormSample[] = [await sample(strata, t0)];
    const rssStartMiB = samples[0]!.rssMiB;
    let busy = false;
    const tick = async () => {
      if (busy) return;
      busy = true;
      try {
        samples.push(await sample(strata, t0));
      } catch (err) {
        warnings.push(`sample at ${((Date.now() - t0) / 1000).toFixed(0)} s failed: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(() => void tick(), 1000);
    let load: LoadResult;
    let drainS = 0;
    try {
      load = await gen.run({ url, durationS, connections: s.connections, uniquePrefix: `storm-${t0.toString(36)}` });
      // Keep sampling until the disk write queue is empty: the disk peak can come after the load.
      const loadEnd = Date.now();
      for (;;) {
        await new Promise((r) => setTimeout(r, 250));
        const last = samples[samples.length - 1];
        if (last && last.t * 1000 > loadEnd - t0 && last.writesQueued === 0) break;
        if (Date.now() - loadEnd > DRAIN_LIMIT_MS) {
          warnings.push(`disk write queue not empty ${DRAIN_LIMIT_MS / 1000} s after the load (${last?.writesQueued} queued)`);
          break;
        }
      }
      drainS = (Date.now() - loadEnd) / 1000;
    } finally {
      clearInterval(timer);
    }
    while (busy) await new Promise((r) => setTimeout(r, 20));
    samples.push(await sample(strata, t0));
    const j = await statsJson(strata);
    const counters: Record<string, number> = {};
    for (const [k, v] of Object.entries(j)) if (typeof v === 'number') counters[k] = v;
    if ((counters['hits'] ?? 0) > 0) warnings.push(`strata: ${counters['hits']} hits in the storm (URLs repeated?)`);
    if (load.errors > 0) warnings.push(`${load.errors} socket errors/timeouts`);
    if (load.badStatus > 0) warnings.push(`${load.badStatus} responses with a status other than 2xx/3xx`);

    const memorySizeBytes = parseSize(sc.memorySize);
    const diskSizeBytes = parseSize(sc.diskSize);
    const atPeak = samples.reduce((a, b) => (b.rssMiB > a.rssMiB ? b : a));
    const rssPeakMiB = atPeak.rssMiB;
    const rssLimitMiB = memorySizeBytes / MiB + sc.rssAllowanceMiB;
    const diskPeakBytes = Math.max(...samples.map((x) => (Number.isFinite(x.diskBytes) ? x.diskBytes : 0)));
    const last = samples[samples.length - 1]!;
    return {
      scenario: sc.name,
      bodyBytes: sc.bodyBytes,
      durationS,
      memorySizeBytes,
      diskSizeBytes,
      cacheFs,
      mallocArenaMax,
      load,
      rssStartMiB,
      rssPeakMiB,
      rssGrowthMiB: rssPeakMiB - rssStartMiB,
      atPeak,
      rssLimitMiB,
      rssPass: rssPeakMiB - rssStartMiB <= rssLimitMiB,
      diskPeakBytes,
      diskPass: diskPeakBytes <= diskSizeBytes,
      writesShed: last.writesShed,
      drainS,
      counters,
      samples,
      warnings,
    };
  } finally {
    for (const c of started.reverse()) await c.stop();
    if (cacheDir) removeDir(cacheDir);
  }
}
