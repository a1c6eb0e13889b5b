// Composition root: builds every long-lived component of one Strata node from a
// Config, and owns start/stop/reload. The only place that constructs them.
//
// Reload: a generation is what a configuration builds per reload — the proxy and
// admin request handlers (with every option derived from the config) over an
// upstream pool. Listeners dispatch each new request to the current generation;
// a request keeps the generation it started in, so it finishes with the settings
// it began with. The store, the coalescer, the listeners and the metrics live
// across generations and take their live settings through small reconfigure
// steps. Other features register a ReloadHook (onReload) to take theirs. The
// edge guards (node-wide and per route) belong to a generation but are carried
// over while edge.* and sites are unchanged; otherwise the successor set keeps
// every stage whose rules did not change (rate buckets and remembered decisions
// survive the reload, routing/guard/guard-set.ts), and is built before anything
// is applied, so a bad key file refuses the reload.

import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { DestinationStream } from 'pino';
import { Registry } from 'prom-client';
import { createAdminHandler, createAdminListener, type Readiness } from './admin/admin.js';
import { createExplainRoute } from './admin/explain.js';
import { createReloadRoute } from './admin/reload.js';
import { flightMatcher, Purger } from './admin/purge.js';
import { expiredAt } from './cache/soft-purge.js';
import { configChanges, reloadedConfig, type ConfigChanges } from './config/reload.js';
import type { Config, ListenAddress } from './config/types.js';
import { isStrataError, StrataError } from './errors.js';
import { createLogger, type Logger } from './observability/logger.js';
import { AccessLog } from './observability/access-log.js';
import { registerNodeMetrics, RequestMetrics } from './observability/metrics.js';
import { NotStoredLog } from './observability/not-stored.js';
import { Stats } from './observability/stats.js';
import { TopMisses } from './observability/top-misses.js';
import { UpstreamPool } from './origin/pool.js';
import { DrainSet } from './routing/drain.js';
import { Router, type PoolFactory, type RoutePool } from './routing/router.js';
import { createRoutesAdmin } from './admin/routes.js';
import { createProxyHandler } from './pipeline/handle.js';
import type { FetchOutcome } from './pipeline/fetch-and-store.js';
import { Coalescer } from './coalesce/coalescer.js';
import { GuardSet } from './routing/guard/guard-set.js';
import { GuardConfigError } from './routing/guard/config-error.js';
import { Certificates, certificatesReloadStep, type CertificateReport } from './server/certificates.js';
import { Cluster, isClustered, peersReloadStep } from './cluster/cluster.js';
import { createListener, plainListener, type ClientListener } from './server/listener.js';
import { createRedirectHandler } from './server/redirect.js';
import { createSecureListener } from './server/secure-listener.js';
import { DiskTier } from './store/disk/tier.js';
import { MemoryTier } from './store/memory.js';
import { TieredStore } from './store/tiered.js';
import type { PurgedListener } from './store/types.js';
import { systemClock, type Clock } from './util/clock.js';
import { Recompressor } from './transform/recompress.js';
import { isDeepStrictEqual } from 'node:util';
import type { WorkerLinks } from './workers/plan.js';
import { nodeAdminView } from './workers/admin-view.js';
import { whenLinked } from './workers/linked.js';

export interface NodeDeps {
  clock?: Clock;
  logger?: Logger;
  /** Where logs go when no logger is given (tests pass a sink). */
  logDestination?: DestinationStream;
  /**
   * Re-reads the configuration from the sources the node started with (file,
   * flags, environment): what SIGHUP and POST /reload apply. Throws a
   * CONFIG_INVALID StrataError for an invalid one. Absent: reload() needs a Config.
   */
  loadConfig?: () => Readonly<Config>;
  /** Look-up of cluster.dns's host name (default: the system resolver; tests pass their own). */
  resolvePeers?: (host: string) => Promise<string[]>;
  /** A worker process's private loopback listeners (src/workers/plan.ts): same handlers, reached by the other workers. */
  links?: WorkerLinks;
  /** Listen only once the disk index loaded (a restarted worker: the other workers serve meanwhile, and what it stored is no miss). */
  listenAfterLoad?: boolean;
}

/**
 * How a feature outside the node's own components takes its live settings on a
 * reload (cluster peers, TLS certificate files...). Every reload runs every hook,
 * changed settings or not: a certificate file may have changed under the same name.
 */
export interface ReloadHook {
  /** Named in the refusal when check() throws, and in logs. */
  readonly name: string;
  /** Refuse the new configuration by throwing (a file that does not parse...): nothing has been applied yet. */
  check?(next: Readonly<Config>, running: Readonly<Config>): void | Promise<void>;
  /** Take the new configuration. Runs after the node's own components took theirs; should not throw once check() passed. */
  apply(next: Readonly<Config>, running: Readonly<Config>): void | Promise<void>;
}

export interface StrataNode {
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Re-read the configuration (through NodeDeps.loadConfig, or take `next`, an
   * already loaded one) and apply what can change live, without dropping a
   * connection or a request. Answers the changes applied and those needing a
   * restart; rejects with RELOAD_REFUSED (the running configuration unchanged)
   * when the new one is invalid. Reloads run one at a time.
   */
  reload(next?: Readonly<Config>): Promise<ConfigChanges>;
  /** Register a feature's reload step (see ReloadHook). */
  onReload(hook: ReloadHook): void;
  /** The configuration running now: the start-up one, then each reload's. */
  config(): Readonly<Config>;
  /** Bound addresses, after start(). */
  proxyAddress(): AddressInfo;
  adminAddress(): AddressInfo;
  readonly stats: Stats;
  /** The node's metrics (GET /metrics), read at scrape time. */
  readonly registry: Registry;
  /** The store, after start(). */
  store(): TieredStore;
  /** Resolves once the disk index has loaded (start() does not wait for it: CACHING.md, Start-up). */
  ready(): Promise<void>;
  readonly logger: Logger;
  /** Be told of every purge, right after the store applied it and before it is answered. */
  onPurged(hook: PurgedListener): void;
  /** Background recompression (compress.recompress), after start(); tests wait on its figures. */
  recompressor?: Recompressor;
  /**
   * Read the TLS certificate files again (every pair): new connections get the
   * new ones; a pair that fails its checks is refused and the old one kept.
   * Nothing to do without TLS.
   */
  reloadCertificates(): Promise<CertificateReport>;
  /** The plain-HTTP redirect listener's address (tls.redirectListen), after start(). */
  redirectAddress(): AddressInfo | undefined;
  /** The cluster, after start() (undefined: not clustered). */
  cluster(): Cluster | undefined;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** What one configuration builds: the request handlers and the sites, routes, pools and edge guard they use. */
interface Generation {
  config: Readonly<Config>;
  router: Router;
  guards: GuardSet;
  proxy: Handler;
  admin: Handler;
}

function listen(server: NetServer, addr: ListenAddress, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const why = err.code === 'EADDRINUSE' ? 'is in use' : err.code === 'EACCES' ? 'is not permitted' : `failed (${err.code ?? err.message})`;
      reject(new StrataError('LISTEN_FAILED', `${what}: ${addr.host}:${addr.port} ${why}`));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(addr.port, addr.host);
  });
}

/** The edge guards for `cfg` (keeping `previous`'s unchanged stages); a rule they cannot be built from (a private key file...) is CONFIG_INVALID. */
function buildGuards(cfg: Readonly<Config>, clock: Clock, previous?: GuardSet): GuardSet {
  const deps = { clock, readFile: (path: string) => readFileSync(path, 'utf8') };
  try {
    return previous ? previous.successor(cfg, deps) : new GuardSet(cfg, deps);
  } catch (err) {
    if (err instanceof GuardConfigError) throw new StrataError('CONFIG_INVALID', err.message);
    throw err;
  }
}

function refused(message: string): StrataError {
  return new StrataError('RELOAD_REFUSED', message);
}

export function createNode(config: Readonly<Config>, deps: NodeDeps = {}): StrataNode {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? createLogger(config.logLevel, config.nodeId, deps.logDestination);
  const stats = new Stats();
  const registry = new Registry();
  const requestMetrics = new RequestMetrics(registry);
  const access = new AccessLog(logger, config.nodeId);
  // The last refusal to store per URL, for GET /explain (bounded LRU).
  const notStored = new NotStoredLog(10_000);
  // The most-missed primary keys, for the dashboard (/stats topMisses; bounded).
  const topMisses = new TopMisses(1000);
  const startedAtMs = clock.now();
  let store: TieredStore | undefined;
  let coalescer: Coalescer<FetchOutcome> | undefined;
  let current: Generation | undefined;
  // Pools a reload replaced, finishing the requests they have in flight.
  const retiring = new Set<RoutePool>();
  // Upstreams an operator drains (admin API): never chosen by any pool, across reloads.
  const drains = new DrainSet();
  // Every route's pool, and the node's origin pool, are made here (routing/router.ts asks).
  const makePool: PoolFactory = (cfg, label) => new UpstreamPool(cfg, { logger: label === 'origin' ? logger : logger.child({ pool: label }), clock, isDrained: drains.isDrained });
  let proxy: ClientListener | undefined;
  let admin: Server | undefined;
  let redirect: Server | undefined;
  // Worker links: the proxy and admin handlers again, on loopback, for the other workers of this node.
  const linkServers: Server[] = [];
  let certificates: Certificates | undefined;
  let stopWatching = (): void => {};
  let cluster: Cluster | undefined;
  let stopping: Promise<void> | undefined;
  let clusterStarted = false;
  let reloading: Promise<unknown> = Promise.resolve();
  let requestSeq = 0;
  const nextRequestId = (): number => ++requestSeq;
  // Components holding in-flight state a purge must reach (coalesced fetches) add theirs here.
  const purgeHooks: PurgedListener[] = [];
  const reloadHooks: ReloadHook[] = [];

  const readiness = (): Readiness => ({
    listening: proxy?.server.listening === true && admin?.listening === true && stopping === undefined,
    diskLoaded: store !== undefined && !store.stats().disk.loading,
    upstreamAvailable: current?.router.anyAvailable() === true,
  });

  /** The handlers for `cfg` over `router`'s sites and pools and `guards`; the store and the coalescer are the node's. */
  function build(cfg: Readonly<Config>, router: Router, guards: GuardSet): Generation {
    const tiered = store!;
    const flights = coalescer!;
    const keyOf = (host: string, target: string) => router.purgeKey(host, target);
    const purger = new Purger({ token: cfg.admin.token, store: tiered, clock, logger, stats, keyOf, ...(cluster ? { cluster } : {}) });
    const purge = (req: IncomingMessage, res: ServerResponse, key: string, extra: string[], suffixed?: boolean) => purger.handleMethod(req, res, key, extra, suffixed);
    const recompressor = node.recompressor;
    const handler = createProxyHandler({ config: cfg, store: tiered, router, logger, stats, metrics: requestMetrics, clock, access, coalescer: flights, purge, notStored, topMisses, nextRequestId, guards, ...(recompressor ? { recompressor } : {}) , ...(cluster ? { cluster } : {}) });
    const adminPurge = (req: IncomingMessage, res: ServerResponse, peer?: string) => {
      purger.handleAdmin(req, res, peer).catch((err: unknown) => {
        logger.error({ err }, 'admin purge failed');
        res.destroy();
      });
    };
    const explain = createExplainRoute({
      token: cfg.admin.token,
      clock,
      originHost: router.pools()[0]?.host ?? '',
      targetedField: cfg.cache.targetedField.toLowerCase(),
      defaults: { staleWhileRevalidateS: cfg.cache.staleWhileRevalidateS, staleIfErrorS: cfg.cache.staleIfErrorS },
      store: tiered,
      notStored,
      hitForPass: (key) => flights.passing(key),
      keyOf,
    });
    const reload = createReloadRoute({ token: cfg.admin.token, reload: () => node.reload() });
    const adminHandler = createAdminHandler({
      nodeId: cfg.nodeId,
      allowedHosts: cfg.admin.hosts,
      stats,
      store: tiered,
      origin: router,
      startedAtMs,
      now: () => clock.now(),
      registry,
      readiness,
      purge: adminPurge,
      reload,
      explain,
      topMisses,
      routes: createRoutesAdmin({ token: cfg.admin.token, router, logger }),
      edge: () => guards.figures(),
      ...(cluster ? { cluster } : {}),
    });
    return { config: cfg, router, guards, proxy: handler, admin: adminHandler };
  }

  /** One reload: load, check, then apply (node components, then hooks). */
  async function reloadOnce(given: Readonly<Config> | undefined): Promise<ConfigChanges> {
    const running = current;
    if (!running || !proxy || stopping) throw refused('the node is not running');
    let loaded: Readonly<Config>;
    try {
      if (given) loaded = given;
      else if (deps.loadConfig) loaded = deps.loadConfig();
      else throw refused('this node has no configuration source to re-read (it was given a Config object)');
    } catch (err) {
      if (isStrataError(err) && err.source === 'config') throw refused(err.message);
      throw err;
    }
    const changes = configChanges(running.config, loaded);
    const next = reloadedConfig(running.config, loaded);
    for (const hook of reloadHooks) {
      try {
        await hook.check?.(next, running.config);
      } catch (err) {
        throw refused(`${hook.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    let guards = running.guards;
    if (!isDeepStrictEqual(running.config.edge, next.edge) || !isDeepStrictEqual(running.config.sites, next.sites)) {
      try {
        guards = buildGuards(next, clock, running.guards);
      } catch (err) {
        if (isStrataError(err) && err.source === 'config') throw refused(err.message);
        throw err;
      }
    }
    // From here on nothing refuses: each component takes its settings.
    // Sites and pools: unchanged ones carried over, changed ones succeeded (routing/router.ts).
    const unchanged = isDeepStrictEqual(running.config.origin, next.origin) && isDeepStrictEqual(running.config.sites, next.sites);
    const router = unchanged ? running.router : running.router.successor(next);
    logger.level = next.logLevel;
    access.levelChanged();
    coalescer!.reconfigure(next.coalesce.hitForPassS * 1000, next.coalesce.hitForPassMaxKeys);
    proxy.setLimits(next.limits);
    // New requests use the new generation; those in flight finish on the old one.
    current = build(next, router, guards);
    if (guards !== running.guards) {
      // Requests already past them keep going; the replaced auth stages' connections close once idle.
      void guards.retire().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'closing the edge guard stages a reload replaced failed'));
    }
    if (router !== running.router) {
      router.start();
      for (const old of router.retired()) {
        retiring.add(old);
        void old
          .close(true)
          .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'closing the upstream pool a reload replaced failed'))
          .finally(() => retiring.delete(old));
      }
    }
    for (const hook of reloadHooks) await hook.apply(next, running.config);
    return changes;
  }

  const node: StrataNode = {
    stats,
    registry,
    logger,
    config: () => current?.config ?? config,
    store: () => {
      if (!store) throw new Error('node not started');
      return store;
    },
    ready: () => (store ? store.disk.ready : Promise.reject(new Error('node not started'))),
    onPurged: (hook) => {
      purgeHooks.push(hook);
      store?.onPurged(hook);
    },
    onReload: (hook) => {
      reloadHooks.push(hook);
    },
    proxyAddress: () => proxy!.server.address() as AddressInfo,
    adminAddress: () => admin!.address() as AddressInfo,
    redirectAddress: () => (redirect?.address() ?? undefined) as AddressInfo | undefined,
    cluster: () => cluster,
    reloadCertificates: () => (certificates ? certificates.refresh(true) : Promise.resolve({ reloaded: [], refused: [] })),

    reload(next) {
      const run = reloading.then(() => reloadOnce(next));
      reloading = run.then(
        (changes) => {
          stats.inc('reloads');
          const level = changes.restartRequired.length > 0 ? 'warn' : 'info';
          logger[level]({ applied: changes.applied, restartRequired: changes.restartRequired }, changes.restartRequired.length > 0 ? 'configuration reloaded; some changes need a restart' : 'configuration reloaded');
        },
        (err: unknown) => {
          if (isStrataError(err) && err.code === 'RELOAD_REFUSED') stats.inc('reloadsRefused');
          logger.error({ code: isStrataError(err) ? err.code : 'INTERNAL' }, `reload refused, the running configuration stays: ${(err as Error).message}`);
        },
      );
      return run;
    },

    async start() {
      // First: a guard that cannot be built stops start-up before anything is opened.
      const guards = buildGuards(config, clock);
      // Certificates first: a bad file refuses start-up before anything is opened.
      if (config.tls.certificates.length > 0) certificates = await Certificates.load(config.tls.certificates, config.tls.minVersion, logger);
      const memory = new MemoryTier({ maxBytes: config.cache.memoryMaxBytes, maxObjectBytes: config.cache.memoryMaxObjectBytes, expire: expiredAt });
      const disk = await DiskTier.open({
        dir: config.cache.dir,
        maxBytes: config.cache.diskMaxBytes,
        logger,
        inUse: (key) => memory.has(key),
        expire: expiredAt,
        writeQueueMaxWrites: config.cache.diskWriteQueueMaxWrites,
        writeQueueMaxBytes: config.cache.diskWriteQueueMaxBytes,
        // Serve at once; a request for an entry not loaded yet is a miss (CACHING.md, Start-up).
        loadInBackground: true,
      });
      store = new TieredStore(memory, disk, logger);
      // Sites and routes, each route with its own pool (or the node's origin pool); drained upstreams are never chosen.
      const router = new Router(config, { makePool, drains });
      const flights = new Coalescer<FetchOutcome>(clock, config.coalesce.hitForPassS * 1000, config.coalesce.hitForPassMaxKeys);
      coalescer = flights;
      // A request after a purge must not join a fetch that began before it.
      store.onPurged((selector) => void flights.forget(flightMatcher(selector)));
      for (const hook of purgeHooks) store.onPurged(hook);
      const tiered = store;
      // One background recompression queue for the node, whatever reloads do to the handlers.
      if (config.compress.enabled && config.compress.recompress) node.recompressor = new Recompressor({ store, logger, stats, queueMax: config.compress.recompressQueueMax });
      if (isClustered(config)) {
        // Purges other nodes accepted, read from the purge bus, are applied by a purger of their own.
        const remote = new Purger({ token: '', store, clock, logger, stats });
        cluster = new Cluster(config, { logger, clock, ...(deps.resolvePeers ? { resolve: deps.resolvePeers } : {}), applyPurge: (p) => remote.applyRemote(p.selector, p.softAtMs, p.from, p.id) });
      }
      const gen = (current = build(config, router, guards));
      registerNodeMetrics(registry, {
        stats,
        tiers: () => tiered.stats(),
        upstreams: () => current!.router.upstreamFigures(),
        originCounts: () => current!.router.counts,
        hitForPassKeys: () => flights.passKeys,
        flights: () => flights.flightCount,
        ...(cluster ? { peers: () => cluster!.peerFigures() } : {}),
      });
      // Each request goes to the generation current when it arrives.
      const handler: Handler = (req, res) => current!.proxy(req, res);
      const onBadRequest = () => stats.inc('badRequests');
      const onSendTimeout = () => stats.inc('sendTimeouts');
      proxy = certificates
        ? createSecureListener(handler, { limits: config.limits, tls: config.tls, certificates, logger, onBadRequest, onSendTimeout })
        : plainListener(createListener(handler, { limits: config.limits, logger, onBadRequest, onSendTimeout }));
      if (certificates && config.tls.redirectListen) {
        const httpsPort = () => config.tls.redirectPort || node.proxyAddress().port;
        redirect = createListener(createRedirectHandler(config.limits, httpsPort, onBadRequest), { limits: config.limits, logger, onBadRequest });
      }
      // Every reload re-reads the certificate files (their names need a restart).
      if (certificates) reloadHooks.push(certificatesReloadStep(certificates));
      reloadHooks.push(peersReloadStep(cluster));
      const adminHandler: Handler = (req, res) => current!.admin(req, res);
      admin = createAdminListener(deps.links?.node ? nodeAdminView(adminHandler, deps.links.node.workers, deps.links.node.id) : adminHandler);
      try {
        // Replay-then-serve: purges this node missed (purge bus) before it listens.
        await cluster?.prepare();
        if (deps.links) {
          // A worker: first what the other workers reach it on, then (restarted: once its disk
          // index loaded) it waits to reach them, and only then takes clients (one fetch per node).
          // Worker 0's admin.listen is the node's address, opened after the shared proxy listener:
          // node:cluster shares a port-0 listener by the order of port-0 listens in each worker.
          if (!deps.links.admin) await listen(admin, config.admin.listen, 'admin.listen');
          // No per-client connection cap: every link connection comes from 127.0.0.1.
          const link = createListener(handler, { limits: { ...config.limits, maxConnectionsPerClient: 0 }, logger, onBadRequest });
          linkServers.push(link);
          await listen(link, deps.links.proxy, 'worker proxy link');
          if (deps.links.admin) {
            const adminLink = createAdminListener(adminHandler);
            linkServers.push(adminLink);
            await listen(adminLink, deps.links.admin, 'worker admin link');
          }
          if (deps.listenAfterLoad) await store.disk.ready;
          cluster?.start();
          clusterStarted = true;
          if (!(await whenLinked(() => cluster?.peerFigures()))) logger.warn('not every other worker answered within 10 s: serving; keys they own are fetched from the origin meanwhile');
          await listen(proxy.server, config.listen, 'listen');
          if (deps.links.admin) await listen(admin, config.admin.listen, 'admin.listen');
        } else {
          await listen(proxy.server, config.listen, 'listen');
          await listen(admin, config.admin.listen, 'admin.listen');
        }
        if (redirect && config.tls.redirectListen) await listen(redirect, config.tls.redirectListen, 'tls.redirectListen');
      } catch (err) {
        for (const s of linkServers) s.close();
        proxy.server.close();
        admin.close();
        await guards.close();
        redirect?.close();
        await cluster?.close();
        await router.close();
        await store.close();
        throw err;
      }
      logger.info(
        {
          listen: node.proxyAddress(),
          tls: certificates ? (config.tls.http2 ? 'h2, http/1.1' : 'http/1.1') : 'off',
          redirect: node.redirectAddress(),
          admin: node.adminAddress(),
          origin: router.pools().map((p) => p.name).join('; '),
          sites: config.sites.length === 0 ? 'none (one site: origin.upstreams)' : config.sites.map((site) => site.name).join(', '),
          balancer: config.origin.balancer,
          cacheDir: config.cache.dir,
          tiers: store.stats(),
          purge: config.admin.token === '' ? 'off: no admin token' : 'on',
        },
        'strata node started',
      );
      gen.router.start();
      if (!clusterStarted) cluster?.start();
      if (certificates) stopWatching = certificates.watch(config.tls.certCheckIntervalMs);
    },

    stop() {
      stopping ??= (async () => {
        if (!proxy || !admin || !store || !current) return;
        const graceMs = current.config.limits.shutdownGraceMs;
        logger.info('strata node stopping: no new connections; waiting for in-flight requests');
        stopWatching();
        const closed = new Promise<void>((resolve) => proxy!.server.close(() => resolve()));
        proxy.closeIdleConnections();
        admin.close();
        admin.closeAllConnections();
        redirect?.close();
        redirect?.closeAllConnections();
        for (const s of linkServers) {
          s.close();
          s.closeIdleConnections();
        }
        const grace = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
        const timedOut = (await Promise.race([closed, grace])) === 'timeout';
        if (timedOut) {
          logger.warn({ graceMs }, 'in-flight requests cut at the end of the shutdown grace');
          proxy.closeAllConnections();
          for (const s of linkServers) s.closeAllConnections();
          await closed;
        }
        // A reload in progress finishes first (it may be starting a pool).
        await reloading;
        await cluster?.close();
        // Past the grace, origin transfers still running (fills nobody waits for) are aborted.
        await Promise.all([current.router.close(!timedOut), ...[...retiring].map((pool) => pool.close(!timedOut))]);
        await current.guards.close();
        await node.recompressor?.close();
        await store.close();
        access.flush();
        logger.info({ ...stats.counters }, 'strata node stopped');
        logger.flush?.();
      })();
      return stopping;
    },
  };
  return node;
}
