// One Strata node as a benchmark child process.
//
//   node dist/bench/load/strata-server.js --origin http://127.0.0.1:PORT --cache-dir DIR [--ephemeral]
//
// Production defaults (src/config/defaults.ts) except: loopback listeners on
// ephemeral ports, the given origin and cache directory, node id "bench". The
// access log is on (level info) and written the way the production logger writes
// it (pino's asynchronous destination; access lines batched in 32 KiB / 100 ms) — into /dev/null, so its
// cost is measured but nothing piles up. Prints {"port":N,"admin":M} when
// listening.

import { rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { defaultConfig } from '../../src/config/defaults.js';
import type { Config } from '../../src/config/types.js';
import { createNode } from '../../src/node.js';
import { onShutdown } from './child-life.js';

const { values } = parseArgs({
  options: {
    origin: { type: 'string' },
    'cache-dir': { type: 'string' },
    /** Remove the cache directory on exit (also when the runner died without cleaning up). */
    ephemeral: { type: 'boolean', default: false },
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
  admin: { ...base.admin, listen: { host: '127.0.0.1', port: 0 } },
  origin: { ...base.origin, upstreams: [{ url: values.origin, weight: 1, maxConnections: base.origin.maxConnections }] },
  cache: { ...base.cache, dir: values['cache-dir'] },
  limits: { ...base.limits, shutdownGraceMs: 1_000 },
  // BENCH_LOG_LEVEL is for experiments (e.g. "warn" to see the access log's share).
  logLevel: (process.env['BENCH_LOG_LEVEL'] || 'info') as Config['logLevel'],
};

const logDestination = pino.destination({ dest: '/dev/null', sync: false, minLength: 4096 });
const node = createNode(config, { logDestination });
await node.start();
process.stdout.write(JSON.stringify({ port: node.proxyAddress().port, admin: node.adminAddress().port, pid: process.pid }) + '\n');

onShutdown(async () => {
  await node.stop();
  if (values.ephemeral) await rm(config.cache.dir, { recursive: true, force: true });
});
