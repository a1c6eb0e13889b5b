// The admin listener (loopback by default): liveness (/healthz), readiness
// (/readyz), statistics (/stats, JSON; /metrics, Prometheus text), purge,
// reload and explain (why one URL is or is not cached).
// Kept apart from the proxy listener so operators can firewall it separately;
// every resource is behind the same Host check.

import type { RequestBodyFigures } from '../server/request-body-budget.js';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ClientConnections } from '../server/client-connections.js';
import { StrataError } from '../errors.js';
import { COUNTERS, linkFigures, type Stats } from '../observability/stats.js';
import { processMemory } from '../observability/process-memory.js';
import type { CacheStore } from '../store/types.js';
import type { OriginClient } from '../origin/client.js';
import type { Registry } from 'prom-client';
import { checkBearer, json } from './purge.js';
import { isAllowedAdminHost } from './allowed-host.js';
import { hostCount } from '../http/host.js';
import { withoutValues, type TopMisses } from '../observability/top-misses.js';
import type { KeyFigures } from '../util/bounded-keys.js';
import { DASHBOARD_HTML } from './dashboard.html.js';
import type { Cluster } from '../cluster/cluster.js';
import type { HeaderMap } from '../http/headers.js';
import type { Logger } from '../observability/logger.js';
import { answerAdminFailure } from './failed.js';

export interface AdminDeps {
  nodeId: string;
  /** Where a failed admin request is reported. */
  logger: Logger;
  stats: Stats;
  /** With workers: requests from the other workers, counted apart (`workerLink` in /stats; absent: no worker link). */
  linkStats?: Stats;
  store: CacheStore;
  origin: Pick<OriginClient, 'stats'>;
  startedAtMs: number;
  now: () => number;
  /** Host names answered besides localhost and IP literals (admin.hosts). */
  allowedHosts: readonly string[];
  /** The node's metrics (`GET /metrics`). */
  registry: Registry;
  /** What /readyz checks, each true when ready. */
  readiness: () => Readiness;
  /** Some upstream may be chosen now: reported by /readyz, never a reason to answer 503 (see Readiness). */
  upstreamAvailable: () => boolean;
  /** `POST /purge`; `peer`: the node the request proved it comes from. */
  purge: (req: IncomingMessage, res: ServerResponse, peer?: string) => void;
  /** `POST /reload` (admin/reload.ts). */
  reload: (req: IncomingMessage, res: ServerResponse) => void;
  /** `GET /explain?url=...` (admin/explain.ts). */
  explain: (req: IncomingMessage, res: ServerResponse) => void;
  /** The most-missed primary keys (`topMisses` in /stats; absent: not tracked). */
  topMisses?: TopMisses;
  /** The admin token (admin.token): /stats shows the query and key values of `topMisses` only to a request bearing it. */
  token: string;
  /** The cluster (absent: not clustered): peers' requests and /stats `peers`. */
  cluster?: Pick<Cluster, 'verify' | 'stats' | 'health'>;
  /** /routes and /upstreams/*: sites, canary weights, drains (admin/routes.ts; absent: 404). */
  routes?: (req: IncomingMessage, res: ServerResponse, path: string) => void;
  /** What the edge guard holds (`edge` in /stats: remembered decisions and tokens, rate buckets). */
  edge?: () => Record<string, number>;
  /** Request bodies held node-wide (`requestBodies` in /stats: bytes in memory and spooled, against their budgets). */
  requestBodies?: () => RequestBodyFigures;
  /** Tables of client-chosen keys (hit-for-pass, not-stored, top misses, purge log) and their key bytes against their bounds (`remembered` in /stats). */
  remembered?: () => Record<string, KeyFigures>;
}

/**
 * Can the node serve? Every check must hold for /readyz to answer 200.
 * Upstream health is deliberately not one of them (as with nginx and Varnish,
 * whose readiness never follows backend health): a node whose upstreams are
 * ejected or failing probes still serves what it holds (stale-if-error,
 * staleIfDisconnectedS) and still tries them, and the nodes of a CDN share
 * their origin, so an origin outage would take every node out of the load
 * balancer at once. Passive ejection can also be provoked by clients. The
 * balancer's view is reported beside the checks for the operator.
 */
export interface Readiness {
  /** The proxy and admin listeners are bound (and not closing). */
  listening: boolean;
  /** The disk index has loaded (until then, what is on disk answers as misses). */
  diskLoaded: boolean;
}

function metrics(req: IncomingMessage, res: ServerResponse, deps: AdminDeps): void {
  const { registry } = deps;
  registry.metrics().then(
    (text) => {
      res.writeHead(200, ['content-type', registry.contentType, 'content-length', String(Buffer.byteLength(text)), 'cache-control', 'no-store']);
      res.end(text);
    },
    // Why: a collector's failure was answered with its message and logged nowhere.
    (err: unknown) => answerAdminFailure(deps.logger, req, res, err, '/metrics', 'METRICS_FAILED'),
  );
}

const DASHBOARD_BYTES = Buffer.from(DASHBOARD_HTML);

/** `GET /`: the live dashboard (one self-contained page polling /stats; admin/dashboard.html.ts). */
function dashboard(res: ServerResponse, head: boolean): void {
  res.writeHead(200, [
    'content-type', 'text/html; charset=utf-8',
    'content-length', String(DASHBOARD_BYTES.length),
    'cache-control', 'no-store',
    // Nothing but this page's own inline code, and /stats on the same origin.
    'content-security-policy', "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    'x-content-type-options', 'nosniff',
    'referrer-policy', 'no-referrer',
  ]);
  res.end(head ? undefined : DASHBOARD_BYTES);
}

/** The admin API's handler, and its gate alone (the workers' node view answers some paths itself: workers/admin-view.ts). */
export type AdminHandler = ((req: IncomingMessage, res: ServerResponse) => void) & {
  /** Answers the request and returns true when it may not use the admin API (Host check); false otherwise. */
  refused(req: IncomingMessage, res: ServerResponse): boolean;
};

export function createAdminHandler(deps: AdminDeps): AdminHandler {
  const gate = (req: IncomingMessage, res: ServerResponse): { peer: string | undefined } | undefined => {
    // A peer proves itself with the cluster secret, so it may name the node by any Host
    // (the Host check is a defence against browsers, which cannot make that proof).
    // Before anything reads Host: Node keeps the first of several, and which one a proxy in
    // front or the Host check would read is ambiguous (RFC 9112 §3.2: answer 400).
    const hosts = hostCount(req.rawHeaders);
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400 too (as on the proxy
    // listener); HTTP/1.0 had no Host to require. Why: the Host check passed it as
    // localhost would be: only Node's own check (requireHostHeader, off on this listener
    // so that the refusal carries its code) stood between such a request and the admin API.
    const refused =
      hosts > 1 ? new StrataError('BAD_REQUEST', 'more than one Host header field (RFC 9112 §3.2: a request names its host once)')
      : hosts === 0 && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1 ? new StrataError('MISSING_HOST', 'HTTP/1.1 request without a Host header (RFC 9112 §3.2)')
      : undefined;
    if (refused) {
      json(res, refused.status, { error: refused.code, message: refused.message }, [], true);
      return undefined;
    }
    const peer = deps.cluster?.verify(req.method ?? 'GET', req.url ?? '/', req.headers as HeaderMap, 'admin');
    if (peer === undefined && !isAllowedAdminHost(req.headers.host, deps.allowedHosts)) {
      const err = new StrataError('ADMIN_HOST_REFUSED', `the admin API answers Host localhost, an IP address or a name in admin.hosts, not ${JSON.stringify(req.headers.host)}`);
      json(res, err.status, { error: err.code, message: err.message });
      return undefined;
    }
    return { peer };
  };
  const answer = adminAnswer(deps);
  // Why: an exception thrown while answering (a bug, malformed input no step foresaw) must
  // cost that request, never the process — the admin port may be reachable from the network.
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      const passed = gate(req, res);
      if (passed) answer(req, res, passed.peer);
    } catch (err) {
      answerAdminFailure(deps.logger, req, res, err, (req.url ?? '/').split('?')[0]!);
    }
  };
  return Object.assign(handler, { refused: (req: IncomingMessage, res: ServerResponse) => gate(req, res) === undefined });
}

function adminAnswer(deps: AdminDeps): (req: IncomingMessage, res: ServerResponse, peer: string | undefined) => void {
  return (req, res, peer) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/purge') {
      if (req.method === 'POST') return deps.purge(req, res, peer);
      return methodNotAllowed(res, path, 'POST');
    }
    if (path === '/reload') {
      if (req.method === 'POST') return deps.reload(req, res);
      return methodNotAllowed(res, path, 'POST');
    }
    if (deps.routes && (path === '/routes' || path.startsWith('/routes/') || path.startsWith('/upstreams/'))) return deps.routes(req, res, path);
    // An unknown path is 404 whatever the method (RFC 9110 §15.5.5): a 405 would claim the resource exists.
    if (!READ_ONLY.has(path)) return notFound(res, path);
    if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, path, 'GET, HEAD');
    switch (path) {
      case '/':
        return dashboard(res, req.method === 'HEAD');
      case '/healthz':
        // In a cluster: this process's start, and to a peer what this node owes it (cluster.ts health).
        return json(res, 200, { status: 'ok', node: deps.nodeId, ...deps.cluster?.health(peer) });
      case '/readyz': {
        const checks = deps.readiness();
        const notReady = (Object.keys(checks) as (keyof Readiness)[]).filter((k) => !checks[k]);
        const upstreamAvailable = deps.upstreamAvailable();
        if (notReady.length === 0) return json(res, 200, { status: 'ready', node: deps.nodeId, checks, upstreamAvailable });
        return json(res, 503, { status: 'not ready', node: deps.nodeId, notReady, checks, upstreamAvailable });
      }
      case '/metrics':
        return metrics(req, res, deps);
      case '/explain':
        return deps.explain(req, res);
      case '/stats':
        return json(res, 200, {
          node: deps.nodeId,
          uptimeS: Math.round((deps.now() - deps.startedAtMs) / 1000),
          ...deps.stats.counters,
          ...(deps.linkStats ? { workerLink: linkFigures(deps.linkStats) } : {}),
          tiers: deps.store.stats(),
          memory: processMemory(),
          origin: deps.origin.stats(),
          topMisses: topMissesFor(req, deps),
          edge: deps.edge?.() ?? {},
          requestBodies: deps.requestBodies?.() ?? {},
          remembered: deps.remembered?.() ?? {},
          peers: deps.cluster?.stats() ?? { clustered: false },
          descriptions: COUNTERS,
        });
    }
  };
}

/** The most-missed keys, their values left out unless the request bears the admin token. */
function topMissesFor(req: IncomingMessage, deps: AdminDeps): { key: string; misses: number }[] {
  const top = deps.topMisses?.top(10) ?? [];
  if (checkBearer(req.headers.authorization, deps.token) === undefined) return top;
  return top.map((m) => ({ key: withoutValues(m.key), misses: m.misses }));
}

/** The admin resources that answer GET and HEAD only. */
const READ_ONLY = new Set(['/', '/healthz', '/readyz', '/metrics', '/explain', '/stats']);

function notFound(res: ServerResponse, path: string): void {
  json(res, 404, { error: 'NOT_FOUND', message: `no admin resource ${path.slice(0, 200)}; try / (dashboard), /healthz, /readyz, /stats, /metrics, /explain?url=, POST /purge or POST /reload` });
}

/** 405 with the Allow field the status requires (RFC 9110 §15.5.6), naming the methods `path` answers. */
export function methodNotAllowed(res: ServerResponse, path: string, allow: string): void {
  json(res, 405, { error: 'METHOD_NOT_ALLOWED', message: `${path.slice(0, 200)} answers ${allow}` }, ['allow', allow]);
}

/** A connection to the admin API that moves no byte for this long is closed (the dashboard polls every few seconds). */
const ADMIN_IDLE_MS = 60_000;
/** Admin connections one client address may hold: the admin port may face the network (a cluster's peers). */
const ADMIN_CONNECTIONS_PER_CLIENT = 32;

export function createAdminListener(handler: (req: IncomingMessage, res: ServerResponse) => void, opts: { idleMs?: number; perClient?: number } = {}): http.Server {
  // Why both: a connection that never sends a byte is not covered by Node's header timeout, and
  // every open one costs a file descriptor the proxy listener and the disk tier share.
  const idleMs = opts.idleMs ?? ADMIN_IDLE_MS;
  const perClient = new ClientConnections(() => opts.perClient ?? ADMIN_CONNECTIONS_PER_CLIENT);
  // requireHostHeader off: the gate (createAdminHandler) refuses an HTTP/1.1 request
  // without Host itself, with its code and message; Node's own 400 had an empty body.
  const server = http.createServer({ maxHeaderSize: 16384, headersTimeout: 10_000, requestTimeout: 60_000, keepAliveTimeout: 5_000, requireHostHeader: false }, handler);
  server.on('connection', (socket: Socket) => {
    if (perClient.admit(socket)) return void socket.destroy();
    socket.setTimeout(idleMs, () => socket.destroy());
  });
  return server;
}
