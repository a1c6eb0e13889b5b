// Settings of the cluster (issue 10, the mini-CDN): who the peers are, the shared
// secret that authenticates them, how objects are shared among them and how
// purges reach all of them. See ./index.ts for how to add a setting.

import { CLOCK_ONLY_MS, Problem, show, duration, onOff, oneOf, secret, showUrl, urlKind, type Kind } from '../kinds.js';
import { setting } from '../setting.js';

export interface PeerSpec {
  /** The peer's node id (its --node-id): the name ownership is hashed over. */
  id: string;
  /** Its proxy listener, e.g. http://10.0.0.2:8080 (canonical: no trailing "/"). */
  url: string;
  /** Its admin listener (health checks, purges): same host, `@PORT` or cluster.peerAdminPort. */
  adminPort: number | undefined;
}

export const EDGE_COPY_TIERS = ['memory', 'memory-and-disk', 'none'] as const;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PEER_EXPECTED = 'NAME=http://HOST:PORT[@ADMIN_PORT], e.g. edge-2=http://10.0.0.2:8080@8081';

function peerSpec(raw: unknown): PeerSpec {
  if (typeof raw !== 'string') throw new Problem(`${showUrl(raw)} is not a peer (expected ${PEER_EXPECTED})`);
  const m = /^\s*([^=\s]+)=(https?:\/\/[^\s@/]+?)(?::(\d+))?(?:@(\d+))?\/?\s*$/i.exec(raw);
  if (!m || !TOKEN.test(m[1]!)) throw new Problem(`${showUrl(raw)} is not a peer (expected ${PEER_EXPECTED})`);
  const port = m[3] === undefined ? undefined : Number(m[3]);
  const adminPort = m[4] === undefined ? undefined : Number(m[4]);
  for (const p of [port, adminPort]) if (p !== undefined && (p < 1 || p > 65535)) throw new Problem(`${showUrl(raw)} has a port out of range (expected 1-65535)`);
  return { id: m[1]!, url: m[2]!.toLowerCase() + (port === undefined ? '' : `:${port}`), adminPort };
}

/** `--peer NAME=URL[@ADMIN_PORT]`, repeatable; comma-separated in env; a YAML list. */
function peers(): Kind<PeerSpec[]> {
  return {
    arg: 'NAME=URL',
    repeatable: true,
    parse: (raw) => {
      const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',').filter((s) => s.trim() !== '') : undefined;
      if (items === undefined) throw new Problem(`${show(raw)} is not a list of peers (expected ${PEER_EXPECTED})`);
      return items.map(peerSpec);
    },
    format: (list) => list.map((p) => `${p.id}=${p.url}${p.adminPort === undefined ? '' : `@${p.adminPort}`}`),
  };
}

/** `HOST:PORT` whose A/AAAA records are the peers' proxy listeners, or "" for none. */
function dnsName(): Kind<string> {
  const expected = 'HOST:PORT, e.g. strata:8080 (a docker-compose service or a headless Service), or "" for none';
  return {
    arg: 'HOST:PORT',
    parse: (raw) => {
      if (typeof raw !== 'string' || (raw !== '' && !/^[A-Za-z0-9.-]+:\d{1,5}$/.test(raw))) throw new Problem(`${show(raw)} is not a DNS name and port (expected ${expected})`);
      return raw;
    },
    format: (s) => s,
  };
}

/** `redis://HOST:PORT[/DB]` or "" for none; shown without its password (kinds.ts, urlKind). */
function redisUrl(): Kind<string> {
  const expected = 'redis://HOST:PORT, or "" for none (purges fan out over the peers\' admin APIs)';
  return urlKind('REDIS_URL', (raw, shown) => {
    if (typeof raw !== 'string') throw new Problem(`${shown} is not a Redis URL (expected ${expected})`);
    if (raw === '') return raw;
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new Problem(`${shown} is not a Redis URL (expected ${expected})`);
    }
    if ((u.protocol !== 'redis:' && u.protocol !== 'rediss:') || u.hostname === '') throw new Problem(`${shown} is not a Redis URL (expected ${expected})`);
    return raw;
  });
}

function port(): Kind<number> {
  return {
    arg: 'PORT',
    range: '1-65535',
    parse: (raw) => {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Problem(`${show(raw)} is not a port (expected 1-65535)`);
      return n;
    },
    format: (n) => n,
  };
}

export const cluster = {
  peers: setting({
    kind: peers(),
    default: [],
    flag: 'peer',
    live: true,
    defaultText: 'none (not clustered)',
    example: ['peers:', '  - edge-1=http://10.0.0.1:8080@8081', '  - edge-2=http://10.0.0.2:8080@8081', '  - edge-3=http://10.0.0.3:8080@8081'],
    help:
      "The cluster's nodes (this node's own --node-id among them is itself): NAME=URL of each proxy listener, " +
      '@ADMIN_PORT when its admin listener is not on cluster.peerAdminPort. Repeat --peer for each.',
  }),
  dns: setting({
    kind: dnsName(),
    default: '',
    defaultText: 'none',
    help:
      'HOST:PORT whose A/AAAA records are the peers (docker-compose service name, Kubernetes headless Service); ' +
      're-resolved every cluster.dnsIntervalMs; each address answers its node id on its admin listener.',
  }),
  dnsIntervalMs: setting({ kind: duration({ min: 100 }), default: 10_000, help: 'How often cluster.dns is resolved again.' }),
  peerAdminPort: setting({
    kind: port(),
    default: 8081,
    help: "Admin listener port of peers found by DNS or listed without @ADMIN_PORT (health checks and purges go there; peers must reach it: admin.listen 0.0.0.0:PORT).",
  }),
  secret: setting({
    kind: secret(),
    default: '',
    defaultText: 'none',
    help: 'Shared secret authenticating requests between peers (HMAC); required when there are peers. Prefer STRATA_CLUSTER_SECRET: argv is visible in ps.',
  }),
  edgeCopies: setting({
    kind: oneOf(EDGE_COPY_TIERS, 'a tier choice'),
    default: 'memory',
    help: 'Where a node keeps copies of objects another node owns: memory (hot objects served locally without multiplying disk use), memory-and-disk, or none.',
  }),
  successorCopy: setting({
    kind: onOff(),
    default: true,
    help:
      "An owner's misses for its own clients are fetched through the next node in ownership order, which keeps a copy (cluster.edgeCopies tiers): " +
      'when the owner dies, that node (its objects\' new owner) already holds them and the origin is not asked again. Costs one more hop per cold miss.',
  }),
  peerConnectTimeoutMs: setting({ kind: duration({ min: 1 }), default: 1_000, help: 'Time to connect to a peer before trying the next node in ownership order.' }),
  peerTimeoutMs: setting({
    kind: duration({ min: 1 }),
    default: 10_000,
    help:
      "Time a peer has to send its answer's headers, or a sign of life (102 Processing, which a node sends every third of this while it works on a peer's request, e.g. waiting on a slow origin), " +
      'before the next node in ownership order is tried; a peer sending signs of life is waited for up to origin.headersTimeoutMs plus this.',
  }),
  healthCheckIntervalMs: setting({ kind: duration({ min: 50 }), default: 2_000, help: "How often each peer's admin /healthz is probed (the node id it answers is its identity)." }),
  handoffMs: setting({
    // Only compared with the time since the healthy set changed (cluster/peer-fetch.ts), never a timer.
    kind: duration({ max: CLOCK_ONLY_MS }),
    default: 300_000,
    help: 'After the healthy set changes, an owner that misses first asks the previous owner (only-if-cached), so a returning node takes its objects back without an origin storm. 0: off.',
  }),
  purgeAckTimeoutMs: setting({ kind: duration({ min: 1 }), default: 2_000, help: "How long a purge's answer waits for the peers' acknowledgements; later ones stay pending and are retried." }),
  purgeBus: setting({
    kind: redisUrl(),
    default: '',
    flag: 'purge-bus',
    defaultText: 'none (fan-out)',
    help: 'Redis URL: purges go through a Redis Stream each node reads from its own persisted position (a node that was down replays what it missed before serving).',
  }),
};
