// The load generator: wrk (pinned to its own CPU) when installed, else autocannon
// in this process. Both are driven the same way: keep-alive, one thread, N
// connections, a fixed duration, either one fixed URL, a new URL per request
// (a counter in the path, for misses) or one of N URLs at random.

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { hasCommand, pinned, track } from './children.js';

export interface LoadOptions {
  /** Base URL, e.g. http://127.0.0.1:1234/hit */
  url: string;
  durationS: number;
  connections: number;
  /** When set, every request goes to `${url}/${uniquePrefix}/${counter}` (never repeated). */
  uniquePrefix?: string;
  /** When set, every request goes to `${url}/${k}` for a random k in 1..spreadPaths (the same sequence on both sides). */
  spreadPaths?: number;
  /** When set, every request asks for one random aligned range `chunkBytes` long of a `totalBytes` body. */
  randomRange?: { chunkBytes: number; totalBytes: number };
  /** Per-request timeout (default 5 s). */
  timeoutS?: number;
  /** Request fields sent with every request (e.g. Accept-Encoding). */
  headers?: Record<string, string>;
}

export interface LoadResult {
  tool: 'wrk' | 'autocannon';
  requests: number;
  durationS: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  bytes: number;
  /** Socket errors and timeouts. */
  errors: number;
  /** Responses with a status other than 2xx/3xx. */
  badStatus: number;
}

export interface Generator {
  name: 'wrk' | 'autocannon';
  run(opts: LoadOptions): Promise<LoadResult>;
}

export function pickGenerator(opts: { scratchDir: string; cpu: number | undefined; force?: string }): Generator {
  const want = opts.force ?? (hasCommand('wrk') ? 'wrk' : 'autocannon');
  if (want === 'wrk') return wrkGenerator(opts.scratchDir, opts.cpu);
  if (want === 'autocannon') return autocannonGenerator();
  throw new Error(`unknown load generator ${JSON.stringify(want)} (wrk or autocannon)`);
}

// ---------------------------------------------------------------------------
// wrk

/** wrk prints this line from the script's done(); exact microsecond figures. */
const DONE_LUA = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\\"requests\\":%d,\\"duration_us\\":%d,\\"bytes\\":%d,\\"p50_us\\":%d,\\"p99_us\\":%d,\\"mean_us\\":%.3f,\\"max_us\\":%d,\\"connect\\":%d,\\"read\\":%d,\\"write\\":%d,\\"status\\":%d,\\"timeout\\":%d}\\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
`;

function uniqueLua(path: string): string {
  // One wrk thread (-t1) means one Lua state, so the counter never repeats.
  return `
local n = 0
local prefix = ${JSON.stringify(path)}
request = function()
  n = n + 1
  return wrk.format("GET", prefix .. n)
end
${DONE_LUA}`;
}

function spreadLua(path: string, n: number): string {
  // A fixed seed: both sides of a scenario ask for the same sequence of paths.
  return `
local prefix = ${JSON.stringify(path)}
math.randomseed(7)
request = function()
  return wrk.format("GET", prefix .. math.random(1, ${n}))
end
${DONE_LUA}`;
}

function rangeLua(chunkBytes: number, totalBytes: number): string {
  // A fixed seed: both sides of a scenario ask for the same sequence of ranges.
  return `
local chunk = ${chunkBytes}
local chunks = ${Math.floor(totalBytes / chunkBytes)}
math.randomseed(42)
request = function()
  local k = math.random(0, chunks - 1)
  return wrk.format("GET", nil, { ["Range"] = string.format("bytes=%d-%d", k * chunk, (k + 1) * chunk - 1) })
end
${DONE_LUA}`;
}

function wrkGenerator(scratchDir: string, cpu: number | undefined): Generator {
  const fixedScript = join(scratchDir, 'fixed.lua');
  writeFileSync(fixedScript, DONE_LUA);
  let scripts = 0;
  return {
    name: 'wrk',
    async run(o) {
      let script = fixedScript;
      let url = o.url;
      if (o.uniquePrefix !== undefined) {
        const u = new URL(o.url);
        script = join(scratchDir, `unique-${++scripts}.lua`);
        writeFileSync(script, uniqueLua(`${u.pathname.replace(/\/$/, '')}/${o.uniquePrefix}/`));
        url = u.origin + '/';
      } else if (o.spreadPaths !== undefined) {
        const u = new URL(o.url);
        script = join(scratchDir, `spread-${++scripts}.lua`);
        writeFileSync(script, spreadLua(`${u.pathname.replace(/\/$/, '')}/`, o.spreadPaths));
        url = u.origin + '/';
      } else if (o.randomRange) {
        script = join(scratchDir, `range-${++scripts}.lua`);
        writeFileSync(script, rangeLua(o.randomRange.chunkBytes, o.randomRange.totalBytes));
      }
      // Why "Host" spelled so: wrk.format() adds its own Host unless headers["Host"] is set, and
      // "-H host: x" set headers["host"], so every request carried two Host fields and was
      // answered 400 (the disk-hit rows measured 400s on both sides until this).
      const fields = Object.entries(o.headers ?? {}).flatMap(([k, v]) => ['-H', `${k.toLowerCase() === 'host' ? 'Host' : k}: ${v}`]);
      const args = ['-t1', `-c${o.connections}`, `-d${o.durationS}s`, '--latency', '--timeout', `${o.timeoutS ?? 5}s`, ...fields, '-s', script, url];
      const [cmd, cmdArgs] = pinned(cpu, 'wrk', args);
      const out = await capture(cmd, cmdArgs);
      return parseWrk(out);
    },
  };
}

function capture(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.once('error', (e) => reject(new Error(`${cmd}: ${e.message}`)));
    child.once('exit', (code, sig) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (code ${code}, signal ${sig}):\n${err}${out}`));
    });
  });
}

/** wrk duration strings: 512.00us, 1.23ms, 2.00s, 1.50m */
function wrkTimeMs(s: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

export function parseWrk(out: string): LoadResult {
  const json = /^BENCH_JSON (\{.*\})$/m.exec(out);
  if (json) {
    const j = JSON.parse(json[1]!) as Record<string, number>;
    const durationS = j['duration_us']! / 1e6;
    return {
      tool: 'wrk',
      requests: j['requests']!,
      durationS,
      rps: j['requests']! / durationS,
      p50Ms: j['p50_us']! / 1000,
      p99Ms: j['p99_us']! / 1000,
      meanMs: j['mean_us']! / 1000,
      maxMs: j['max_us']! / 1000,
      bytes: j['bytes']!,
      errors: j['connect']! + j['read']! + j['write']! + j['timeout']!,
      badStatus: j['status']!,
    };
  }
  // Fallback: the text report of --latency.
  const num = (re: RegExp) => {
    const m = re.exec(out);
    return m ? m[1]! : undefined;
  };
  const rps = Number(num(/Requests\/sec:\s+([\d.]+)/));
  const p50 = wrkTimeMs(num(/^\s+50%\s+(\S+)/m) ?? '');
  const p99 = wrkTimeMs(num(/^\s+99%\s+(\S+)/m) ?? '');
  const reqLine = /(\d+) requests in ([\d.]+\w+),/.exec(out);
  if (!Number.isFinite(rps) || Number.isNaN(p50) || Number.isNaN(p99) || !reqLine) throw new Error(`could not parse wrk output:\n${out}`);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(num(/Non-2xx or 3xx responses: (\d+)/) ?? 0);
  return {
    tool: 'wrk',
    requests: Number(reqLine[1]),
    durationS: wrkTimeMs(reqLine[2]!) / 1000,
    rps,
    p50Ms: p50,
    p99Ms: p99,
    meanMs: wrkTimeMs(num(/^\s+Latency\s+(\S+)/m) ?? '') || NaN,
    maxMs: NaN,
    bytes: NaN,
    errors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    badStatus: non2xx,
  };
}

// ---------------------------------------------------------------------------
// autocannon (fallback; runs in this process, which the runner pins to the load CPU)

interface AutocannonHistogram {
  average: number;
  p50: number;
  p99: number;
  max: number;
  total?: number;
}
interface AutocannonResult {
  requests: AutocannonHistogram & { total: number };
  latency: AutocannonHistogram;
  throughput: AutocannonHistogram & { total: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}
interface AutocannonRequest {
  setupRequest?: (req: { path: string; method?: string; headers?: Record<string, string> }) => { path: string; method?: string; headers?: Record<string, string> };
}
type Autocannon = (opts: {
  url: string;
  connections: number;
  duration: number;
  pipelining: number;
  timeout?: number;
  headers?: Record<string, string>;
  requests?: AutocannonRequest[];
}) => Promise<AutocannonResult>;

function autocannonGenerator(): Generator {
  // autocannon is CommonJS without type declarations; required lazily, only when wrk is absent.
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  return {
    name: 'autocannon',
    async run(o) {
      const u = new URL(o.url);
      let n = 0;
      const prefix = `${u.pathname.replace(/\/$/, '')}/${o.uniquePrefix ?? ''}/`;
      const r = await autocannon({
        url: o.uniquePrefix !== undefined ? u.origin + '/' : o.url,
        connections: o.connections,
        duration: o.durationS,
        pipelining: 1,
        timeout: o.timeoutS ?? 5,
        ...(o.headers ? { headers: o.headers } : {}),
        ...(o.randomRange
          ? {
              requests: [
                {
                  setupRequest: (req) => {
                    const { chunkBytes, totalBytes } = o.randomRange!;
                    const k = Math.floor(Math.random() * Math.floor(totalBytes / chunkBytes));
                    req.headers = { ...req.headers, range: `bytes=${k * chunkBytes}-${(k + 1) * chunkBytes - 1}` };
                    return req;
                  },
                },
              ],
            }
          : {}),
        ...(o.spreadPaths !== undefined
          ? {
              requests: [
                {
                  setupRequest: (req) => {
                    req.path = `${u.pathname.replace(/\/$/, '')}/${1 + Math.floor(Math.random() * o.spreadPaths!)}`;
                    return req;
                  },
                },
              ],
            }
          : {}),
        ...(o.uniquePrefix !== undefined
          ? {
              requests: [
                {
                  setupRequest: (req) => {
                    req.path = prefix + ++n;
                    return req;
                  },
                },
              ],
            }
          : {}),
      });
      return {
        tool: 'autocannon',
        requests: r.requests.total,
        durationS: r.duration,
        rps: r.requests.total / r.duration,
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        meanMs: r.latency.average,
        maxMs: r.latency.max,
        bytes: r.throughput.total,
        errors: r.errors,
        badStatus: r.non2xx,
      };
    },
  };
}
