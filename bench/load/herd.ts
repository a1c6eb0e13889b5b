// Thundering herd: many clients on keep-alive connections ask for one cold URL at
// the same instant; the origin takes 200 ms to answer. Measures how many requests
// reach the origin (target: 1 per herd) and the clients' latency, against a lone
// miss of the same origin measured in the same run (target: herd p50 within 1.3×),
// after WARMUP_HERDS herds of their own that are not measured.
//
// Strata runs as a child pinned to the server CPU; the origin and the clients run
// in this (runner) process on the load CPU: the origin's own cost is a timer.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import type { LoadSettings } from './measure.js';
import { startStrata } from './measure.js';
import { removeDir } from './children.js';

export interface HerdResult {
  clients: number;
  rounds: number;
  originDelayMs: number;
  /** Origin requests per herd, one figure per round. */
  originRequests: number[];
  /** Lone misses: p50 of their latency. */
  loneMissP50Ms: number;
  herdP50Ms: number;
  herdP99Ms: number;
  herdMaxMs: number;
  /** herd p50 ÷ lone miss p50 (target ≤ 1.3). */
  ratio: number;
  target: number;
  pass: boolean;
  failures: number;
}

const DELAY_MS = 200;
/** Herds before the measured ones (their own cold URLs), not counted. */
export const WARMUP_HERDS = 2;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function timedGet(agent: Agent, url: string): Promise<{ ms: number; ok: boolean }> {
  const t0 = performance.now();
  try {
    const r = await request(url, { dispatcher: agent });
    // Count the bytes without gathering them: the client's own cost is part of every figure.
    let bytes = 0;
    for await (const chunk of r.body) bytes += (chunk as Buffer).length;
    return { ms: performance.now() - t0, ok: r.statusCode === 200 && bytes === Number(r.headers['content-length']) };
  } catch {
    return { ms: performance.now() - t0, ok: false };
  }
}

export async function runHerd(s: LoadSettings, clients = 500, rounds = 5): Promise<HerdResult> {
  const counts = new Map<string, number>();
  const body = Buffer.alloc(16 * 1024, 'h');
  const origin = http.createServer({ keepAliveTimeout: 10_000 }, (req, res) => {
    counts.set(req.url!, (counts.get(req.url!) ?? 0) + 1);
    setTimeout(() => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': body.length });
      res.end(body);
    }, req.url === '/warm' ? 0 : DELAY_MS);
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  const { strata, cacheDir } = await startStrata((origin.address() as AddressInfo).port, s);
  const agent = new Agent({ connections: clients, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 30_000 });
  const base = `http://127.0.0.1:${strata.port}`;
  const run = Date.now().toString(36);
  try {
    // Open every keep-alive connection first (hits on a primed URL).
    await timedGet(agent, `${base}/warm`);
    await Promise.all(Array.from({ length: clients }, () => timedGet(agent, `${base}/warm`)));
    // Herds not measured, as the load rows' warm-up: the first herds of a process ran the
    // collapse and fan-out code unoptimised (220 ms of the node's CPU for the first, 80 ms
    // for the fifth), a cost a node in service paid long before.
    for (let i = 0; i < WARMUP_HERDS; i++) await Promise.all(Array.from({ length: clients }, () => timedGet(agent, `${base}/herd-${run}-warm-${i}`)));

    const lone: number[] = [];
    for (let i = 0; i < rounds; i++) lone.push((await timedGet(agent, `${base}/lone-${run}-${i}`)).ms);
    lone.sort((a, b) => a - b);

    const all: number[] = [];
    const originRequests: number[] = [];
    let failures = 0;
    for (let i = 0; i < rounds; i++) {
      const path = `/herd-${run}-${i}`;
      const replies = await Promise.all(Array.from({ length: clients }, () => timedGet(agent, base + path)));
      for (const r of replies) {
        all.push(r.ms);
        if (!r.ok) failures++;
      }
      originRequests.push(counts.get(path) ?? 0);
    }
    all.sort((a, b) => a - b);
    const loneMissP50Ms = percentile(lone, 50);
    const herdP50Ms = percentile(all, 50);
    const ratio = herdP50Ms / loneMissP50Ms;
    return {
      clients,
      rounds,
      originDelayMs: DELAY_MS,
      originRequests,
      loneMissP50Ms,
      herdP50Ms,
      herdP99Ms: percentile(all, 99),
      herdMaxMs: all[all.length - 1]!,
      ratio,
      target: 1.3,
      pass: ratio <= 1.3 && originRequests.every((n) => n === 1) && failures === 0,
      failures,
    };
  } finally {
    await agent.close();
    await strata.stop();
    removeDir(cacheDir);
    origin.closeAllConnections();
    origin.close();
  }
}
