// An origin generating a large body on the fly (never held whole, never on disk):
// <size> bytes of a repeated 1 MiB pattern, written with backpressure, marked
// `no-store` so Strata passes it through.
//
//   node dist/bench/load/generating-server.js <size in bytes> [port]
//
// Listens on 127.0.0.1 (port 0 = ephemeral) and prints {"port":N} on stdout.

import http, { type ServerResponse } from 'node:http';
import { serveUntilShutdown } from './child-life.js';
import { drainOrClose } from '../../src/pipeline/send-body.js';

const size = Number(process.argv[2]);
if (!Number.isSafeInteger(size) || size < 0) {
  process.stderr.write('usage: generating-server <size in bytes> [port]\n');
  process.exit(2);
}
const port = Number(process.argv[3] ?? '0');
const CHUNK = Buffer.alloc(2 ** 20, 'strata-bench ');


const server = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(size), 'cache-control': 'no-store' });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  void (async () => {
    let left = size;
    while (left > 0 && !res.destroyed) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) await drainOrClose(res);
    }
    res.end();
  })();
});

serveUntilShutdown(server, port, { size });
