// Crash soak of the disk tier: one Strata node (a child process: a 2 MiB memory tier
// holding nothing over 16 KiB, so hits come from disk; a small disk budget, so
// eviction and compaction run) under a mixed load, killed with SIGKILL at a random
// moment, its cache directory inspected while it is dead, restarted on the same
// directory and checked, again and again. What it holds Strata to (storage/README.md,
// CACHING.md "Restarts and crashes"):
//   - every answer (whole or a range) is byte for byte the origin's body of the
//     version its ETag names (bench/load/crash-origin.ts: bodies are a pure function
//     of id and version);
//   - after the restart's repair (once the index is loaded): no temp file, no
//     interrupted compaction left, the counted files within --disk-size plus SLACK;
//   - every entry whose index line had landed before the kill (read from
//     index-v2.log while the node is dead) is a hit afterwards with that line's ETag,
//     unless a purge of it was sent;
//   - a URL whose purge was acknowledged before the kill is not served from cache;
//   - /stats disk `corrupt`, `ioErrors` and `writeErrors` stay 0 (a kill tears only
//     what no index line refers to; a healthy disk has no I/O errors).
// Not a speed measurement. Exits 1 on any violation.
//
//   npm run build && node dist/bench/crash-soak.js [--rounds 60] [--seed 1] [--disk-size 32MiB] [--concurrency 6] [--keep]

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { installCleanup, removeDir, scriptPath, startServer, trackDir, type ServerChild } from './load/children.js';
import { parseSize } from './load/child-life.js';
import { Origin, bodyOf, classOf, durableEntries, pathOf, sizeOf, viewDir, type DurableEntry } from './load/crash-origin.js';

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '60' },
    seed: { type: 'string', default: '1' },
    'disk-size': { type: 'string', default: '32MiB' },
    concurrency: { type: 'string', default: '6' },
    /** Keep the cache directory (and the node's warn log beside it) at the end. */
    keep: { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(opt.rounds);
const DISK = parseSize(opt['disk-size']!);
const CONCURRENCY = Number(opt.concurrency);
/** What the counted files may exceed the budget by: filesystem rounding the tier does not see. */
const SLACK = 1024 * 1024;
const TOKEN = 'crash-soak';
const HOST = 'crash.test';

let seed = Number(opt.seed) >>> 0 || 1;
/** mulberry32: the run is the seed's (the moments of the kills aside). */
function rnd(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (n: number) => Math.floor(rnd() * n);

const origin = new Origin();
const fig = { rounds: 0, requests: 0, checked: 0, ranges: 0, hits: 0, purgesAcked: 0, purgeChecks: 0, durableChecks: 0, changes: 0, cutByKill: 0, maxCountedBytes: 0, tmpAtKill: 0 };
const violations: string[] = [];
function violation(round: number, what: string): void {
  violations.push(`round ${round}: ${what}`);
  console.log(`VIOLATION round ${round}: ${what}`);
}

let nextId = 0;
/** Ids whose purge was sent: not asked again until checked after the next restart. acked: the 200 arrived. */
const purged = new Map<number, { acked: boolean }>();
const inflight = new Map<number, number>();

interface Node {
  child: ServerChild;
  base: string;
  admin: string;
  agent: Agent;
}

async function startNode(cacheDir: string, originUrl: string): Promise<Node> {
  const child = await startServer('strata', scriptPath('strata-server.js'), [
    '--origin', originUrl, '--cache-dir', cacheDir, '--admin-token', TOKEN,
    '--memory-size', '2MiB', '--memory-max-object', '16KiB', '--disk-size', String(DISK),
  ]);
  return { child, base: `http://127.0.0.1:${child.port}`, admin: `http://127.0.0.1:${String(child.info['admin'])}`, agent: new Agent({ connections: CONCURRENCY * 2 }) };
}

async function diskStats(n: Node): Promise<Record<string, unknown>> {
  const res = await request(`${n.admin}/stats`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const s = (await res.body.json()) as { tiers: { disk: Record<string, unknown> } };
  return s.tiers.disk;
}

interface Answer {
  status: number;
  etag: string | undefined;
  cacheStatus: string;
  contentRange: string | undefined;
  body: Buffer;
}

async function get(n: Node, id: number, headers: Record<string, string> = {}): Promise<Answer> {
  inflight.set(id, (inflight.get(id) ?? 0) + 1);
  try {
    // One Host whatever port the node listens on this time: the cache key does not change across restarts.
    const res = await request(`${n.base}${pathOf(id)}`, { headers: { host: HOST, ...headers }, dispatcher: n.agent });
    const body = Buffer.from(await res.body.arrayBuffer());
    const h = (k: string) => {
      const v = res.headers[k];
      return Array.isArray(v) ? v.join(', ') : v;
    };
    return { status: res.statusCode, etag: h('etag'), cacheStatus: h('cache-status') ?? '', contentRange: h('content-range'), body };
  } finally {
    inflight.set(id, inflight.get(id)! - 1);
  }
}

/** A request of the checks after a restart: the node is alive, so a failure is a violation. */
async function checkGet(round: number, n: Node, id: number, headers: Record<string, string> = {}): Promise<Answer | undefined> {
  try {
    return await get(n, id, headers);
  } catch (err) {
    violation(round, `${pathOf(id)}${headers['cache-control'] ? ` (${headers['cache-control']})` : ''}: failed after the restart: ${(err as Error).message}`);
    return undefined;
  }
}

/** The answer is the origin's body (or the asked range of it) of the version its ETag names. */
function verify(round: number, id: number, a: Answer, range?: [number, number]): boolean {
  fig.checked++;
  if (a.cacheStatus.includes('; hit')) fig.hits++;
  const where = `${pathOf(id)}${range ? ` range ${range[0]}-${range[1]}` : ''} (${a.cacheStatus})`;
  if (a.status !== 200 && a.status !== 206) return violation(round, `${where}: status ${a.status}`), false;
  const known = a.etag === undefined ? undefined : origin.etags.get(a.etag);
  if (!known || known.id !== id) return violation(round, `${where}: ETag ${a.etag} is no version of this object`), false;
  const full = bodyOf(id, known.v).body;
  if (a.status === 200) {
    if (!a.body.equals(full)) return violation(round, `${where}: 200 body of ${a.body.length} bytes is not version ${known.v} (${full.length} bytes)`), false;
    return true;
  }
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(a.contentRange ?? '');
  if (!m || Number(m[3]) !== full.length) return violation(round, `${where}: 206 with Content-Range ${a.contentRange}`), false;
  const [s, e] = [Number(m[1]), Number(m[2])];
  if (range && (s !== range[0] || e !== Math.min(range[1], full.length - 1))) return violation(round, `${where}: 206 for ${s}-${e}`), false;
  if (!a.body.equals(full.subarray(s, e + 1))) return violation(round, `${where}: 206 bytes ${s}-${e} differ from version ${known.v}`), false;
  return true;
}

function anId(): number | undefined {
  for (let tries = 0; tries < 8; tries++) {
    const id = rnd() < 0.5 ? pick(Math.min(nextId, 40)) : pick(nextId);
    if (!purged.has(id)) return id;
  }
  return undefined;
}

/** One request of the mix; failures after `killed()` are the kill's and not judged. */
async function oneOp(round: number, n: Node, killed: () => boolean): Promise<void> {
  const r = rnd();
  try {
    if (r < 0.05) {
      const id = anId();
      if (id === undefined || (inflight.get(id) ?? 0) > 0) return;
      purged.set(id, { acked: false });
      const res = await request(`${n.admin}/purge`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ urls: [`http://${HOST}${pathOf(id)}`] }),
      });
      await res.body.dump();
      if (res.statusCode === 200 && !killed()) {
        purged.set(id, { acked: true });
        fig.purgesAcked++;
      } else if (res.statusCode !== 200) violation(round, `purge of ${pathOf(id)} answered ${res.statusCode}`);
      return;
    }
    if (r < 0.1) {
      const id = anId();
      if (id !== undefined) origin.change(id), fig.changes++;
      return;
    }
    const id = r < 0.25 || nextId === 0 ? nextId++ : anId();
    if (id === undefined) return;
    fig.requests++;
    if (r >= 0.25 && r < 0.4) {
      const size = sizeOf(id);
      const start = pick(size);
      const range: [number, number] = [start, start + pick(Math.min(size - start, 256 * 1024))];
      fig.ranges++;
      verify(round, id, await get(n, id, { range: `bytes=${range[0]}-${range[1]}` }), range);
      return;
    }
    verify(round, id, await get(n, id));
  } catch (err) {
    if (killed()) fig.cutByKill++;
    else violation(round, `request failed before the kill: ${(err as Error).message}`);
  }
}

async function waitLoaded(n: Node, round: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if ((await diskStats(n))['loading'] === false) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  violation(round, 'the index was still loading 60 s after the restart');
}

/** Checks after a restart: the repair's result, durable entries, acknowledged purges, error counters. */
async function afterRestart(round: number, n: Node, cacheDir: string, durable: Map<string, DurableEntry>): Promise<void> {
  await waitLoaded(n, round);
  // The repair runs beside the load: give its background part a moment to finish by asking again.
  let view = viewDir(cacheDir);
  for (let i = 0; i < 40 && (view.tmpFiles.length > 0 || view.countedBytes > DISK + SLACK); i++) {
    await new Promise((r) => setTimeout(r, 50));
    view = viewDir(cacheDir);
  }
  fig.maxCountedBytes = Math.max(fig.maxCountedBytes, view.countedBytes);
  if (view.tmpFiles.length) violation(round, `left after the restart's repair: ${view.tmpFiles.slice(0, 5).join(', ')}`);
  if (view.countedBytes > DISK + SLACK) violation(round, `after the restart the counted files hold ${view.countedBytes} bytes > ${DISK} + ${SLACK}`);
  for (const e of durable.values()) {
    if (e.varies || classOf(e.id) !== 'a' || purged.has(e.id)) continue;
    fig.durableChecks++;
    const a = await checkGet(round, n, e.id, { 'cache-control': 'only-if-cached' });
    if (!a) continue;
    if (a.status === 504) violation(round, `${pathOf(e.id)}: its index line had landed before the kill, but it is gone after the restart`);
    else if (verify(round, e.id, a) && a.etag !== e.etag) violation(round, `${pathOf(e.id)}: served ETag ${a.etag}, the landed line says ${e.etag}`);
  }
  for (const [id, p] of purged) {
    const a = await checkGet(round, n, id);
    if (!a) continue;
    verify(round, id, a);
    if (p.acked) {
      fig.purgeChecks++;
      if (!a.cacheStatus.includes('fwd=uri-miss')) violation(round, `${pathOf(id)}: purge acknowledged before the kill, then served with Cache-Status ${a.cacheStatus}`);
    }
  }
  purged.clear();
  const d = await diskStats(n);
  for (const k of ['corrupt', 'ioErrors', 'writeErrors']) if (d[k] !== 0) violation(round, `/stats disk ${k} = ${String(d[k])} after the restart`);
}

async function main(): Promise<void> {
  installCleanup();
  const server = http.createServer(origin.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const originUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const made = mkdtempSync(join(tmpdir(), 'strata-crash-'));
  const work = opt.keep ? made : trackDir(made);
  const cacheDir = join(work, 'cache');
  process.env['BENCH_LOG_LEVEL'] = 'warn';
  process.env['BENCH_LOG_FILE'] = join(work, 'strata.log');
  console.log(`crash soak: ${ROUNDS} rounds, seed ${opt.seed}, disk ${DISK} bytes (+${SLACK} slack), ${CONCURRENCY} clients; ${work}`);
  let n = await startNode(cacheDir, originUrl);
  for (let round = 1; round <= ROUNDS; round++) {
    let killedFlag = false;
    const runMs = 200 + pick(2800);
    const until = Date.now() + runMs;
    const clients = Array.from({ length: CONCURRENCY }, async () => {
      while (!killedFlag && Date.now() < until + 5_000) await oneOp(round, n, () => killedFlag);
    });
    await new Promise((r) => setTimeout(r, runMs));
    killedFlag = true;
    await n.child.kill('SIGKILL');
    await Promise.all(clients);
    await n.agent.destroy();
    const atKill = viewDir(cacheDir);
    fig.tmpAtKill += atKill.tmpFiles.length;
    fig.maxCountedBytes = Math.max(fig.maxCountedBytes, atKill.countedBytes);
    if (atKill.countedBytes > DISK + SLACK) violation(round, `at the kill the counted files held ${atKill.countedBytes} bytes > ${DISK} + ${SLACK}`);
    const durable = durableEntries(cacheDir);
    n = await startNode(cacheDir, originUrl);
    await afterRestart(round, n, cacheDir, durable);
    fig.rounds++;
    console.log(`round ${round}: ran ${runMs} ms; ${durable.size} landed entries; ${fig.requests} requests so far; ${violations.length} violations`);
  }
  await n.agent.close();
  await n.child.stop();
  server.close();
  console.log(`\ncrash soak summary: ${JSON.stringify({ ...fig, originRequests: origin.requests, origin304: origin.notModified, violations: violations.length })}`);
  for (const v of violations.slice(0, 50)) console.log(`- ${v}`);
  if (opt.keep) console.log(`kept: ${work}`);
  else removeDir(work);
  if (violations.length) process.exitCode = 1;
}

await main();
