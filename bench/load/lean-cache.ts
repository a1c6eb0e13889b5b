// The least a caching proxy does on a miss, as a yardstick for Strata's miss path (not
// a baseline the targets name: that is bare-proxy.ts). node:http server + undici Pool
// (the settings bare-proxy.ts uses), the origin's body passed on chunk by chunk and
// kept: a whole answer goes into a Map (the oldest dropped past Strata's default
// memory size, counting bodies only) and is answered from there next time; unless
// LEAN_DISK=0 it is also written behind to a worker thread (lean-writer.ts), which
// appends the body to one file and a JSON line of its key, status and fields to
// another, one batch per turn of the event loop. Nothing else: no freshness, no Vary,
// no coalescing, no purge indexes, no budget, no integrity, no access log. Where
// Strata costs more, it is one of those or the way it does the rest
// (bench/ab/leanab.sh measures them side by side).
//
//   node dist/bench/load/lean-cache.js <origin URL> [port]     (LEAN_DIR: where the files go; default a temp dir)

import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Pool } from 'undici';
import { defaultConfig } from '../../src/config/defaults.js';
import { serveUntilShutdown } from './child-life.js';
import type { LeanWrite } from './lean-writer.js';

const originArg = process.argv[2];
if (!originArg) {
  process.stderr.write('usage: lean-cache <origin URL> [port]\n');
  process.exit(2);
}
const origin = new URL(originArg);
const port = Number(process.argv[3] ?? '0');
const cfg = defaultConfig(hostname());
const pool = new Pool(origin.origin, {
  connections: cfg.origin.maxConnections,
  connectTimeout: cfg.origin.connectTimeoutMs,
  headersTimeout: cfg.origin.headersTimeoutMs,
  bodyTimeout: cfg.origin.bodyTimeoutMs,
  keepAliveTimeout: 4_000,
});

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'host']);
const MAX_BYTES = cfg.cache.memoryMaxBytes;
let bytes = 0;

interface Entry {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}
const cache = new Map<string, Entry>();

const disk = process.env['LEAN_DISK'] !== '0';
const given = process.env['LEAN_DIR'];
const dir = disk ? (given ?? mkdtempSync(join(tmpdir(), 'lean-cache-'))) : undefined;
if (dir && !given) process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const writer = dir ? new Worker(new URL('./lean-writer.js', import.meta.url), { workerData: { dir } }) : undefined;
writer?.unref();
let pending: LeanWrite[] = [];
let scheduled = false;
function flush(): void {
  scheduled = false;
  const batch = pending;
  pending = [];
  writer!.postMessage(batch);
}

function fields(h: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP.has(k)) out[k] = v;
  return out;
}

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const key = req.url ?? '/';
  const hit = cache.get(key);
  if (hit) {
    res.writeHead(hit.status, hit.headers);
    res.end(hit.body);
    return;
  }
  pool.request({ method: 'GET', path: key, headers: fields(req.headers) }).then(
    (up) => {
      const headers = fields(up.headers);
      res.writeHead(up.statusCode, headers);
      const chunks: Buffer[] = [];
      up.body.on('data', (c: Buffer) => {
        chunks.push(c);
        res.write(c);
      });
      up.body.on('end', () => {
        res.end();
        const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        cache.set(key, { status: up.statusCode, headers, body });
        bytes += body.length;
        while (bytes > MAX_BYTES) {
          const [oldest, e] = cache.entries().next().value!;
          cache.delete(oldest);
          bytes -= e.body.length;
        }
        if (!writer) return;
        pending.push({ line: JSON.stringify({ key, status: up.statusCode, headers, at: Date.now() }), body });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
      up.body.on('error', () => res.destroy());
    },
    () => {
      res.writeHead(502, { 'content-length': '0' });
      res.end();
    },
  );
}

const server = http.createServer({ maxHeaderSize: cfg.limits.maxHeaderBytes, headersTimeout: cfg.limits.requestHeadersTimeoutMs, requestTimeout: 0, keepAliveTimeout: 5_000 }, handle);
serveUntilShutdown(server, port, { disk: writer !== undefined });
