// A generation: what one configuration builds — the proxy and admin request
// handlers (every option derived from the config) over the router's sites and
// pools and the edge guards — on top of what lives across reloads (store,
// coalescer, cluster, metrics, logs). node.ts makes one at start and one per
// reload; a request keeps the generation it arrived in.

import type { RequestBodyBudget } from './server/request-body-budget.js';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { createAdminHandler, type AdminHandler, type Readiness } from './admin/admin.js';
import { createExplainRoute } from './admin/explain.js';
import { answerAdminFailure } from './admin/failed.js';
import { createReloadRoute } from './admin/reload.js';
import { answerError, Purger } from './admin/purge.js';
import { createRoutesAdmin } from './admin/routes.js';
import type { Cluster } from './cluster/cluster.js';
import type { MissFlights } from './pipeline/context.js';
import type { ConfigChanges } from './config/reload.js';
import type { Config } from './config/types.js';
import { StrataError } from './errors.js';
import type { AccessLog } from './observability/access-log.js';
import type { Logger } from './observability/logger.js';
import type { RequestMetrics } from './observability/metrics.js';
import type { NotStoredLog } from './observability/not-stored.js';
import type { Stats } from './observability/stats.js';
import type { TopMisses } from './observability/top-misses.js';
import { createProxyHandler } from './pipeline/handle.js';
import { GuardConfigError } from './routing/guard/config-error.js';
import { GuardSet } from './routing/guard/guard-set.js';
import type { Router } from './routing/router.js';
import type { TieredStore } from './store/tiered.js';
import type { Recompressor } from './transform/recompress.js';
import type { Clock } from './util/clock.js';
import { InFlight } from './util/in-flight.js';
import type { RefusalRecorder } from './server/refusal.js';
import type { InFlightRefusals } from './pipeline/refused.js';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** What one configuration builds: the request handlers and the sites, routes, pools and edge guard they use. */
export interface Generation {
  config: Readonly<Config>;
  router: Router;
  guards: GuardSet;
  proxy: Handler;
  /** The same request path for the worker link (other workers of this node), counted in `linkStats`. */
  link: Handler;
  /** A refusal the client listener answered itself, recorded as its request's outcome (pipeline/refused.ts). */
  refused: RefusalRecorder;
  /** The same for the worker link's listener. */
  linkRefused: RefusalRecorder;
  admin: AdminHandler;
  /** Its proxy requests still running (and background fetches they started): what a reload waits for before closing the pools it retired. */
  work: InFlight;
}

/** What every generation shares: the node's long-lived components. */
export interface NodeShared {
  store: TieredStore;
  coalescer: MissFlights;
  cluster: Cluster | undefined;
  clock: Clock;
  logger: Logger;
  stats: Stats;
  /** With workers: the worker link's requests, counted apart (pipeline/handle.ts); absent: no link. */
  linkStats: Stats | undefined;
  registry: Registry;
  requestMetrics: RequestMetrics;
  access: AccessLog;
  notStored: NotStoredLog;
  topMisses: TopMisses;
  nextRequestId: () => number;
  readiness: () => Readiness;
  startedAtMs: number;
  recompressor: Recompressor | undefined;
  /** Request bodies held by the node (limits.requestBody*BudgetBytes). */
  requestBodies: RequestBodyBudget;
  /** Listener refusals that answered a request in flight (pipeline/refused.ts), whichever generation each was recorded by. */
  inFlightRefusals: InFlightRefusals;
  /** POST /reload. */
  reload: () => Promise<ConfigChanges>;
  /** After an admin routing change (drain, undrain, canary weight) over `router`. */
  routingChanged: ((router: Router) => void) | undefined;
}

export function buildGeneration(shared: NodeShared, cfg: Readonly<Config>, router: Router, guards: GuardSet): Generation {
    const { store: tiered, coalescer: flights, cluster, clock, logger, stats, linkStats, requestMetrics, access, notStored, topMisses, nextRequestId, recompressor, readiness, startedAtMs, registry, requestBodies, inFlightRefusals } = shared;
    const keyOf = (host: string, target: string) => router.purgeKey(host, target);
    const pathKeysOf = (target: string) => router.purgePathTargets(target);
    const purger = new Purger({ token: cfg.admin.token, store: tiered, clock, logger, stats, keyOf, pathKeysOf, nextRequestId, ...(cluster ? { cluster } : {}) });
    const purge = {
      refusal: (req: IncomingMessage) => purger.methodRefusal(req),
      refuse: (res: ServerResponse, refused: StrataError, extra: string[], tally?: { bytes: number }) => answerError(res, refused, extra, false, tally),
      run: (req: IncomingMessage, res: ServerResponse, key: string, extra: string[], suffixed?: boolean, tally?: { bytes: number }) => purger.handleMethod(req, res, key, extra, suffixed, tally),
    };
    const work = new InFlight();
    const handlers = createProxyHandler({ config: cfg, store: tiered, router, logger, stats, ...(linkStats ? { linkStats } : {}), metrics: requestMetrics, clock, access, coalescer: flights, purge, notStored, topMisses, nextRequestId, guards, requestBodies, work, inFlightRefusals, ...(recompressor ? { recompressor } : {}) , ...(cluster ? { cluster } : {}) });
    const adminPurge = (req: IncomingMessage, res: ServerResponse, peer?: string) => {
      // Logged with its code, answered 500 unless the head is out (admin/failed.ts).
      purger.handleAdmin(req, res, peer).catch((err: unknown) => answerAdminFailure(logger, req, res, err, 'purge'));
    };
    const explain = createExplainRoute({
      token: cfg.admin.token,
      logger,
      clock,
      originHost: router.pools()[0]?.host ?? '',
      targetedField: cfg.cache.targetedField.toLowerCase(),
      defaults: { staleWhileRevalidateS: cfg.cache.staleWhileRevalidateS, staleIfErrorS: cfg.cache.staleIfErrorS },
      store: tiered,
      notStored,
      hitForPass: (key) => flights.passing(key),
      keyOf,
    });
    const reload = createReloadRoute({ token: cfg.admin.token, reload: shared.reload });
    const adminHandler = createAdminHandler({
      nodeId: cfg.nodeId,
      logger,
      allowedHosts: cfg.admin.hosts,
      stats,
      ...(linkStats ? { linkStats } : {}),
      store: tiered,
      origin: router,
      startedAtMs,
      now: () => clock.now(),
      registry,
      readiness,
      upstreamAvailable: () => router.anyAvailable(),
      purge: adminPurge,
      reload,
      explain,
      topMisses,
      token: cfg.admin.token,
      routes: createRoutesAdmin({ token: cfg.admin.token, router, logger, ...(shared.routingChanged ? { changed: () => shared.routingChanged!(router) } : {}) }),
      edge: () => guards.figures(),
      requestBodies: () => requestBodies.figures(),
      remembered: () => ({ hitForPass: flights.passFigures, notStored: notStored.figures, topMisses: topMisses.figures, purgeLog: tiered.purgeLogFigures() }),
      ...(cluster ? { cluster } : {}),
    });
    return { config: cfg, router, guards, proxy: handlers.client, link: handlers.link, refused: handlers.refused, linkRefused: handlers.linkRefused, admin: adminHandler, work };
  }

/** The edge guards for `cfg` (keeping `previous`'s unchanged stages); a rule they cannot be built from (a private key file...) is CONFIG_INVALID. */
export function buildGuards(cfg: Readonly<Config>, clock: Clock, previous?: GuardSet): GuardSet {
  const deps = { clock, readFile: (path: string) => readFileSync(path, 'utf8') };
  try {
    return previous ? previous.successor(cfg, deps) : new GuardSet(cfg, deps);
  } catch (err) {
    if (err instanceof GuardConfigError) throw new StrataError('CONFIG_INVALID', err.message);
    throw err;
  }
}
