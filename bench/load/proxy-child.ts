// What the pass-through children (bare-proxy.ts, lean-cache.ts) share: their command
// line, an undici Pool to the origin with Strata's production settings (origin pool
// size, connect / headers / body timeouts, the pool's 4 s keep-alive), the hop-by-hop
// fields they drop, and a node:http server with Strata's client-side limits (maximum
// header section, header timeout, 5 s keep-alive).

import http from 'node:http';
import { hostname } from 'node:os';
import { Pool } from 'undici';
import { defaultConfig } from '../../src/config/defaults.js';
import type { Config } from '../../src/config/types.js';

export interface ProxyChild {
  origin: URL;
  port: number;
  cfg: Config;
  pool: Pool;
}

/** `<name> <origin URL> [port]` as given on the command line (exit 2 without an origin), and the Pool to it. */
export function proxyChild(name: string): ProxyChild {
  const originArg = process.argv[2];
  if (!originArg) {
    process.stderr.write(`usage: ${name} <origin URL> [port]\n`);
    process.exit(2);
  }
  const origin = new URL(originArg);
  const cfg = defaultConfig(hostname());
  const pool = new Pool(origin.origin, {
    connections: cfg.origin.maxConnections,
    connectTimeout: cfg.origin.connectTimeoutMs,
    headersTimeout: cfg.origin.headersTimeoutMs,
    bodyTimeout: cfg.origin.bodyTimeoutMs,
    keepAliveTimeout: 4_000,
  });
  return { origin, port: Number(process.argv[3] ?? '0'), cfg, pool };
}

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'host']);

/** The fields of `h` a proxy passes on: hop-by-hop ones (and Host) dropped. */
export function endToEnd(h: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP.has(k)) out[k] = v;
  return out;
}

/** A node:http server with Strata's client-side limits. */
export function proxyServer(cfg: Config, handle: http.RequestListener): http.Server {
  return http.createServer(
    {
      maxHeaderSize: cfg.limits.maxHeaderBytes,
      headersTimeout: cfg.limits.requestHeadersTimeoutMs,
      requestTimeout: 0,
      keepAliveTimeout: 5_000,
    },
    handle,
  );
}
