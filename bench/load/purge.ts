// The purge scenario: a Strata child whose store holds 2·N entries (N under one
// prefix, N more carrying one tag; written straight through the Store API, both
// tiers), one hot URL answered from memory, and the runner's own hit loops
// measuring every hit's latency. Then POST /purge by prefix and by tag, N entries
// each, with the hits going on. Reported: each purge's answer time, and hit
// latency percentiles with no purge, during each purge call, and in the seconds
// after it (when the bans are applied in the background and cacache's index is
// updated).

import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeDir, scriptPath, startServer, trackDir, type ServerChild } from './children.js';
import { BENCH_TAG, PREFIX_GROUP } from './purge-fill.js';
import { LOAD_CPU, SERVER_CPU } from './measure.js';
import { primeAndCheckHit } from './measure.js';

const TOKEN = 'bench-purge-token';
/** Hit loops in flight at once (keep-alive connections). */
const LOOPS = 8;
const QUIET_MS = 3_000;
const AFTER_MS = 3_000;

export interface Latencies {
  requests: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface PurgeRun {
  by: 'prefix' | 'tag';
  purged: number;
  /** Time from sending POST /purge to its 200, measured by the runner. */
  answerMs: number;
  /** The node's own figure (`ms` in the answer). */
  serverMs: number;
  during: Latencies;
  after: Latencies;
}

export interface PurgeScenarioResult {
  scenario: 'purge';
  entriesPerPurge: number;
  fillS: number;
  quiet: Latencies;
  purges: PurgeRun[];
  /** p99 of hits during the purge call ÷ p99 with no purge (1 = no effect). */
  p99Ratios: number[];
  counters: Record<string, number>;
  warnings: string[];
}

const log = (s: string) => process.stderr.write(s + '\n');

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summarise(samples: { at: number; ms: number }[], from: number, to: number): Latencies {
  // A hit belongs to the window when it was in flight during it.
  const ms = samples.filter((s) => s.at + s.ms >= from && s.at <= to).map((s) => s.ms).sort((a, b) => a - b);
  return { requests: ms.length, p50Ms: percentile(ms, 50), p99Ms: percentile(ms, 99), maxMs: ms.length ? ms[ms.length - 1]! : NaN };
}

/** Keep-alive GET loops recording each request's start and latency until stopped. */
function hitLoops(url: string): { samples: { at: number; ms: number }[]; errors: number; stop: () => Promise<void> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: LOOPS });
  const out = { samples: [] as { at: number; ms: number }[], errors: 0, stop: async () => {} };
  let running = true;
  const one = () =>
    new Promise<void>((resolve) => {
      const at = performance.now();
      http
        .get(url, { agent }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) out.samples.push({ at, ms: performance.now() - at });
            else out.errors++;
            resolve();
          });
        })
        .on('error', () => {
          out.errors++;
          resolve();
        });
    });
  const loops = Array.from({ length: LOOPS }, async () => {
    while (running) await one();
  });
  out.stop = async () => {
    running = false;
    await Promise.all(loops);
    agent.destroy();
  };
  return out;
}

function post(port: number, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/purge', method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } },
      (res) => {
        let s = '';
        res.setEncoding('utf8').on('data', (d: string) => (s += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(s) as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

async function stats(port: number): Promise<Record<string, number>> {
  const r = await new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/stats' }, (res) => {
      let s = '';
      res.setEncoding('utf8').on('data', (d: string) => (s += d));
      res.on('end', () => resolve(s));
    }).on('error', reject);
  });
  const j = JSON.parse(r) as Record<string, unknown>;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(j)) if (typeof v === 'number') out[k] = v;
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runPurgeScenario(entries: number, nodeArgs: string[]): Promise<PurgeScenarioResult> {
  const warnings: string[] = [];
  const started: ServerChild[] = [];
  const cacheDir = trackDir(mkdtempSync(join(tmpdir(), 'strata-bench-purge-')));
  try {
    const origin = await startServer('origin', scriptPath('bare-server.js'), ['1024', '0'], { cpu: LOAD_CPU });
    started.push(origin);
    log(`  filling ${2 * entries} entries through the Store API (both tiers)…`);
    const strata = await startServer(
      'strata',
      scriptPath('strata-server.js'),
      ['--origin', `http://127.0.0.1:${origin.port}`, '--cache-dir', cacheDir, '--ephemeral', '--admin-token', TOKEN, '--purge-fill', String(entries)],
      { cpu: SERVER_CPU, nodeArgs, timeoutMs: 30 * 60_000 },
    );
    started.push(strata);
    const admin = strata.info['admin'] as number;
    const fillS = (strata.info['fillMs'] as number) / 1000;
    log(`  filled in ${fillS.toFixed(1)} s`);
    const hot = `http://127.0.0.1:${strata.port}/bench/hot`;
    await primeAndCheckHit(hot, 1024);

    const loops = hitLoops(hot);
    await sleep(QUIET_MS);
    const quietEnd = performance.now();
    const runs: { by: PurgeRun['by']; t0: number; t1: number; purged: number; serverMs: number }[] = [];
    for (const [by, body] of [['prefix', { prefixes: [PREFIX_GROUP] }], ['tag', { tags: [BENCH_TAG] }]] as const) {
      const t0 = performance.now();
      const r = await post(admin, body);
      const t1 = performance.now();
      if (r.status !== 200) throw new Error(`POST /purge by ${by}: ${r.status} ${JSON.stringify(r.json)}`);
      runs.push({ by, t0, t1, purged: r.json['purged'] as number, serverMs: r.json['ms'] as number });
      if (r.json['purged'] !== entries) warnings.push(`purge by ${by}: ${String(r.json['purged'])} entries purged, expected ${entries}`);
      await sleep(AFTER_MS);
    }
    await loops.stop();
    if (loops.errors) warnings.push(`${loops.errors} hit requests failed or were not 200`);
    const counters = await stats(admin);
    const quiet = summarise(loops.samples, quietEnd - QUIET_MS + 500, quietEnd);
    const purges: PurgeRun[] = runs.map((r) => ({
      by: r.by,
      purged: r.purged,
      answerMs: r.t1 - r.t0,
      serverMs: r.serverMs,
      during: summarise(loops.samples, r.t0, r.t1),
      after: summarise(loops.samples, r.t1, r.t1 + AFTER_MS),
    }));
    if ((counters['misses'] ?? 0) !== 1) warnings.push(`the hot URL was not always a hit (misses ${counters['misses']})`);
    return { scenario: 'purge', entriesPerPurge: entries, fillS, quiet, purges, p99Ratios: purges.map((p) => p.during.p99Ms / quiet.p99Ms), counters, warnings };
  } finally {
    for (const c of started.reverse()) await c.stop();
    removeDir(cacheDir);
  }
}
