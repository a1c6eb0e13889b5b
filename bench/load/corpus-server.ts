// The compression scenarios' origin: serves the generated corpus, uncompressed.
//
//   node dist/bench/load/corpus-server.js [port]
//
// GET /<kind>/<bytes>[/anything] answers corpusBody(kind, bytes) with its
// Content-Type, Content-Length, an ETag and max-age=3600, so every distinct path
// is a new object of the same bytes (a burst of first compressions). Listens on
// 127.0.0.1 and prints {"port":N}.

import http from 'node:http';
import { serveUntilShutdown } from './child-life.js';
import { CONTENT_TYPES, corpusBody, type CorpusKind } from './corpus.js';

const port = Number(process.argv[2] ?? '0');
const bodies = new Map<string, Buffer>();

const server = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  const m = /^\/(html|css|js|json)\/(\d+)(?:\/.*)?$/.exec(req.url ?? '');
  if (!m) {
    res.writeHead(404, { 'content-length': '0' });
    res.end();
    return;
  }
  const kind = m[1] as CorpusKind;
  const id = `${kind}/${m[2]}`;
  let body = bodies.get(id);
  if (!body) bodies.set(id, (body = corpusBody(kind, Number(m[2]))));
  res.writeHead(200, { 'content-type': CONTENT_TYPES[kind], 'content-length': String(body.length), 'cache-control': 'max-age=3600', etag: `"${id}"` });
  res.end(req.method === 'HEAD' ? undefined : body);
});

serveUntilShutdown(server, port, {});
