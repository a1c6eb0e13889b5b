// The default value of every configuration key, in one place. config/default.yaml
// mirrors these values for operators; load.ts overlays YAML, env and flags on top.
// origin.upstreams has no meaningful default: it is empty here and load.ts
// refuses to finish until some source provides an upstream.

import type { Config } from './types.js';

// A node id ends up in response fields (Via, Cache-Status), so it must be an
// HTTP token; exotic host names are squashed rather than rejected at start-up.
function nodeIdFromHostname(hostname: string): string {
  const id = hostname.trim().replace(/[^A-Za-z0-9._-]/g, '-');
  return id === '' ? 'strata' : id;
}

export function defaultConfig(hostname: string): Config {
  return {
    nodeId: nodeIdFromHostname(hostname),
    listen: { host: '0.0.0.0', port: 8080 },
    // Loopback only: the admin API must be exposed deliberately, never by default.
    admin: { listen: { host: '127.0.0.1', port: 8081 }, token: '', hosts: [] },
    origin: {
      upstreams: [],
      connectTimeoutMs: 5_000,
      headersTimeoutMs: 30_000,
      bodyTimeoutMs: 30_000,
      maxConnections: 128,
      // Misses are what reach the origin: their latency is what clients feel, and
      // p2c-ewma steers them away from a slow or overloaded upstream (CACHING.md).
      balancer: 'p2c-ewma',
      // Off until a path is named: only the operator knows a cheap, harmless URL.
      healthCheck: { path: '', intervalMs: 5_000, timeoutMs: 2_000, healthyThreshold: 2, unhealthyThreshold: 3, expectStatuses: [[200, 399]] },
      passiveHealth: { maxFails: 5, ejectMs: 10_000, maxEjectMs: 300_000 },
      retries: { count: 2, budgetMs: 10_000 },
    },
    cache: {
      dir: 'storage/cache',
      memoryMaxBytes: 256 * 2 ** 20,
      memoryMaxObjectBytes: 8 * 2 ** 20,
      diskMaxBytes: 10 * 2 ** 30,
      targetedField: 'Strata-Cache-Control',
      passTargetedFields: false,
      storeSetCookie: false,
      heuristicFraction: 0.1,
      heuristicMaxS: 86_400,
      // RFC 9111 §4.2.4: no stale answers unless the origin or the client allows them.
      staleWhileRevalidateS: 0,
      staleIfErrorS: 0,
    },
    coalesce: {
      windowBytes: 8 * 2 ** 20,
      // Varnish's built-in hit-for-miss lasts 120 s.
      hitForPassS: 120,
    },
    // nginx's slice module is usually run with 1–4 MiB slices.
    slices: { thresholdBytes: 8 * 2 ** 20, sliceBytes: 4 * 2 ** 20 },
    // Tags name the origin's internal groupings (products, users' content): not for clients.
    purge: { passTagHeaders: false },
    limits: {
      maxUrlBytes: 8_192,
      maxHeaderBytes: 16_384,
      requestHeadersTimeoutMs: 30_000,
      // Browsers open about 6 connections per host; 256 leaves room for many users behind one NAT.
      maxConnectionsPerClient: 256,
      shutdownGraceMs: 10_000,
    },
    logLevel: 'info',
  };
}
