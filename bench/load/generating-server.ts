// An origin generating a large body on the fly (never held whole, never on disk):
// <size> bytes of a repeated 1 MiB pattern, written with backpressure, marked
// `no-store` so Strata passes it through.
//
//   node dist/bench/load/generating-server.js <size in bytes> [port]
//
// Listens on 127.0.0.1 (port 0 = ephemeral) and prints {"port":N} on stdout.

import http from 'node:http';
import { serveUntilShutdown } from './child-life.js';
import { generate } from '../../test/fixtures/large-body.js';

const size = Number(process.argv[2]);
if (!Number.isSafeInteger(size) || size < 0) {
  process.stderr.write('usage: generating-server <size in bytes> [port]\n');
  process.exit(2);
}
const port = Number(process.argv[3] ?? '0');

const server = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(size), 'cache-control': 'no-store' });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  void generate(res, size);
});

serveUntilShutdown(server, port, { size });
