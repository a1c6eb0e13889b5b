// Cluster scenario (issue 10): a 3-node Strata cluster in front of one counting
// origin, all in this process on loopback.
//
//   npm run bench:cluster              10,000 objects; 30,000 uniform and 60,000 Zipf requests
//   npm run bench:cluster -- --quick   2,000 objects; 6,000 and 12,000 requests
//   npm run bench:cluster -- --only kill   one part (uniform, zipf, kill or hits); no results file
//
// Figures:
// - origin offload, uniform: origin requests per object over a run asking each
//   object on random nodes (target 1.00);
// - origin offload, Zipf(s = 1): the same over a Zipf-distributed request stream;
//   and again on a fresh cluster whose third node is stopped halfway (target ≤ 1.01);
// - hit through a non-owner (its edge copy in memory, fetched through the owner) vs a
//   local hit on the owner: requests/s of each at BENCH_CONNECTIONS connections, the
//   sides alternated in five rounds (target ≥ 0.95×); and the hit on the owner's
//   successor (the copy cluster.successorCopy left there), reported;
// - first hit through the owner (its disk, then the hop; the edge keeps no copy
//   because the body is above memory's per-object limit) vs a local disk hit: mean
//   latency of each, sequential (reported).
// Writes bench/results/cluster-latest.json.

import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { primaryKey } from '../../src/cache/key.js';
import { rank } from '../../src/cluster/ownership.js';
import { loadConfig } from '../../src/config/load.js';
import { createNode, type StrataNode } from '../../src/node.js';
import { freePort } from '../../test/fixtures/ports.js';

const quick = process.argv.includes('--quick');
/** --only uniform|zipf|kill|hits: one part of the scenario (while working on it). */
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt > 0 ? process.argv[onlyAt + 1] : undefined;
const runs = (part: string) => only === undefined || only === part;
const OBJECTS = quick ? 2_000 : 10_000;
const UNIFORM_REQUESTS = OBJECTS * 3;
const ZIPF_REQUESTS = OBJECTS * 6;
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 50);
const HIT_S = quick ? 2 : 10;
const HOST = 'cdn.example';
const IDS = ['bench-a', 'bench-b', 'bench-c'];
const SMALL = 1024;
const LARGE = 64 * 1024;


interface Cluster {
  nodes: (StrataNode | undefined)[];
  /** Taken out of the clients' rotation (as a load balancer would) before it stops. */
  dead: boolean[];
  urls: string[];
  originCount: Map<string, number>;
  originTotal(): number;
  stop(i: number): Promise<void>;
  close(): Promise<void>;
}

async function startCluster(): Promise<Cluster> {
  const originCount = new Map<string, number>();
  const small = Buffer.alloc(SMALL, 'x');
  const large = Buffer.alloc(LARGE, 'y');
  const origin = http.createServer((req, res) => {
    originCount.set(req.url!, (originCount.get(req.url!) ?? 0) + 1);
    const body = req.url!.startsWith('/large/') ? large : small;
    res.writeHead(200, { 'content-length': body.length, 'cache-control': 'max-age=3600' });
    res.end(body);
  });
  origin.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  const ports = await Promise.all(IDS.flatMap(() => [freePort(), freePort()]));
  const dirs = IDS.map((id) => mkdtempSync(join(process.env['BENCH_CACHE_DIR'] ?? tmpdir(), `strata-bench-${id}-`)));
  const nodes: (StrataNode | undefined)[] = IDS.map((id, i) => {
    const argv = [
      '--origin', originUrl,
      '--node-id', id,
      '--listen', `127.0.0.1:${ports[2 * i]}`,
      '--admin-listen', `127.0.0.1:${ports[2 * i + 1]}`,
      '--cache-dir', dirs[i]!,
      '--log-level', 'warn',
      // Large bench objects stay on disk only (and the edges keep no copy of them).
      '--memory-max-object', `${LARGE / 2}`,
      '--cluster-health-check-interval-ms', '200ms',
      // BENCH_NODE_ARGS: more flags for every node (an A/B run, e.g. --no-cluster-successor-copy).
      ...(process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== ''),
      ...IDS.flatMap((pid, j) => ['--peer', `${pid}=http://127.0.0.1:${ports[2 * j]}@${ports[2 * j + 1]}`]),
    ];
    return createNode(loadConfig({ argv, env: { STRATA_CLUSTER_SECRET: 'bench' }, readFile: () => '', hostname: id }));
  });
  await Promise.all(nodes.map((n) => n!.start()));
  // Every node has seen the other two answer.
  for (const n of nodes) {
    const m = n!.cluster()!.membership;
    while (m.peers().filter((p) => m.usable(p)).length < 2) await new Promise((r) => setTimeout(r, 20));
  }
  const dead = IDS.map(() => false);
  return {
    nodes,
    dead,
    urls: IDS.map((_, i) => `http://127.0.0.1:${ports[2 * i]}`),
    originCount,
    originTotal: () => [...originCount.values()].reduce((a, b) => a + b, 0),
    async stop(i) {
      dead[i] = true;
      await nodes[i]?.stop();
      nodes[i] = undefined;
    },
    async close() {
      await Promise.all(nodes.map((n) => n?.stop()));
      await new Promise<void>((r) => origin.close(() => r()));
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

const agent = new Agent({ connections: CONNECTIONS * 2, keepAliveTimeout: 30_000 });

async function get(url: string): Promise<number> {
  const res = await request(url, { headers: { host: HOST }, dispatcher: agent });
  await res.body.dump();
  return res.statusCode;
}

/** What a run's clients saw go wrong. */
interface Failures {
  /** Requests that failed although the node they were sent to stayed up: the figure that must be 0. */
  failures: number;
  /** Requests in flight on the node that was stopped (sent to it before it left the rotation): allowed. */
  inFlightOnDeadNode: number;
  /** Up to ten of the counted failures, for the log. */
  samples: string[];
}

/** Run `requests` (node index, path) with CONNECTIONS in flight. */
async function drive(c: Cluster, work: { node: number; path: string }[], onHalf?: () => Promise<void>): Promise<Failures> {
  let next = 0;
  const out: Failures = { failures: 0, inFlightOnDeadNode: 0, samples: [] };
  let halved = false;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < work.length) {
        const w = work[next++]!;
        if (!halved && onHalf && next >= work.length / 2) {
          halved = true;
          // Not awaited: traffic goes on while the node stops.
          void onHalf();
        }
        const to = c.dead[w.node] ? (w.node + 1) % 3 : w.node;
        const r = await getDetailed(c.urls[to]! + w.path);
        if (r.status === 200) continue;
        // Sent to a node that was then stopped (it left the rotation first, so this
        // request was in flight on it): the one kind of failure the issue allows.
        if (c.dead[to]) {
          out.inFlightOnDeadNode++;
          continue;
        }
        out.failures++;
        if (out.samples.length < 10) out.samples.push(`${IDS[to]} ${w.path}: ${r.status || r.error} ${r.cacheStatus ?? ''}`);
      }
    }),
  );
  return out;
}

async function getDetailed(url: string): Promise<{ status: number; error?: string; cacheStatus?: string }> {
  try {
    const res = await request(url, { headers: { host: HOST }, dispatcher: agent });
    await res.body.dump();
    const cs = res.headers['cache-status'];
    return { status: res.statusCode, ...(cs === undefined ? {} : { cacheStatus: String(cs) }) };
  } catch (err) {
    return { status: 0, error: (err as { code?: string }).code ?? (err as Error).message };
  }
}

function zipfSampler(n: number, s: number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 1; k <= n; k++) cdf[k - 1] = sum += 1 / k ** s;
  return () => {
    const u = Math.random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

async function offload(name: string, pick: () => number, requests: number, killHalfway: boolean): Promise<Record<string, number | string>> {
  const c = await startCluster();
  try {
    const work = Array.from({ length: requests }, () => ({ node: Math.floor(Math.random() * 3), path: `/obj/${pick()}` }));
    const distinct = new Set(work.map((w) => w.path)).size;
    const started = performance.now();
    const cpu0 = process.cpuUsage();
    const f = await drive(c, work, killHalfway ? () => c.stop(2) : undefined);
    const s = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const perObject = c.originTotal() / distinct;
    for (const line of f.samples) process.stderr.write(`bench:cluster: ${name}: failed: ${line}\n`);
    return {
      scenario: name,
      requests,
      distinctObjects: distinct,
      originRequests: c.originTotal(),
      originRequestsPerObject: Number(perObject.toFixed(4)),
      clientFailures: f.failures,
      inFlightOnStoppedNode: f.inFlightOnDeadNode,
      seconds: Number(s.toFixed(1)),
      // The whole process (clients, origin, three nodes): CPU per request, steadier than seconds on a shared machine.
      cpuUsPerRequest: Math.round((cpu.user + cpu.system) / requests),
    };
  } finally {
    await c.close();
  }
}

/** Requests per second for CONNECTIONS loops on `url` for `seconds`. */
async function rate(url: string, seconds: number): Promise<number> {
  let n = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        await get(url);
        n++;
      }
    }),
  );
  return n / seconds;
}

async function meanMs(urls: string[]): Promise<number> {
  const t = performance.now();
  for (const u of urls) await get(u);
  return (performance.now() - t) / urls.length;
}

async function hits(): Promise<Record<string, number | string>> {
  const c = await startCluster();
  try {
    const ranked = (p: string) => rank(primaryKey('http', HOST, p), IDS.map((id) => ({ id }))).map((m) => IDS.indexOf(m.id));
    const ownerOf = (p: string) => ranked(p)[0]!;
    // Memory hits: one small object, asked on its owner (local hit) and on the third node in
    // its ownership order, whose edge copy came through the owner (the second, the owner's
    // successor, got its copy from the origin when the owner fetched it: cluster.successorCopy).
    const p = '/obj/hot';
    const [owner, next, edge] = ranked(p) as [number, number, number];
    await get(c.urls[owner]! + p);
    await get(c.urls[edge]! + p);
    await rate(c.urls[owner]! + p, 1);
    await rate(c.urls[edge]! + p, 1);
    // Sides alternated in short rounds, so a neighbour's load or a GC phase falls on both.
    const rounds = quick ? 2 : 5;
    const locals: number[] = [];
    const edges: number[] = [];
    for (let r = 0; r < rounds; r++) {
      locals.push(await rate(c.urls[owner]! + p, HIT_S / rounds));
      edges.push(await rate(c.urls[edge]! + p, HIT_S / rounds));
    }
    const local = locals.reduce((a, b) => a + b, 0) / rounds;
    const viaEdge = edges.reduce((a, b) => a + b, 0) / rounds;
    const viaNext = await rate(c.urls[next]! + p, HIT_S / rounds);
    // Disk hits: large objects (disk only), each first asked on its owner, then measured
    // locally on the owner and through a non-owner (the owner's disk hit plus the hop).
    const large = Array.from({ length: quick ? 200 : 1000 }, (_, i) => `/large/${i}`);
    for (const l of large) await get(c.urls[ownerOf(l)]! + l);
    for (const n of c.nodes) await n!.store().flush();
    const localDisk = await meanMs(large.map((l) => c.urls[ownerOf(l)]! + l));
    // The successor keeps no copy of these (above memory's per-object limit): it asks the owner.
    const throughOwner = await meanMs(large.map((l) => c.urls[ranked(l)[1]!]! + l));
    return {
      hitLocalRps: Math.round(local),
      hitViaEdgeCopyRps: Math.round(viaEdge),
      edgeCopyVsLocal: Number((viaEdge / local).toFixed(3)),
      edgeCopyVsLocalEachRound: edges.map((e, i) => Number((e / locals[i]!).toFixed(3))).join(' '),
      hitOnSuccessorCopyRps: Math.round(viaNext),
      diskHitLocalMeanMs: Number(localDisk.toFixed(3)),
      firstHitThroughOwnerMeanMs: Number(throughOwner.toFixed(3)),
      throughOwnerVsLocalDisk: Number((throughOwner / localDisk).toFixed(2)),
    };
  } finally {
    await c.close();
  }
}

async function main(): Promise<void> {
  const uniform = () => Math.floor(Math.random() * OBJECTS);
  const zipf = zipfSampler(OBJECTS, 1);
  const results = [];
  if (runs('uniform')) results.push(await offload('uniform', uniform, UNIFORM_REQUESTS, false));
  if (runs('zipf')) results.push(await offload('zipf s=1', zipf, ZIPF_REQUESTS, false));
  if (runs('kill')) results.push(await offload('zipf s=1, a node killed halfway', zipf, ZIPF_REQUESTS, true));
  for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
  const h = runs('hits') ? await hits() : {};
  process.stdout.write(`${JSON.stringify(h)}\n`);
  const dir = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  if (only === undefined) writeFileSync(join(dir, 'cluster-latest.json'), JSON.stringify({ at: new Date().toISOString(), quick, objects: OBJECTS, connections: CONNECTIONS, offload: results, hits: h }, null, 2) + '\n');
  await agent.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:cluster: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
