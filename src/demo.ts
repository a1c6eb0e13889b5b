// `npm run demo`: a mini-CDN on loopback, no Docker — an origin and three Strata
// nodes peered with each other (the node ids, the shared secret and the admin
// token are printed), with a few curl commands to try. Ctrl-C stops everything.
//
//   DEMO_PORT=9000 npm run demo    the origin on 9000, the nodes on 9001/9002, 9003/9004, 9005/9006
//   DEMO_PURGE_BUS=redis://127.0.0.1:6379 npm run demo    purges through Redis instead of fan-out

import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './config/load.js';
import { createNode, type StrataNode } from './node.js';

const base = Number(process.env['DEMO_PORT'] ?? 8090);
const secret = 'demo-cluster-secret';
const token = 'demo-admin-token';
const ids = ['edge-1', 'edge-2', 'edge-3'];
const proxyPort = (i: number) => base + 1 + 2 * i;
const adminPort = (i: number) => base + 2 + 2 * i;

let served = 0;
const origin = http.createServer((req, res) => {
  served++;
  const body = `hello from the origin: ${req.url} (origin request #${served}, ${new Date().toISOString()})\n`;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'cache-control': 'max-age=300', 'surrogate-key': 'demo' });
  res.end(body);
});

const dirs: string[] = [];
const nodes: StrataNode[] = [];

async function main(): Promise<void> {
  await new Promise<void>((r) => origin.listen(base, '127.0.0.1', r));
  const starting: Promise<void>[] = [];
  for (let i = 0; i < ids.length; i++) {
    const dir = mkdtempSync(join(tmpdir(), `strata-demo-${ids[i]}-`));
    dirs.push(dir);
    const argv = [
      '--origin', `http://127.0.0.1:${base}`,
      '--node-id', ids[i]!,
      '--listen', `127.0.0.1:${proxyPort(i)}`,
      '--admin-listen', `127.0.0.1:${adminPort(i)}`,
      '--cache-dir', dir,
      '--log-level', 'warn',
      ...ids.flatMap((id, j) => ['--peer', `${id}=http://127.0.0.1:${proxyPort(j)}@${adminPort(j)}`]),
      ...(process.env['DEMO_PURGE_BUS'] ? ['--purge-bus', process.env['DEMO_PURGE_BUS']] : []),
    ];
    const config = loadConfig({ argv, env: { STRATA_CLUSTER_SECRET: secret, STRATA_ADMIN_TOKEN: token }, readFile: () => '', hostname: ids[i]! });
    const node = createNode(config);
    starting.push(node.start());
    nodes.push(node);
  }
  await Promise.all(starting);
  // Until every node has seen the other two answer their health checks, each would
  // own everything itself: wait, so the first curl already shows the cluster at work.
  process.stdout.write('waiting for the nodes to see each other...\n');
  for (const n of nodes) {
    const m = n.cluster()!.membership;
    while (m.peers().filter((p) => m.usable(p)).length < ids.length - 1) await new Promise((r) => setTimeout(r, 100));
  }
  const out = process.stdout;
  out.write(`\nStrata mini-CDN demo: origin http://127.0.0.1:${base}, three peered nodes\n\n`);
  ids.forEach((id, i) => out.write(`  ${id}: http://127.0.0.1:${proxyPort(i)}   admin http://127.0.0.1:${adminPort(i)} (dashboard: open it in a browser)\n`));
  // Every node is asked with one Host, as clients of one CDN name would: the Host is part of the cache key.
  out.write(`\nTry (the same Host on every node: it is part of the cache key):\n`);
  out.write(`  curl -si -H 'host: cdn.example' http://127.0.0.1:${proxyPort(0)}/hello | grep -iE 'cache-status|age|via'   # the owner fetched it once\n`);
  out.write(`  curl -si -H 'host: cdn.example' http://127.0.0.1:${proxyPort(1)}/hello | grep -iE 'cache-status|age|via'   # another node: owner's member first, then its own\n`);
  out.write(`  curl -si -H 'host: cdn.example' http://127.0.0.1:${proxyPort(2)}/hello | grep -iE 'cache-status|age|via'\n`);
  out.write(`  curl -s -X POST -H 'authorization: Bearer ${token}' -d '{"urls":["/hello"]}' http://127.0.0.1:${adminPort(1)}/purge   # gone on every node; "peers" lists the acks\n`);
  out.write(`  curl -s http://127.0.0.1:${adminPort(0)}/stats | grep -o '"peers":{[^]]*]'   # each peer's state\n`);
  out.write(`\nCtrl-C stops everything.\n`);
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) process.exit(1);
  stopping = true;
  await Promise.all(nodes.map((n) => n.stop()));
  await new Promise<void>((r) => origin.close(() => r()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

main().catch((err: unknown) => {
  process.stderr.write(`demo: ${(err as Error).message}\n`);
  void stop();
});
