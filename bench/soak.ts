// Soak: one Strata node (a child process, production defaults but a 64 MiB memory
// tier and a 256 MiB disk tier so eviction is exercised) under a mixed load for a
// long time — hits, misses, purges, ranges of sliced objects, passed-through
// responses, and slow clients (slow readers, readers that stop until the send
// timeout cuts them, trickled uploads). Every sample interval it records the
// node's RSS and open file descriptors (/proc/<pid>/status, /proc/<pid>/fd), the
// cache directory's disk usage (allocated blocks), the event-loop lag the node
// reports in /metrics (prom-client's monitorEventLoopDelay: p99 and max since the
// previous scrape) and the requests done; then prints a table and a verdict:
// flat when, after the first third (warm-up: tiers filling), no figure keeps
// growing.
//
//   npm run soak                                   # 30 minutes, a sample a minute
//   SOAK_MINUTES=2 SOAK_SAMPLE_S=15 npm run soak   # a short check
// Env: SOAK_MINUTES (30), SOAK_SAMPLE_S (60), SOAK_CONCURRENCY (16), SOAK_SLOW (4: slow clients at a time).

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { installCleanup, removeDir, scriptPath, startServer, trackDir } from './load/children.js';

const MINUTES = Number(process.env['SOAK_MINUTES'] ?? 30);
const SAMPLE_S = Number(process.env['SOAK_SAMPLE_S'] ?? 60);
const CONCURRENCY = Number(process.env['SOAK_CONCURRENCY'] ?? 16);
const SLOW = Number(process.env['SOAK_SLOW'] ?? 4);
const TOKEN = 'soak-token';
const KiB = 1024;
const MiB = 1024 * KiB;

// --- The origin (in this process) ----------------------------------------------

function bytesFor(seed: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4) b.writeUInt32LE((Math.imul(i + 1, 2654435761) ^ seed) >>> 0, Math.min(i, size - 4));
  return b;
}
const VIDEO = bytesFor(7, 24 * MiB);
const PAGES = new Map<number, Buffer>();
const page = (size: number) => PAGES.get(size) ?? (PAGES.set(size, bytesFor(size, size)), PAGES.get(size)!);

function origin(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  req.resume();
  if (url.startsWith('/video/')) {
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const h = { 'cache-control': 'max-age=3600', etag: `"${url}"`, 'accept-ranges': 'bytes', 'content-type': 'video/mp4' };
    if (m) {
      const start = Number(m[1]);
      const end = Math.min(m[2] ? Number(m[2]) : VIDEO.length - 1, VIDEO.length - 1);
      res.writeHead(206, { ...h, 'content-range': `bytes ${start}-${end}/${VIDEO.length}`, 'content-length': end - start + 1 });
      return void res.end(VIDEO.subarray(start, end + 1));
    }
    res.writeHead(200, { ...h, 'content-length': VIDEO.length });
    return void res.end(VIDEO);
  }
  if (url.startsWith('/pass/')) {
    // A stopped reader's answer must outgrow the loopback socket buffers (~10 MiB both ends) for the send timeout to matter.
    const size = url.includes('big') ? 32 * MiB : 256 * KiB;
    res.writeHead(200, { 'cache-control': 'no-store', 'content-length': size });
    return void res.end(page(size));
  }
  if (req.method === 'POST') {
    res.writeHead(200, { 'content-length': 2 });
    return void res.end('ok');
  }
  const size = url.startsWith('/hot/') ? (16 + (url.length % 4) * 16) * KiB : 16 * KiB;
  res.writeHead(200, { 'cache-control': url.startsWith('/hot/') ? 'max-age=3600' : 'max-age=600', 'content-length': size, 'content-type': 'text/plain' });
  res.end(page(size));
}

// --- The load ------------------------------------------------------------------

interface Tally {
  requests: number;
  errors: number;
  slowCut: number;
}

const rand = (n: number) => Math.floor(Math.random() * n);

async function oneRequest(base: string, admin: string, agent: Agent, cold: { n: number }, t: Tally): Promise<void> {
  const r = rand(100);
  let url: string;
  let headers: Record<string, string> = {};
  let method: 'GET' | 'POST' = 'GET';
  let body: string | undefined;
  if (r < 50) url = `${base}/hot/${rand(400)}`;
  else if (r < 70) url = `${base}/cold/${cold.n++}`;
  else if (r < 82) {
    url = `${base}/video/${rand(4)}`;
    const start = rand(VIDEO.length - 1);
    headers = { range: `bytes=${start}-${Math.min(VIDEO.length - 1, start + rand(2 * MiB))}` };
  } else if (r < 92) url = `${base}/pass/${rand(1000)}`;
  else if (r < 95) {
    url = `${admin}/purge`;
    method = 'POST';
    headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    body = JSON.stringify({ urls: [`${base}/hot/${rand(400)}`] });
  } else {
    url = `${base}/form/${rand(100)}`;
    method = 'POST';
    body = 'x'.repeat(rand(64 * KiB));
  }
  t.requests++;
  try {
    const res = await request(url, { method, headers, body, dispatcher: agent });
    await res.body.dump({ limit: 64 * MiB });
    if (res.statusCode >= 500) t.errors++;
  } catch {
    t.errors++;
  }
}

/** A slow client: a slow reader, a reader that stops (cut by the node's send timeout), or a trickled upload. */
function slowClient(port: number, t: Tally, endAt: number): Promise<void> {
  const kind = rand(3);
  return new Promise<void>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let ours = false;
    const done = () => {
      clearInterval(tick);
      clearTimeout(cap);
      ours = true;
      s.destroy();
      resolve();
    };
    s.on('error', done);
    s.on('close', () => {
      // Cut by the node, not closed here at the cap or the end of the run.
      if (kind === 1 && !ours) t.slowCut++;
      done();
    });
    // Nothing outlives 90 s (the node's send timeout is 60 s), nor the run.
    const cap = setTimeout(done, Math.max(1_000, Math.min(90_000, endAt - Date.now())));
    let tick: NodeJS.Timeout | undefined;
    if (kind === 2) {
      s.write(`POST /upload/${rand(100)} HTTP/1.1\r\nHost: soak\r\nContent-Length: 4096\r\nConnection: close\r\n\r\n`);
      let sent = 0;
      tick = setInterval(() => {
        s.write('u'.repeat(256));
        sent += 256;
        if (sent >= 4096) clearInterval(tick);
      }, 500);
      s.resume();
      return;
    }
    s.write(`GET /pass/big-${rand(1000)} HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n`);
    if (kind === 1) {
      s.once('data', () => s.pause());
      return;
    }
    // 64 KiB a second, then done after 10 s.
    s.pause();
    tick = setInterval(() => {
      let n = 0;
      while (n < 64 * KiB) {
        const c = s.read() as Buffer | null;
        if (!c) break;
        n += c.length;
      }
    }, 1000);
    setTimeout(done, 10_000);
  });
}

// --- Sampling ------------------------------------------------------------------

function procField(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function diskBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    // The node renames and removes files while this walks (temp files, compaction).
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (st === undefined) continue;
    total += st.blocks * 512;
    if (st.isDirectory()) total += diskBytes(p);
  }
  return total;
}

async function lagMs(admin: string): Promise<{ p99: number; max: number }> {
  const res = await request(`${admin}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const text = await res.body.text();
  const get = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  return { p99: get('nodejs_eventloop_lag_p99_seconds'), max: get('nodejs_eventloop_lag_max_seconds') };
}

interface Sample {
  minute: number;
  rssMiB: number;
  fds: number;
  diskMiB: number;
  lagP99Ms: number;
  lagMaxMs: number;
  requests: number;
  errors: number;
}

/** Least-squares slope of ys against their index. */
function slope(ys: number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, i) => {
    num += (i - mx) * (y - my);
    den += (i - mx) ** 2;
  });
  return num / den;
}

/** Flat: after warm-up, the trend over the rest of the run stays within `tolerance` (absolute) for each figure. */
export function verdict(samples: Sample[]): { flat: boolean; notes: string[] } {
  const rest = samples.slice(Math.floor(samples.length / 3));
  const notes: string[] = [];
  const check = (what: string, ys: number[], tolerance: number) => {
    const growth = slope(ys) * Math.max(1, ys.length - 1);
    const ok = growth <= tolerance;
    notes.push(`${what}: trend ${growth >= 0 ? '+' : ''}${growth.toFixed(1)} over the measured part (tolerance ${tolerance}) ${ok ? 'flat' : 'GROWING'}`);
    return ok;
  };
  const rssBase = rest[0]?.rssMiB ?? 0;
  const flat = [
    check('RSS MiB', rest.map((s) => s.rssMiB), Math.max(32, rssBase * 0.1)),
    check('open fds', rest.map((s) => s.fds), 16),
    check('disk MiB', rest.map((s) => s.diskMiB), 32),
    check('event-loop lag p99 ms', rest.map((s) => s.lagP99Ms), 20),
  ].every(Boolean);
  return { flat, notes };
}

async function main(): Promise<void> {
  installCleanup();
  const server = http.createServer(origin);
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const originUrl = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const cacheDir = trackDir(mkdtempSync(join(tmpdir(), 'strata-soak-')));
  const strata = await startServer('strata', scriptPath('strata-server.js'), ['--origin', originUrl, '--cache-dir', cacheDir, '--admin-token', TOKEN, '--memory-size', '64MiB', '--disk-size', '256MiB']);
  const pid = Number(strata.info['pid']);
  const base = `http://127.0.0.1:${strata.port}`;
  const admin = `http://127.0.0.1:${String(strata.info['admin'])}`;
  const agent = new Agent({ connections: CONCURRENCY * 2, keepAliveTimeout: 4_000 });
  const t: Tally = { requests: 0, errors: 0, slowCut: 0 };
  const cold = { n: 0 };
  const endAt = Date.now() + MINUTES * 60_000;
  const running = () => Date.now() < endAt;
  console.log(`soak: ${MINUTES} min, a sample every ${SAMPLE_S} s, ${CONCURRENCY} workers + ${SLOW} slow clients; node pid ${pid}, cache ${cacheDir}`);

  const workers = Array.from({ length: CONCURRENCY }, async () => {
    while (running()) await oneRequest(base, admin, agent, cold, t);
  });
  const slow = Array.from({ length: SLOW }, async () => {
    while (running()) await slowClient(strata.port, t, endAt);
  });
  const samples: Sample[] = [];
  await lagMs(admin); // resets the lag window
  let last = { requests: 0, errors: 0 };
  for (let i = 1; running(); i++) {
    await new Promise((r) => setTimeout(r, Math.min(SAMPLE_S * 1000, Math.max(0, endAt - Date.now()))));
    const lag = await lagMs(admin);
    const s: Sample = {
      minute: Number(((i * SAMPLE_S) / 60).toFixed(2)),
      rssMiB: Math.round(procField(pid, 'VmRSS') / 1024),
      fds: readdirSync(`/proc/${pid}/fd`).length,
      diskMiB: Math.round(diskBytes(cacheDir) / MiB),
      lagP99Ms: Math.round(lag.p99 * 10) / 10,
      lagMaxMs: Math.round(lag.max * 10) / 10,
      requests: t.requests - last.requests,
      errors: t.errors - last.errors,
    };
    last = { requests: t.requests, errors: t.errors };
    samples.push(s);
    console.log(`soak: ${JSON.stringify(s)}`);
  }
  await Promise.all([...workers, ...slow]);
  const stats = (await (await request(`${admin}/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })).body.json()) as Record<string, unknown>;
  const counters = Object.fromEntries(['requests', 'hits', 'misses', 'bypass', 'stored', 'errors', 'purged', 'sendTimeouts', 'distrusted'].map((k) => [k, stats[k]]));
  await agent.close();
  await strata.stop();
  server.closeAllConnections();
  server.close();
  removeDir(cacheDir);

  console.log('\n| minute | RSS MiB | open fds | disk MiB | lag p99 ms | lag max ms | requests | 5xx/errors |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of samples) console.log(`| ${s.minute} | ${s.rssMiB} | ${s.fds} | ${s.diskMiB} | ${s.lagP99Ms} | ${s.lagMaxMs} | ${s.requests} | ${s.errors} |`);
  const v = verdict(samples);
  console.log(`\nslow clients cut by the send timeout: ${t.slowCut}; node counters: ${JSON.stringify(counters)}`);
  for (const n of v.notes) console.log(`- ${n}`);
  console.log(`\nverdict: ${v.flat ? 'FLAT' : 'NOT FLAT'}${samples.length < 6 ? ' (few samples: a short run says little)' : ''}`);
  if (!v.flat) process.exitCode = 1;
}

await main();
