// A bare node:http server answering every request with the same bytes: the
// baseline Strata is compared with, and the origin Strata fetches from.
//
//   node dist/bench/load/bare-server.js <body size> [port] [cache-control]
//
// Listens on 127.0.0.1 (port 0 = ephemeral) and prints {"port":N} on stdout.
// With a cache-control argument the response carries it and an ETag, and a
// conditional request is never answered (held until shutdown): as an origin, it
// keeps Strata's entry stale with exactly one revalidation in flight.

import http from 'node:http';
import { serveUntilShutdown, parseSize } from './child-life.js';

const size = parseSize(process.argv[2] ?? '1024');
const port = Number(process.argv[3] ?? '0');
const cacheControl = process.argv[4];
const body = Buffer.alloc(size, 'strata-bench ');
const headers: Record<string, string> = {
  'content-type': 'application/octet-stream',
  'content-length': String(size),
  'cache-control': cacheControl ?? 'max-age=60',
  ...(cacheControl ? { etag: '"bench"' } : {}),
};

const server = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  if (cacheControl && req.headers['if-none-match']) return;
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
});

serveUntilShutdown(server, port, { size });
