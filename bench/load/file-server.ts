// A bare node:http server streaming one file with fs.createReadStream: the
// baseline for Strata's disk tier, and the origin Strata fills it from. It answers
// a single `Range: bytes=a-b` (the only form the range scenario sends) with 206.
// GET /__sent answers the body bytes sent so far (the seek scenario's measure).
//
//   node dist/bench/load/file-server.js <path> [port] [whole]
//
// `whole`: no Accept-Ranges on 200s, so Strata stores the object whole (on disk)
// rather than in slices — the disk scenarios measure the disk tier itself.
//
// Listens on 127.0.0.1 (port 0 = ephemeral) and prints {"port":N} on stdout.

import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import { pipeline } from 'node:stream';
import { serveUntilShutdown } from './child-life.js';

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: file-server <path> [port]\n');
  process.exit(2);
}
const port = Number(process.argv[3] ?? '0');
const advertiseRanges = process.argv[4] !== 'whole';
const stat = statSync(path);
const size = stat.size;
// Validators as nginx makes them for static files: what lets Strata store slices.
const etag = `"${Math.floor(stat.mtimeMs / 1000).toString(16)}-${size.toString(16)}"`;
const lastModified = stat.mtime.toUTCString();
let sent = 0;

const server = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  if (req.url === '/__sent') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ sent }));
    return;
  }
  let start = 0;
  let end = size - 1;
  let status = 200;
  const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
  if (m && Number(m[1]) <= Number(m[2]) && Number(m[1]) < size) {
    start = Number(m[1]);
    end = Math.min(Number(m[2]), size - 1);
    status = 206;
  }
  const headers: Record<string, string> = {
    'content-type': 'video/mp4',
    'content-length': String(end - start + 1),
    'cache-control': 'max-age=600',
    ...(advertiseRanges || status === 206 ? { 'accept-ranges': 'bytes' } : {}),
    etag,
    'last-modified': lastModified,
  };
  if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${size}`;
  res.writeHead(status, headers);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const file = createReadStream(path, { start, end });
  file.on('data', (c: string | Buffer) => (sent += c.length));
  pipeline(file, res, () => {});
});

serveUntilShutdown(server, port, { size });
