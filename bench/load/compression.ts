// Compression scenarios (issue 11), on a generated corpus of HTML, CSS, JS and
// JSON from 10 KiB to 1 MiB (corpus.ts):
//
//   compress codings     in this process: bytes saved per coding and level, and the
//                        CPU time of each compression (the fast level is what the
//                        first request of a coding costs; best is the background job)
//   compress br hit      Strata answering a stored br variant (after its best-level
//                        recompression) vs a bare node:http server answering the
//                        same precompressed bytes, same run, alternating slices;
//                        target ≥ 0.95
//   compress burst       p99 of hits on a stored br variant, quiet vs during a burst
//                        of first compressions (new 1 MiB JSON objects asked for
//                        with br by 8 concurrent clients)

import http from 'node:http';
import { scriptPath, startServer, type ServerChild } from './children.js';
import { CORPUS_KINDS, CORPUS_SIZES, corpusBody, type CorpusKind } from './corpus.js';
import type { Generator, LoadResult } from './generator.js';
import { LOAD_CPU, SERVER_CPU, startStrata, type LoadSettings } from './measure.js';
import { aggregate, get, slices, statsJson } from './measure.js';
import { compressor, LEVELS, PRODUCIBLE, type Level } from '../../src/transform/codings.js';

export interface CodingFigure {
  kind: CorpusKind;
  bytes: number;
  coding: string;
  level: Level;
  /** zlib's level / quality number. */
  setting: number;
  compressedBytes: number;
  /** 1 − compressed ÷ original. */
  saved: number;
  /** CPU time of the compression (user + system, thread pool included), ms. */
  cpuMs: number;
  wallMs: number;
}

export interface BrHitResult {
  scenario: 'compress br hit';
  objectBytes: number;
  encodedBytes: number;
  strata: LoadResult;
  bare: LoadResult;
  ratio: number;
  roundRatios: number[];
  target: number;
  pass: boolean;
  warnings: string[];
}

export interface BurstResult {
  scenario: 'compress burst';
  quiet: LoadResult;
  burst: LoadResult;
  /** Burst p99 ÷ quiet p99. */
  p99Ratio: number;
  firstCompressions: number;
  burstBytes: number;
  warnings: string[];
}

const ENCODE = { 'accept-encoding': 'br' };

async function compressOnce(body: Buffer, coding: string, level: Level): Promise<{ bytes: number; cpuMs: number; wallMs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const z = compressor(coding, level, body.length);
  let bytes = 0;
  z.on('data', (c: Buffer) => (bytes += c.length));
  const done = new Promise<void>((resolve, reject) => {
    z.once('end', resolve);
    z.once('error', reject);
  });
  // Fed in 64 KiB chunks, as an origin body arrives.
  for (let off = 0; off < body.length; off += 65536) z.write(body.subarray(off, off + 65536));
  z.end();
  await done;
  const cpu = process.cpuUsage(cpu0);
  return { bytes, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - t0 };
}

/** Bytes saved and CPU per coding and level over the corpus (quick: HTML and JS only). */
export async function measureCodings(quick: boolean): Promise<CodingFigure[]> {
  const out: CodingFigure[] = [];
  for (const kind of quick ? (['html', 'js'] as const) : CORPUS_KINDS) {
    for (const bytes of CORPUS_SIZES) {
      const body = corpusBody(kind, bytes);
      for (const coding of PRODUCIBLE) {
        for (const level of ['fast', 'best'] as const) {
          const r = await compressOnce(body, coding, level);
          const setting = LEVELS[coding as keyof typeof LEVELS][level];
          out.push({ kind, bytes, coding, level, setting, compressedBytes: r.bytes, saved: 1 - r.bytes / bytes, cpuMs: r.cpuMs, wallMs: r.wallMs });
        }
      }
    }
  }
  return out;
}


async function counters(strata: ServerChild): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(await statsJson(strata))) if (typeof v === 'number') out[k] = v;
  return out;
}

/** Ask for `path` with br until it is a stored hit of its best-level variant. */
async function primeBr(strata: ServerChild, path: string): Promise<number> {
  const url = `http://127.0.0.1:${strata.port}${path}`;
  const before = (await counters(strata))['recompressed'] ?? 0;
  await get(url, ENCODE, undefined, 30_000);
  const deadline = Date.now() + 60_000;
  while (((await counters(strata))['recompressed'] ?? 0) <= before) {
    if (Date.now() > deadline) throw new Error(`${path}: no best-level recompression within 60 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const hit = await get(url, ENCODE, undefined, 30_000);
  if (hit.headers['content-encoding'] !== 'br' || !/; hit/.test(String(hit.headers['cache-status']))) {
    throw new Error(`${path}: not a stored br hit (${hit.headers['content-encoding']}, ${hit.headers['cache-status']})`);
  }
  return hit.bytes;
}

async function withNodes<T>(s: LoadSettings, f: (strata: ServerChild, started: ServerChild[]) => Promise<T>): Promise<T> {
  const started: ServerChild[] = [];
  try {
    const origin = await startServer('origin (corpus)', scriptPath('corpus-server.js'), ['0'], { cpu: LOAD_CPU });
    started.push(origin);
    const { strata } = await startStrata(origin.port, s);
    started.push(strata);
    return await f(strata, started);
  } finally {
    for (const c of started.reverse()) await c.stop();
  }
}

export async function runBrHit(gen: Generator, s: LoadSettings, kind: CorpusKind = 'html', bytes = 100 * 1024): Promise<BrHitResult> {
  return withNodes(s, async (strata, started) => {
    const warnings: string[] = [];
    const path = `/${kind}/${bytes}`;
    const encodedBytes = await primeBr(strata, path);
    const bare = await startServer('bare (precompressed)', scriptPath('precompressed-server.js'), [kind, String(bytes), '0'], { cpu: SERVER_CPU });
    started.push(bare);
    if (bare.info['bytes'] !== encodedBytes) warnings.push(`baseline bytes ${String(bare.info['bytes'])} differ from Strata's stored variant (${encodedBytes})`);
    const sides = [`http://127.0.0.1:${strata.port}${path}`, `http://127.0.0.1:${bare.port}${path}`];
    const one = (url: string, durationS: number) => gen.run({ url, durationS, connections: s.connections, headers: ENCODE });
    if (s.warmupS > 0) for (const url of sides) await one(url, s.warmupS);
    const rounds: LoadResult[][] = [[], []];
    const lens = slices(s.durationS, s.rounds);
    for (let r = 0; r < lens.length; r++) for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) rounds[i]!.push(await one(sides[i]!, lens[r]!));
    const [st, bs] = [aggregate(rounds[0]!), aggregate(rounds[1]!)];
    const c = await counters(strata);
    if ((c['compressed'] ?? 0) !== 1) warnings.push(`strata: ${c['compressed']} compressions (expected 1: hits compress nothing)`);
    if ((c['misses'] ?? 0) !== 1) warnings.push(`strata: ${c['misses']} misses (expected only the priming one)`);
    const ratio = st.rps / bs.rps;
    const target = 0.95;
    return {
      scenario: 'compress br hit',
      objectBytes: bytes,
      encodedBytes,
      strata: st,
      bare: bs,
      ratio,
      roundRatios: rounds[0]!.map((r, i) => r.rps / rounds[1]![i]!.rps),
      target,
      pass: ratio >= target,
      warnings,
    };
  });
}

export async function runBurst(gen: Generator, s: LoadSettings): Promise<BurstResult> {
  return withNodes(s, async (strata) => {
    const warnings: string[] = [];
    const hitPath = '/html/10240';
    await primeBr(strata, hitPath);
    const url = `http://127.0.0.1:${strata.port}${hitPath}`;
    const durationS = Math.max(2, s.durationS);
    const quiet = await gen.run({ url, durationS, connections: s.connections, headers: ENCODE });
    const before = (await counters(strata))['compressed'] ?? 0;
    let stop = false;
    let burstBytes = 0;
    let n = 0;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const client = async () => {
      while (!stop) {
        const r = await get(`http://127.0.0.1:${strata.port}/json/1048576/burst-${++n}`, ENCODE, agent, 30_000);
        burstBytes += r.bytes;
      }
    };
    const clients = Array.from({ length: 8 }, client);
    const burst = await gen.run({ url, durationS, connections: s.connections, headers: ENCODE });
    stop = true;
    await Promise.all(clients);
    agent.destroy();
    const firstCompressions = ((await counters(strata))['compressed'] ?? 0) - before;
    if (firstCompressions < 8) warnings.push(`only ${firstCompressions} first compressions during the burst`);
    return { scenario: 'compress burst', quiet, burst, p99Ratio: burst.p99Ms / quiet.p99Ms, firstCompressions, burstBytes, warnings };
  });
}
