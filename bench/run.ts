// `npm run bench`: micro-benchmarks of the hit path, then load runs of Strata
// beside a bare node:http server, a table, and bench/results/latest.json.
//
//   npm run bench                  defaults: 10 s measured + 3 s warm-up per run
//   npm run bench -- --quick       3 s measured + 1 s warm-up
//   npm run bench -- --micro-only | --load-only
//
// Environment: BENCH_DURATION_S (default 10), BENCH_WARMUP_S (default 3),
// BENCH_ROUNDS (default 5: the measured seconds of each side are split into this
// many slices, alternating with the baseline's), all three ignored with --quick;
// BENCH_CONNECTIONS (default 50); BENCH_TOOL=wrk|autocannon (default: wrk when
// installed); BENCH_NODE_ARGS (extra node flags for the Strata child, e.g.
// "--cpu-prof --cpu-prof-dir=/tmp/prof"); BENCH_LOG_LEVEL (the Strata child's log
// level, default info — for experiments only: the reference figures include the
// access log); BENCH_ONLY (comma-separated scenario names or groups, e.g. "miss"
// (the three miss scenarios), "miss 16 KiB", "storm", "purge" or
// "disk 256 MiB full,disk 256 MiB ranges,pass-through 2 GiB"); BENCH_PURGE_ENTRIES
// (entries per purge in the purge scenario, default 100000); BENCH_CACHE_DIR
// (parent of Strata's cache directory in the miss and storm scenarios, e.g.
// /dev/shm; default the OS temporary directory); BENCH_STORM_S (seconds of the
// storm scenario, default 60, 10 with --quick).

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canPin, installCleanup, pinSelf, removeDir, trackDir } from './load/children.js';
import { pickGenerator } from './load/generator.js';
import { WARMUP_HERDS, runHerd, type HerdResult } from './load/herd.js';
import { SCENARIOS, runScenario, selected, type ScenarioResult } from './load/scenarios.js';
import { LOAD_CPU, SERVER_CPU, type LoadSettings } from './load/measure.js';
import { slices } from './load/measure.js';
import { STORM_SCENARIOS, runStormScenario, type StormResult } from './load/storm.js';
import { MEMORY_SCENARIOS, runMemoryScenario, type MemoryResult } from './load/memory.js';
import { SEEK_SCENARIOS, runSeekScenario, type SeekResult } from './load/seek.js';
import { runMicro, type MicroResult } from './micro/hit-path.js';
import { runEdgeMicro } from './micro/edge-guard.js';
import { runUrlOrderMicro } from './micro/url-order.js';
import { runPurgeScenario, type Latencies, type PurgeScenarioResult } from './load/purge.js';
import { measureCodings, runBrHit, runBurst, type BrHitResult, type BurstResult, type CodingFigure } from './load/compression.js';

const RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));

function envNumber(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${v}: expected a non-negative number`);
  return n;
}

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtMs = (n: number) => (n < 1 ? `${(n * 1000).toFixed(0)}µs` : n < 10 ? `${n.toFixed(2)}ms` : `${n.toFixed(1)}ms`);

function table(head: string[], rows: string[][], alignRight: boolean[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (alignRight[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}

function microTable(results: MicroResult[]): string {
  return table(
    ['micro-benchmark', 'ops/s', 'mean ns', 'p99 ns', '±%'],
    results.map((r) => [r.name, fmtInt(r.opsPerSec), r.meanNs.toFixed(1), r.p99Ns.toFixed(1), r.rmePct.toFixed(2)]),
    [false, true, true, true, true],
  );
}

function loadTable(results: ScenarioResult[]): string {
  return table(
    ['scenario', 'strata req/s', 'bare req/s', 'ratio', 'strata p50/p99', 'bare p50/p99', 'target'],
    results.map((r) => [
      r.ratioOf ? `${r.scenario} (${r.ratioOf})` : r.scenario,
      fmtInt(r.strata.result.rps),
      fmtInt(r.bare.result.rps),
      r.ratio.toFixed(2),
      `${fmtMs(r.strata.result.p50Ms)} / ${fmtMs(r.strata.result.p99Ms)}`,
      `${fmtMs(r.bare.result.p50Ms)} / ${fmtMs(r.bare.result.p99Ms)}`,
      [
        r.target === undefined ? '—' : `≥ ${r.target.toFixed(2)} ${r.pass ? 'PASS' : 'MISS'}`,
        ...(r.p99Target === undefined ? [] : [`p99 ${r.p99Ratio.toFixed(2)}× ≤ ${r.p99Target}× ${r.p99Pass ? 'PASS' : 'MISS'}`]),
      ].join('; '),
    ]),
    [false, true, true, true, true, true, false],
  );
}

const fmtLat = (l: Latencies) => `${fmtMs(l.p50Ms)} / ${fmtMs(l.p99Ms)} / ${fmtMs(l.maxMs)} (${fmtInt(l.requests)})`;

function purgeTable(r: PurgeScenarioResult): string {
  return table(
    ['purge', 'entries', 'answer', 'node ms', 'hits p50/p99/max (n): during the call', 'in the 3 s after', 'p99 ÷ no purge'],
    r.purges.map((p, i) => [`by ${p.by}`, fmtInt(p.purged), fmtMs(p.answerMs), fmtMs(p.serverMs), fmtLat(p.during), fmtLat(p.after), r.p99Ratios[i]!.toFixed(2)]),
    [false, true, true, true, true, true, true],
  );
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const unknown = argv.filter((a) => !['--quick', '--micro-only', '--load-only'].includes(a));
  if (unknown.length) throw new Error(`unknown argument(s): ${unknown.join(' ')} (known: --quick, --micro-only, --load-only)`);
  const quick = argv.includes('--quick');
  const settings: LoadSettings = {
    durationS: quick ? 3 : envNumber('BENCH_DURATION_S', 10),
    warmupS: quick ? 1 : envNumber('BENCH_WARMUP_S', 3),
    rounds: quick ? 3 : envNumber('BENCH_ROUNDS', 5),
    connections: envNumber('BENCH_CONNECTIONS', 50),
    strataNodeArgs: (process.env['BENCH_NODE_ARGS'] ?? '').split(/\s+/).filter(Boolean),
  };
  if (settings.durationS < 1) throw new Error('BENCH_DURATION_S must be at least 1');
  const stormS = Math.max(1, Math.round(envNumber('BENCH_STORM_S', quick ? 10 : 60)));
  if (settings.rounds < 1) throw new Error('BENCH_ROUNDS must be at least 1');
  const doMicro = !argv.includes('--load-only');
  const doLoad = !argv.includes('--micro-only');

  installCleanup();
  const started = new Date();
  const cpus = os.cpus();
  const machine = {
    cpu: cpus[0]?.model ?? 'unknown',
    cpus: cpus.length,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    memoryMiB: Math.round(os.totalmem() / 2 ** 20),
    node: process.version,
    /** 1-minute load average before the run and after it: other work on the machine shows here. */
    loadAvgBefore: Number(os.loadavg()[0]!.toFixed(2)),
    loadAvgAfter: NaN,
  };
  console.log(`Strata bench — ${machine.cpu} ×${machine.cpus}, ${machine.os}, node ${machine.node}`);
  if (cpus.length < 2) console.log('warning: fewer than 2 CPUs; server and load generator share a CPU, figures are not comparable');
  if (!canPin) console.log('warning: taskset not found; processes are not pinned to CPUs');
  if (machine.loadAvgBefore > 0.5) console.log(`warning: the machine is busy (1-min load average ${machine.loadAvgBefore}); figures may be disturbed`);

  let micro: MicroResult[] = [];
  if (doMicro) {
    console.log('\nMicro-benchmarks (tinybench, per call)…');
    micro = [...(await runMicro({ timeMs: quick ? 500 : 1000 })), ...(await runEdgeMicro({ timeMs: quick ? 500 : 1000 })), ...(await runUrlOrderMicro({ timeMs: quick ? 500 : 1000 }))];
    console.log(microTable(micro));
  }

  let load: ScenarioResult[] = [];
  let herd: HerdResult | undefined;
  let memory: MemoryResult[] = [];
  const storm: StormResult[] = [];
  const seek: SeekResult[] = [];
  let purge: PurgeScenarioResult | undefined;
  let compress: { codings: CodingFigure[]; brHit: BrHitResult; burst: BurstResult } | undefined;
  let tool: string | undefined;
  if (doLoad) {
    const scratch = trackDir(mkdtempSync(join(os.tmpdir(), 'strata-bench-')));
    try {
      const gen = pickGenerator({ scratchDir: scratch, cpu: LOAD_CPU, force: process.env['BENCH_TOOL'] || undefined });
      tool = gen.name;
      // The runner itself stays off the server CPU (it is the load generator when autocannon is used).
      pinSelf(LOAD_CPU);
      console.log(
        `\nLoad: ${gen.name}, 1 thread, ${settings.connections} keep-alive connections; per side ${settings.warmupS} s warm-up, then ` +
          `${settings.durationS} s measured in ${slices(settings.durationS, settings.rounds).length} slices alternating with the baseline; ` +
          `server under test on CPU ${SERVER_CPU}, load generator on CPU ${LOAD_CPU}`,
      );
      const only = (process.env['BENCH_ONLY'] ?? '').split(',').map((x) => x.trim()).filter(Boolean);
      for (const sc of SCENARIOS.filter((x) => selected(only, x))) {
        process.stderr.write(`• ${sc.name}\n`);
        const r = await runScenario(sc, gen, settings);
        load.push(r);
        for (const w of r.warnings) console.log(`  warning (${sc.name}): ${w}`);
      }
      if (only.length === 0 || only.includes('herd')) {
        process.stderr.write('• herd\n');
        herd = await runHerd(settings);
      }
      for (const sc of MEMORY_SCENARIOS.filter((x) => selected(only, x))) {
        process.stderr.write(`• ${sc.name}\n`);
        memory.push(await runMemoryScenario(sc, settings));
      }
      for (const sc of SEEK_SCENARIOS.filter((x) => selected(only, x))) {
        process.stderr.write(`• ${sc.name}\n`);
        seek.push(await runSeekScenario(sc, settings));
      }
      for (const sc of STORM_SCENARIOS.filter((x) => selected(only, x))) {
        process.stderr.write(`• ${sc.name}\n`);
        const r = await runStormScenario(sc, gen, settings, stormS);
        storm.push(r);
        for (const w of r.warnings) console.log(`  warning (${sc.name}): ${w}`);
      }
      if (only.length === 0 || only.includes('compress')) {
        process.stderr.write('• compress codings\n');
        const codings = await measureCodings(quick);
        process.stderr.write('• compress br hit\n');
        const brHit = await runBrHit(gen, settings);
        process.stderr.write('• compress burst\n');
        const burst = await runBurst(gen, settings);
        compress = { codings, brHit, burst };
        for (const w of [...brHit.warnings, ...burst.warnings]) console.log(`  warning (compress): ${w}`);
      }
      if (only.length === 0 || only.includes('purge')) {
        process.stderr.write('• purge\n');
        purge = await runPurgeScenario(envNumber('BENCH_PURGE_ENTRIES', 100_000), settings.strataNodeArgs);
        for (const w of purge.warnings) console.log(`  warning (purge): ${w}`);
      }
    } finally {
      removeDir(scratch);
    }
    console.log('');
    if (load.length) {
      console.log(loadTable(load));
      console.log(
        'ratio = strata req/s ÷ baseline req/s (hit: bare node:http with the same bytes; miss: a bare pass-through proxy (node:http + undici Pool) to the same origin; ' +
          'disk: bytes/s vs bare node:http + fs.createReadStream); p99 = strata p99 ÷ baseline p99',
      );
      const fsUsed = [...new Set(load.filter((r) => r.cacheFs).map((r) => r.cacheFs!.replace(/^.*\((.*)\)$/, '$1')))];
      if (fsUsed.length) console.log(`miss scenarios: strata's cache directory on ${fsUsed.join(', ')}${process.env['BENCH_CACHE_DIR'] ? ' (BENCH_CACHE_DIR)' : ''}`);
    }
    for (const r of load) {
      if (r.ratioOf) console.log(`  ${r.scenario}: strata ${fmtInt(r.strata.result.bytes / r.strata.result.durationS / 2 ** 20)} MiB/s, bare ${fmtInt(r.bare.result.bytes / r.bare.result.durationS / 2 ** 20)} MiB/s`);
    }
    for (const m of memory) {
      console.log(
        `${m.scenario}: strata resident memory ${m.rssBeforeMiB.toFixed(1)} MiB before, peak growth ${m.peakGrowthMiB.toFixed(1)} MiB (VmHWM ${m.hwmMiB.toFixed(1)} MiB); ` +
          `${fmtInt(m.strataMiBps)} MiB/s through strata vs ${fmtInt(m.originMiBps)} MiB/s from the origin directly (ratio ${m.ratio.toFixed(2)})`,
      );
    }
    for (const t of storm) {
      const M = 2 ** 20;
      console.log(
        `${t.scenario}: ${fmtInt(t.load.requests)} unique ${fmtInt(t.bodyBytes)} B URLs in ${t.load.durationS.toFixed(0)} s (${fmtInt(t.load.rps)} req/s, p99 ${fmtMs(t.load.p99Ms)}), ` +
          `--memory-size ${fmtInt(t.memorySizeBytes / M)} MiB --disk-size ${fmtInt(t.diskSizeBytes / M)} MiB, cache on ${t.cacheFs.replace(/^.*\((.*)\)$/, '$1')}, MALLOC_ARENA_MAX=${t.mallocArenaMax || 'unset'}\n` +
          `  resident memory ${t.rssStartMiB.toFixed(1)} MiB at the start, peak ${t.rssPeakMiB.toFixed(1)} MiB: growth ${t.rssGrowthMiB.toFixed(1)} MiB (target ≤ ${fmtInt(t.rssLimitMiB)} MiB = memory size + 150 MiB) ${t.rssPass ? 'PASS' : 'MISS'}\n` +
          `  at the peak (${t.atPeak.t.toFixed(0)} s), MiB: V8 heap ${t.atPeak.heapTotalMiB.toFixed(1)} (used ${t.atPeak.heapUsedMiB.toFixed(1)}, old generation ${t.atPeak.oldUsedMiB.toFixed(1)}, young ${t.atPeak.newSpaceMiB.toFixed(1)}), ` +
          `external ${t.atPeak.externalMiB.toFixed(1)} (buffers ${t.atPeak.arrayBuffersMiB.toFixed(1)}), disk writer's heap ${t.atPeak.writerHeapMiB.toFixed(1)}, other ${t.atPeak.otherMiB.toFixed(1)}; memory tier ${(t.atPeak.memoryBytes / M).toFixed(1)}, ` +
          `disk records ${(t.atPeak.recordBytes / M).toFixed(1)}, write queue ${(t.atPeak.bytesQueued / M).toFixed(1)} (${fmtInt(t.atPeak.writesQueued)} writes)\n` +
          `  disk tier peak ${(t.diskPeakBytes / M).toFixed(1)} MiB (target ≤ ${fmtInt(t.diskSizeBytes / M)} MiB) ${t.diskPass ? 'PASS' : 'MISS'}; ` +
          `${fmtInt(t.writesShed)} disk writes shed; ${fmtInt(t.counters['stored'] ?? 0)} stored of ${fmtInt(t.counters['misses'] ?? 0)} misses; write queue empty ${t.drainS.toFixed(1)} s after the load`,
      );
    }
    for (const k of seek) {
      console.log(
        `${k.scenario}: ${k.clients} clients, ${fmtInt(k.requests)} random ${fmtInt(k.clientBytes / k.requests / 2 ** 10)} KiB ranges in ${k.elapsedS.toFixed(1)} s; ` +
          `the origin sent ${fmtInt(k.originBytes / 2 ** 20)} MiB for a ${fmtInt(k.bodyBytes / 2 ** 20)} MiB object (${k.originRatio.toFixed(2)}×; clients received ${fmtInt(k.clientBytes / 2 ** 20)} MiB), ` +
          `${fmtInt(k.counters['slicesStored'] ?? 0)} slices stored, ${fmtInt(k.counters['collapsed'] ?? 0)} collapsed`,
      );
    }
    for (const r of load) {
      if (r.p99Target !== undefined) {
        console.log(`  ${r.scenario}: p99 strata ${fmtMs(r.strata.result.p99Ms)} vs baseline ${fmtMs(r.bare.result.p99Ms)} = ${r.p99Ratio.toFixed(2)}× (target ≤ ${r.p99Target}×) ${r.p99Pass ? 'PASS' : 'MISS'}`);
      }
      const rr = r.roundRatios;
      if (rr.length > 1) {
        console.log(`  ${r.scenario}: per-slice ratios ${rr.map((x) => x.toFixed(2)).join(' ')}; best slice ÷ best slice ${r.bestSliceRatio.toFixed(2)}`);
      }
      if (r.cpuRatio !== undefined) {
        console.log(`  ${r.scenario}: CPU per request (all threads) strata ${r.strata.cpuUsPerRequest!.toFixed(1)} µs, baseline ${r.bare.cpuUsPerRequest!.toFixed(1)} µs: ratio by CPU ${r.cpuRatio.toFixed(2)}`);
      }
      const f = r.strata.fills;
      if (f) {
        console.log(
          `  ${r.scenario}: ${fmtInt(f.committedInWindow)} of ${fmtInt(f.misses)} fills committed by the end of their slice; the rest took ${f.drainS.toFixed(1)} s more ` +
            `→ sustained ≈ ${fmtInt(f.sustainedRps)} req/s (ratio ${(f.sustainedRps / r.bare.result.rps).toFixed(3)})`,
        );
      }
    }
  }

  if (herd) {
    console.log(
      `\nThundering herd: ${herd.clients} keep-alive clients × ${herd.rounds} cold URLs (after ${WARMUP_HERDS} herds not measured), origin answering after ${herd.originDelayMs} ms\n` +
        table(
          ['origin requests per herd', 'lone miss p50', 'herd p50', 'herd p99', 'herd max', 'p50 ÷ lone', 'target'],
          [[herd.originRequests.join(' '), fmtMs(herd.loneMissP50Ms), fmtMs(herd.herdP50Ms), fmtMs(herd.herdP99Ms), fmtMs(herd.herdMaxMs), herd.ratio.toFixed(2), `1 each, ≤ ${herd.target} ${herd.pass ? 'PASS' : 'MISS'}`]],
          [false, true, true, true, true, true, false],
        ),
    );
    if (herd.failures) console.log(`  warning (herd): ${herd.failures} requests failed`);
  }

  if (purge) {
    console.log('');
    console.log(`Purge: ${fmtInt(purge.entriesPerPurge)} entries per purge (store filled with ${fmtInt(2 * purge.entriesPerPurge)} in ${purge.fillS.toFixed(0)} s); hits of one stored 1 KiB URL from 8 keep-alive loops meanwhile`);
    console.log(purgeTable(purge));
    console.log(`  hits with no purge: p50/p99/max ${fmtLat(purge.quiet)}`);
  }

  if (compress) printCompression(compress);

  machine.loadAvgAfter = Number(os.loadavg()[0]!.toFixed(2));
  const report = {
    date: started.toISOString(),
    command: `npm run bench${argv.length ? ' -- ' + argv.join(' ') : ''}`,
    machine,
    settings: { ...settings, stormS, cacheParent: process.env['BENCH_CACHE_DIR'] || os.tmpdir(), slicesS: slices(settings.durationS, settings.rounds), strataLogLevel: process.env['BENCH_LOG_LEVEL'] || 'info', threads: 1, tool, serverCpu: SERVER_CPU, loadCpu: LOAD_CPU, pinned: canPin },
    micro,
    load: load.map((r) => ({
      scenario: r.scenario,
      bodyBytes: r.bodyBytes,
      baseline: r.baseline,
      ratio: r.ratio,
      target: r.target,
      pass: r.pass,
      p99Ratio: r.p99Ratio,
      p99Target: r.p99Target,
      p99Pass: r.p99Pass,
      ...(r.cacheFs ? { cacheFs: r.cacheFs } : {}),
      roundRatios: r.roundRatios,
      bestSliceRatio: r.bestSliceRatio,
      strata: { ...r.strata.result, warmup: r.strata.warmup, rounds: r.strata.rounds, counters: r.strata.counters, fills: r.strata.fills },
      bare: { ...r.bare.result, warmup: r.bare.warmup, rounds: r.bare.rounds },
      warnings: r.warnings,
      ...(r.ratioOf ? { ratioOf: r.ratioOf } : {}),
    })),
    herd,
    memory,
    seek,
    storm,
    ...(purge ? { purge } : {}),
    ...(compress ? { compress } : {}),
    elapsedS: (Date.now() - started.getTime()) / 1000,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const out = join(RESULTS_DIR, 'latest.json');
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  console.log(`\nWrote ${out} (${report.elapsedS.toFixed(0)} s).`);
  console.log('If this run should become the reference, copy its figures into bench/RESULTS.md (figures, ratios, command, date).');
}

function printCompression(c: { codings: CodingFigure[]; brHit: BrHitResult; burst: BurstResult }): void {
  console.log('\nCompression: generated corpus (' + [...new Set(c.codings.map((f) => f.kind))].join(', ') + '), bytes saved and CPU per coding and level, averaged over the kinds');
  const groups = new Map<string, CodingFigure[]>();
  for (const f of c.codings) {
    const k = `${f.bytes}|${f.coding}|${f.level}`;
    groups.set(k, [...(groups.get(k) ?? []), f]);
  }
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(
    table(
      ['size', 'coding', 'level', 'saved', 'CPU ms', 'MiB/s of CPU'],
      [...groups.values()].map((fs) => {
        const f = fs[0]!;
        const cpu = avg(fs.map((x) => x.cpuMs));
        return [`${fmtInt(f.bytes / 1024)} KiB`, f.coding, `${f.level} (${f.setting})`, `${(avg(fs.map((x) => x.saved)) * 100).toFixed(1)}%`, cpu.toFixed(2), fmtInt(f.bytes / 2 ** 20 / (cpu / 1000))];
      }),
      [true, false, false, true, true, true],
    ),
  );
  console.log('  the fast level is the CPU of a first request for a coding; best runs once in the background; a hit spends none');
  const b = c.brHit;
  console.log(
    `${b.scenario}: ${fmtInt(b.objectBytes / 1024)} KiB HTML stored as ${fmtInt(b.encodedBytes)} B of br (best level); strata ${fmtInt(b.strata.rps)} req/s (p99 ${fmtMs(b.strata.p99Ms)}) vs bare node:http with the same bytes ` +
      `${fmtInt(b.bare.rps)} req/s (p99 ${fmtMs(b.bare.p99Ms)}): ratio ${b.ratio.toFixed(2)} (target ≥ ${b.target}) ${b.pass ? 'PASS' : 'MISS'}; per slice ${b.roundRatios.map((x) => x.toFixed(2)).join(' ')}`,
  );
  const u = c.burst;
  console.log(
    `${u.scenario}: hits of a stored 10 KiB br variant p50/p99 ${fmtMs(u.quiet.p50Ms)} / ${fmtMs(u.quiet.p99Ms)} quiet vs ${fmtMs(u.burst.p50Ms)} / ${fmtMs(u.burst.p99Ms)} during ` +
      `${u.firstCompressions} first compressions of 1 MiB JSON (8 clients, ${fmtInt(u.burstBytes / 2 ** 20)} MiB sent): p99 ${u.p99Ratio.toFixed(2)}×`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`\nbench failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
