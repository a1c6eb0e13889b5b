// The files that run the mini-CDN outside the tests: docker-compose.yml (parsed
// with the yaml package, since the images cannot be pulled here; each node's
// command and environment loaded as a Strata config), the Dockerfile (non-root,
// with a HEALTHCHECK) and config/cluster.yaml.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { config } from '../fixtures/config-load.js';

const repoFile = (p: string) => readFileSync(new URL(`../../../${p}`, import.meta.url), 'utf8');

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  networks?: string[] | Record<string, { aliases?: string[] } | null>;
  depends_on?: string[];
}

/** Compose's ${VAR:-default} with nothing set: the default. */
function interpolate(v: string): string {
  return v.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
}

test('docker-compose.yml: an origin, Redis and three peered nodes with DNS discovery and the purge bus', () => {
  const doc = parse(repoFile('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
  const s = doc.services;
  assert.deepEqual(Object.keys(s).sort(), ['edge-1', 'edge-2', 'edge-3', 'origin', 'redis']);
  assert.match(s['redis']!.image!, /^redis:/);
  const hostPorts = new Set<string>();
  for (const name of ['edge-1', 'edge-2', 'edge-3']) {
    const e = s[name]!;
    assert.equal(e.build, '.');
    const env = Object.fromEntries(Object.entries(e.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));
    const c = config({ argv: e.command!, env });
    assert.equal(c.nodeId, name);
    assert.equal(c.cluster.dns, 'strata:8080');
    assert.equal(c.cluster.purgeBus, 'redis://redis:6379');
    assert.equal(c.cluster.peerAdminPort, c.admin.listen.port, 'peers reach each other on the admin port the nodes listen on');
    assert.equal(c.admin.listen.host, '0.0.0.0', 'peers must reach the admin listener');
    assert.ok(c.cluster.secret !== '');
    const nets = e.networks as Record<string, { aliases?: string[] }>;
    assert.ok(nets['cdn']?.aliases?.includes('strata'), `${name} answers the DNS name the nodes resolve`);
    assert.ok(e.depends_on?.includes('redis'));
    for (const p of (e as { ports?: string[] }).ports ?? []) {
      const host = p.split(':').slice(0, -1).join(':');
      assert.ok(!hostPorts.has(host), `host port ${host} used twice`);
      hostPorts.add(host);
    }
  }
});

test('Dockerfile: runs as a non-root user, with a HEALTHCHECK on the admin listener', () => {
  const text = repoFile('Dockerfile');
  const user = /^USER\s+(\S+)/m.exec(text);
  assert.ok(user && user[1] !== 'root' && user[1] !== '0', 'a non-root USER');
  assert.match(text, /^HEALTHCHECK .*\n?.*\/healthz/m);
  const include = (JSON.parse(repoFile('tsconfig.json')) as { include: string[] }).include;
  for (const dir of include) assert.match(text, new RegExp(`^COPY ${dir} \\./${dir}$`, 'm'), `${dir} (tsconfig includes it) is copied into the build stage`);
});

test('config/cluster.yaml loads: three peers, this node among them, edge copies in memory', () => {
  const c = config({ argv: ['--config', 'cluster.yaml'], env: { STRATA_CLUSTER_SECRET: 'k' }, readFile: () => repoFile('config/cluster.yaml') });
  assert.deepEqual(c.cluster.peers.map((p) => p.id), ['edge-1', 'edge-2', 'edge-3']);
  assert.equal(c.nodeId, 'edge-1');
  assert.equal(c.cluster.edgeCopies, 'memory');
  // Without the shared secret a node with peers does not start.
  assert.throws(() => config({ argv: ['--config', 'cluster.yaml'], readFile: () => repoFile('config/cluster.yaml') }), /cluster\.secret: missing/);
});
