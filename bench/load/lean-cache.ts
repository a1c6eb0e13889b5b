// The least a caching proxy does on a miss, as a yardstick for Strata's miss path (not
// a baseline the targets name: that is bare-proxy.ts). node:http server + undici Pool
// (proxy-child.ts, as bare-proxy.ts), the origin's body passed on chunk by chunk and
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

import type http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { serveUntilShutdown } from './child-life.js';
import type { LeanWrite } from './lean-writer.js';
import { endToEnd, proxyChild, proxyServer } from './proxy-child.js';

const { port, cfg, pool } = proxyChild('lean-cache');
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

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const key = req.url ?? '/';
  const hit = cache.get(key);
  if (hit) {
    res.writeHead(hit.status, hit.headers);
    res.end(hit.body);
    return;
  }
  pool.request({ method: 'GET', path: key, headers: endToEnd(req.headers) }).then(
    (up) => {
      const headers = endToEnd(up.headers);
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

serveUntilShutdown(proxyServer(cfg, handle), port, { disk: writer !== undefined });
