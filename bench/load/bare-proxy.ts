// A bare pass-through reverse proxy: the baseline of the miss scenarios, i.e. the
// most a Node proxy does for a miss when it neither caches nor logs. node:http
// server + undici Pool to the origin (the same client library and pool Strata
// uses), hop-by-hop fields dropped, the origin's body streamed to the client with
// backpressure (stream.pipeline: a slow client pauses the origin read).
//
//   node dist/bench/load/bare-proxy.js <origin URL> [port]
//
// Connection limits and timeouts are Strata's production defaults
// (src/config/defaults.ts): origin pool size (origin.maxConnections) and its
// connect / headers / body timeouts, the pool's 4 s keep-alive; on the client
// side the maximum header section, the header timeout, the 5 s keep-alive, and
// the per-client connection cap. Listens on 127.0.0.1 and prints {"port":N}.
// Same model as /work/shared/anchors/bare-proxy.mjs.

import type http from 'node:http';
import { pipeline } from 'node:stream';
import type { Dispatcher } from 'undici';
import { serveUntilShutdown } from './child-life.js';
import { endToEnd, proxyChild, proxyServer } from './proxy-child.js';

const { origin, port, cfg, pool } = proxyChild('bare-proxy');

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const headers = endToEnd(req.headers);
  const method = (req.method ?? 'GET') as Dispatcher.HttpMethod;
  const withBody = method !== 'GET' && method !== 'HEAD';
  pool.request({ method, path: req.url ?? '/', headers, body: withBody ? req : null }).then(
    (up) => {
      res.writeHead(up.statusCode, endToEnd(up.headers));
      pipeline(up.body, res, () => {
        // Errors end both streams; nothing to log (no logging in the baseline).
      });
    },
    () => {
      if (!res.headersSent) res.writeHead(502, { 'content-length': '0' });
      res.end();
    },
  );
}

const server = proxyServer(cfg, handle);

// Strata's limits.maxConnectionsPerClient: connections beyond it from one address are closed.
const perClient = new Map<string, number>();
const maxPerClient = cfg.limits.maxConnectionsPerClient;
server.on('connection', (socket) => {
  if (maxPerClient <= 0) return;
  const addr = socket.remoteAddress ?? '';
  const n = (perClient.get(addr) ?? 0) + 1;
  if (n > maxPerClient) {
    socket.destroy();
    return;
  }
  perClient.set(addr, n);
  socket.once('close', () => {
    const left = (perClient.get(addr) ?? 1) - 1;
    if (left > 0) perClient.set(addr, left);
    else perClient.delete(addr);
  });
});

serveUntilShutdown(server, port, { origin: origin.origin, poolConnections: cfg.origin.maxConnections });
