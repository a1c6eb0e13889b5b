// Workers scenario (issue 13): `strata --workers 2` against `--workers 1`, real
// `strata` process trees (dist/src/cli.js) in front of one origin in this process.
//
//   npm run build && node dist/bench/load/workers.js           10 s per measurement
//   node dist/bench/load/workers.js --quick                    2 s per measurement
//
// Figures, for 1 and 2 workers:
// - hit 1 KiB: requests/s, and CPU time per request of every Strata process
//   together (primary and workers: utime + stime from /proc/<pid>/stat);
// - miss 16 KiB (every request a new URL): the same;
//   both measured with both nodes alive at once, in bursts alternating between
//   them (the machine's other load falls on both alike), after a warm-up of as
//   many requests per worker process for both; the ratio is the median of each
//   round's ratio (2 workers' burst ÷ 1 worker's burst beside it), the pooled
//   ratio beside it. target: CPU per request with 2 workers ≤ 1.1× that of 1 worker, each.
//   (One 10 s hit measurement per node, one node after the other, gave 0.93,
//   1.20 and 1.26 on the same source: a burst's figure follows the machine's
//   other load and how the scheduler places wrk and the workers on the 2 cores;
//   alternating short bursts and a median see through both.)
// - herd: 500 clients on connections of their own ask one new object at once
//   (origin answers after 200 ms), 5 objects: origin requests per object (target 1.00).
// The load generator shares the machine (wrk, one thread, unpinned; Strata's
// processes are not pinned either). Writes bench/results/workers-latest.json.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installCleanup, removeDir, track, trackDir } from './children.js';
import { pickGenerator, type LoadResult } from './generator.js';
import { cpuSecondsOf } from './measure.js';

const quick = process.argv.includes('--quick');
const MEASURE_S = quick ? 2 : 10;
const WARM_S = 1;
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 32);
const HERD = 500;
/** Hits and misses are each measured in this many bursts per node, alternating between the two nodes. */
const BURSTS = quick ? 2 : 8;
const HERD_OBJECTS = 5;
const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** `pid` and its children (the workers of a primary). */
function tree(pid: number): number[] {
  const out = [pid];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const treeCpu = (pids: number[]): number => pids.reduce((s, p) => s + cpuSecondsOf(p), 0);

interface Strata {
  base: string;
  pids: number[];
  stop(): Promise<void>;
}

async function startStrata(workers: number, originUrl: string): Promise<Strata> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const dir = trackDir(mkdtempSync(join(process.env['BENCH_CACHE_DIR'] ?? tmpdir(), `strata-bench-workers-${workers}-`)));
  const child: ChildProcess = track(
    spawn(process.execPath, [CLI, '--workers', String(workers), '--origin', originUrl, '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${adminPort}`, '--cache-dir', dir, '--log-level', 'warn'], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { PATH: process.env['PATH'] ?? '' },
    }),
  );
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  // Ready: the node's admin address answers, and with workers every worker answers /stats.
  for (;;) {
    if (Date.now() > deadline) throw new Error(`strata --workers ${workers} not ready in 20 s`);
    try {
      const stats = JSON.parse(await get(`http://127.0.0.1:${adminPort}/stats`)) as { workersAnswering?: number };
      if (workers === 1 || stats.workersAnswering === workers) break;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    pids: tree(child.pid!),
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      removeDir(dir);
    },
  };
}

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

interface Figures {
  rps: number;
  cpuUsPerRequest: number;
  errors: number;
  requests: number;
}

async function measure(strata: Strata, run: () => Promise<LoadResult>): Promise<Figures> {
  const before = treeCpu(strata.pids);
  const r = await run();
  const cpu = treeCpu(strata.pids) - before;
  return { rps: Math.round(r.rps), cpuUsPerRequest: Math.round((cpu / Math.max(1, r.requests)) * 1e6 * 10) / 10, errors: r.errors + r.badStatus, requests: r.requests };
}

/** Bursts of both nodes, alternating (the order reversed every round), with each burst's request path. */
async function alternate(nodes: Map<number, Strata>, run: (strata: Strata, workers: number, burst: number) => Promise<LoadResult>): Promise<Map<number, Figures[]>> {
  const out = new Map<number, Figures[]>([...nodes.keys()].map((w) => [w, []]));
  for (let b = 0; b < BURSTS; b++) {
    for (const workers of b % 2 === 0 ? [1, 2] : [2, 1]) {
      const strata = nodes.get(workers)!;
      out.get(workers)!.push(await measure(strata, () => run(strata, workers, b)));
    }
  }
  return out;
}

/** Median over the rounds of (2 workers' CPU per request ÷ 1 worker's) in the same round. */
function medianRatio(one: Figures[], two: Figures[]): number {
  const r = one.map((f, i) => two[i]!.cpuUsPerRequest / Math.max(0.1, f.cpuUsPerRequest)).sort((a, b) => a - b);
  const m = r.length % 2 ? r[(r.length - 1) / 2]! : (r[r.length / 2 - 1]! + r[r.length / 2]!) / 2;
  return Math.round(m * 100) / 100;
}

/** Bursts summed: CPU over all of them ÷ requests over all of them (and each burst's figure). */
function combined(bursts: Figures[]): Figures & { bursts: number[] } {
  const requests = bursts.reduce((n, f) => n + f.requests, 0);
  const cpuUs = bursts.reduce((n, f) => n + f.cpuUsPerRequest * f.requests, 0);
  return {
    rps: Math.round(bursts.reduce((n, f) => n + f.rps, 0) / bursts.length),
    cpuUsPerRequest: Math.round((cpuUs / Math.max(1, requests)) * 10) / 10,
    errors: bursts.reduce((n, f) => n + f.errors, 0),
    requests,
    bursts: bursts.map((f) => f.cpuUsPerRequest),
  };
}

async function main(): Promise<void> {
  installCleanup();
  const scratch = trackDir(mkdtempSync(join(tmpdir(), 'strata-bench-wrk-')));
  const gen = pickGenerator({ scratchDir: scratch, cpu: undefined });
  const small = Buffer.alloc(1024, 'h');
  const medium = Buffer.alloc(16 * 1024, 'm');
  const originCounts = new Map<string, number>();
  const origin = http.createServer((req, res) => {
    const url = req.url!;
    originCounts.set(url, (originCounts.get(url) ?? 0) + 1);
    const body = url.startsWith('/hit') ? small : medium;
    const answer = () => {
      res.writeHead(200, { 'content-length': body.length, 'cache-control': 'max-age=3600' });
      res.end(body);
    };
    if (url.startsWith('/herd/')) setTimeout(answer, 200);
    else answer();
  });
  origin.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;

  const results: Record<string, unknown> = {};
  // Both nodes alive at once: the misses are measured in bursts interleaved between them,
  // so that the load of whatever else runs on the machine falls on both alike.
  const nodes = new Map<number, Strata>();
  let hits = new Map<number, Figures[]>();
  let misses = new Map<number, Figures[]>();
  try {
    for (const workers of [1, 2]) nodes.set(workers, await startStrata(workers, originUrl));
    const burstS = Math.max(1, Math.round((2 * MEASURE_S) / BURSTS));
    // Each worker process warms on its own share: as many requests per process for both (fresh
    // connections go round the workers, so every worker stores the hit object and optimises its code).
    for (const [workers, strata] of nodes) {
      for (let i = 0; i < 4 * workers; i++) await get(`${strata.base}/hit`);
      await gen.run({ url: `${strata.base}/hit`, durationS: WARM_S * workers * 2, connections: CONNECTIONS });
    }
    hits = await alternate(nodes, (strata) => gen.run({ url: `${strata.base}/hit`, durationS: burstS, connections: CONNECTIONS }));
    for (const [workers, strata] of nodes) await gen.run({ url: `${strata.base}/miss`, durationS: WARM_S * workers * 2, connections: CONNECTIONS, uniquePrefix: `warm${workers}` });
    misses = await alternate(nodes, (strata, workers, b) => gen.run({ url: `${strata.base}/miss`, durationS: burstS, connections: CONNECTIONS, uniquePrefix: `w${workers}b${b}` }));
    for (const [workers, strata] of nodes) {
      let herdFetches = 0;
      for (let o = 0; o < HERD_OBJECTS; o++) {
        const path = `/herd/${workers}/${o}`;
        await Promise.all(Array.from({ length: HERD }, () => get(strata.base + path)));
        herdFetches += originCounts.get(path) ?? 0;
      }
      results[`workers${workers}`] = { hit1KiB: combined(hits.get(workers)!), miss16KiB: combined(misses.get(workers)!), herdOriginRequestsPerObject: herdFetches / HERD_OBJECTS, processes: strata.pids.length };
      process.stdout.write(`workers ${workers}: ${JSON.stringify(results[`workers${workers}`])}\n`);
    }
  } finally {
    for (const strata of nodes.values()) await strata.stop();
  }
  const one = results['workers1'] as { hit1KiB: Figures; miss16KiB: Figures };
  const two = results['workers2'] as { hit1KiB: Figures; miss16KiB: Figures };
  const ratios = {
    cpuPerHit2vs1: medianRatio(hits.get(1)!, hits.get(2)!),
    cpuPerMiss2vs1: medianRatio(misses.get(1)!, misses.get(2)!),
    cpuPerHit2vs1Pooled: Math.round((two.hit1KiB.cpuUsPerRequest / one.hit1KiB.cpuUsPerRequest) * 100) / 100,
    cpuPerMiss2vs1Pooled: Math.round((two.miss16KiB.cpuUsPerRequest / one.miss16KiB.cpuUsPerRequest) * 100) / 100,
    rpsHit2vs1: Math.round((two.hit1KiB.rps / one.hit1KiB.rps) * 100) / 100,
    rpsMiss2vs1: Math.round((two.miss16KiB.rps / one.miss16KiB.rps) * 100) / 100,
  };
  process.stdout.write(`ratios: ${JSON.stringify(ratios)} (targets: CPU per request ≤ 1.1)\n`);
  const out = { at: new Date().toISOString(), quick, cores: cpus().length, loadavg: readFileSync('/proc/loadavg', 'utf8').trim(), generator: gen.name, connections: CONNECTIONS, measureS: MEASURE_S, ...results, ratios };
  const dir = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'workers-latest.json'), JSON.stringify(out, null, 2) + '\n');
  await new Promise<void>((r) => origin.close(() => r()));
  removeDir(scratch);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench workers: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
