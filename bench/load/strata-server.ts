// One Strata node as a benchmark child process.
//
//   node dist/bench/load/strata-server.js --origin http://127.0.0.1:PORT --cache-dir DIR [--ephemeral]
//        [--admin-token T] [--purge-fill N] [--memory-size 64MiB] [--disk-size 256MiB] [--memory-max-object N] [--tls-cert F --tls-key F]
//
// Production defaults (src/config/defaults.ts) except: loopback listeners on
// ephemeral ports, the given origin and cache directory, node id "bench". The
// access log is on (level info) and written the way the production logger writes
// it (the node's byte destination; access lines batched in 256 KiB / 100 ms) — into /dev/null, so its
// cost is measured but nothing piles up. Prints {"port":N,"admin":M} when
// listening. With --purge-fill N, 2·N entries are first written straight into the
// store (purge-fill.ts) and the ready line also carries fillMs. --memory-size and
// --disk-size override cache.memoryMaxBytes / cache.diskMaxBytes (the storm scenario).

import { rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { defaultConfig } from '../../src/config/defaults.js';
import type { Config } from '../../src/config/types.js';
import { byteLogDestination } from '../../src/observability/log-destination.js';
import { createNode } from '../../src/node.js';
import { onShutdown, parseSize } from './child-life.js';
import { fillForPurge } from './purge-fill.js';

const { values } = parseArgs({
  options: {
    origin: { type: 'string' },
    'cache-dir': { type: 'string' },
    /** Remove the cache directory on exit (also when the runner died without cleaning up). */
    ephemeral: { type: 'boolean', default: false },
    'admin-token': { type: 'string', default: '' },
    'purge-fill': { type: 'string', default: '0' },
    'memory-size': { type: 'string' },
    'disk-size': { type: 'string' },
    /** cache.memoryMaxObjectBytes (the disk-hit scenario keeps its body out of memory). */
    'memory-max-object': { type: 'string' },
    /** TLS on the proxy listener (the TLS scenarios, tls.ts): one certificate pair. */
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
  },
});
if (!values.origin || !values['cache-dir']) {
  process.stderr.write('usage: strata-server --origin URL --cache-dir DIR\n');
  process.exit(2);
}

const base = defaultConfig(hostname());
const config: Config = {
  ...base,
  nodeId: 'bench',
  listen: { host: '127.0.0.1', port: 0 },
  tls: { ...base.tls, certificates: values['tls-cert'] && values['tls-key'] ? [{ cert: values['tls-cert'], key: values['tls-key'] }] : [] },
  admin: { ...base.admin, listen: { host: '127.0.0.1', port: 0 }, token: values['admin-token'] ?? '' },
  origin: { ...base.origin, upstreams: [{ url: values.origin, weight: 1, maxConnections: base.origin.maxConnections }] },
  cache: {
    ...base.cache,
    dir: values['cache-dir'],
    ...(values['memory-size'] ? { memoryMaxBytes: parseSize(values['memory-size']) } : {}),
    ...(values['disk-size'] ? { diskMaxBytes: parseSize(values['disk-size']) } : {}),
    ...(values['memory-max-object'] ? { memoryMaxObjectBytes: parseSize(values['memory-max-object']) } : {}),
    // BENCH_HEAP_GROWTH is for experiments (A/B of cache.heapGrowthPercent; 0 leaves V8 its own choice).
    ...(process.env['BENCH_HEAP_GROWTH'] ? { heapGrowthPercent: Number(process.env['BENCH_HEAP_GROWTH']) } : {}),
  },
  // The load generator is one address, as a load balancer in front of Strata would be: no per-client cap.
  limits: { ...base.limits, shutdownGraceMs: 1_000, maxConnectionsPerClient: 0 },
  // BENCH_LOG_LEVEL is for experiments (e.g. "warn" to see the access log's share).
  logLevel: (process.env['BENCH_LOG_LEVEL'] || 'info') as Config['logLevel'],
};

const logDestination = byteLogDestination(process.env['BENCH_LOG_FILE'] || '/dev/null');
const node = createNode(config, { logDestination });
await node.start();
const fill = Number(values['purge-fill']);
const fillStarted = performance.now();
if (fill > 0) await fillForPurge(node.store(), config, fill, Date.now());
const fillMs = Math.round(performance.now() - fillStarted);
process.stdout.write(JSON.stringify({ port: node.proxyAddress().port, admin: node.adminAddress().port, pid: process.pid, fillMs }) + '\n');

// With --expose-gc, SIGUSR2 runs a full collection: the restart bench reads what the
// entries hold, not the garbage their load left behind.
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) process.on('SIGUSR2', () => gc());

onShutdown(async () => {
  await node.stop();
  if (values.ephemeral) await rm(config.cache.dir, { recursive: true, force: true });
});
