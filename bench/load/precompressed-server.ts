// The baseline of the stored-br-hit scenario: a bare node:http server answering
// the same precompressed bytes Strata serves (the corpus object at brotli's best
// level) with the fields a compressed answer carries.
//
//   node dist/bench/load/precompressed-server.js <kind> <bytes> [port]

import http from 'node:http';
import zlib from 'node:zlib';
import { serveUntilShutdown } from './child-life.js';
import { CONTENT_TYPES, corpusBody, type CorpusKind } from './corpus.js';

const kind = (process.argv[2] ?? 'html') as CorpusKind;
const size = Number(process.argv[3] ?? '102400');
const port = Number(process.argv[4] ?? '0');
const body = zlib.brotliCompressSync(corpusBody(kind, size), {
  params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: size },
});
const headers = {
  'content-type': CONTENT_TYPES[kind],
  'content-encoding': 'br',
  'content-length': String(body.length),
  'cache-control': 'max-age=3600',
  etag: `W/"${kind}/${size}-br"`,
  vary: 'Accept-Encoding',
};

const server = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
});

serveUntilShutdown(server, port, { bytes: body.length });
