// The TLS baseline: a bare node:http2 secure server (HTTP/2, and HTTP/1.1 through
// allowHTTP1) answering every request with the same bytes and fields as
// bare-server.ts — what Strata's TLS listener is compared with (tls.ts).
//
//   node dist/bench/load/bare-tls-server.js <body size> <cert file> <key file>
//
// Listens on 127.0.0.1 (ephemeral port) and prints {"port":N} on stdout.

import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { onShutdown, parseSize } from './child-life.js';

const size = parseSize(process.argv[2] ?? '1024');
const body = Buffer.alloc(size, 'strata-bench ');
const headers = { 'content-type': 'application/octet-stream', 'content-length': String(size), 'cache-control': 'max-age=60' };

const server = http2.createSecureServer({ cert: readFileSync(process.argv[3]!), key: readFileSync(process.argv[4]!), allowHTTP1: true }, (req, res) => {
  res.writeHead(200, headers);
  if (req.method === 'HEAD') res.end();
  else res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port, size, pid: process.pid }) + '\n');
});
onShutdown(() => new Promise<void>((resolve) => server.close(() => resolve())));
