// Composition root: builds every long-lived component of one Strata node from a
// Config, and owns start/stop/reload. The only place that constructs them.
//
// Reload: a generation is what a configuration builds per reload — the proxy and
// admin request handlers (with every option derived from the config) over an
// upstream pool (generation.ts builds one; node-api.ts is the node's interface). Listeners dispatch each new request to the current generation;
// a request keeps the generation it started in, so it finishes with the settings
// it began with: the upstream pools a reload retired are closed only once the
// older generations' requests (and the background fetches they started) are over,
// or limits.shutdownGraceMs after the reload at the latest (routing/retiring.ts).
// The store, the coalescer, the listeners and the metrics live across
// generations and take their live settings through small reconfigure steps. Other features register a ReloadHook (onReload) to take theirs. The
// edge guards (node-wide and per route) belong to a generation: each reload builds
// a successor set that re-reads the JWT key files and keeps every stage whose rules
// and key contents did not change (rate buckets and remembered decisions survive
// the reload, routing/guard/guard-set.ts); it is built before anything is applied,
// so a bad key file refuses the reload.

import { RequestBodyBudget } from './server/request-body-budget.js';
import { checkRequestBodyDir, requestBodyDirReloadStep } from './server/request-body-dir.js';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createAdminListener, type Readiness } from './admin/admin.js';
import { flightMatcher, Purger } from './admin/purge.js';
import { expiredAt } from './cache/soft-purge.js';
import { configChanges, reloadedConfig, type ConfigChanges } from './config/reload.js';
import type { Config } from './config/types.js';
import { isStrataError, StrataError } from './errors.js';
import { createLogger } from './observability/logger.js';
import { AccessLog } from './observability/access-log.js';
import { registerNodeMetrics, RequestMetrics } from './observability/metrics.js';
import { NotStoredLog } from './observability/not-stored.js';
import { Stats } from './observability/stats.js';
import { TopMisses } from './observability/top-misses.js';
import { UpstreamPool } from './origin/pool.js';
import { DrainSet } from './routing/drain.js';
import { RetiringPools } from './routing/retiring.js';
import { applyRoutingOverrides, routingOverrides } from './routing/overrides.js';
import { Router } from './routing/router.js';
import type { PoolFactory } from './routing/route-table.js';
import type { MissFlights } from './pipeline/context.js';
import { Coalescer } from './coalesce/coalescer.js';
import { GuardSet } from './routing/guard/guard-set.js';
import { Certificates, certificatesReloadStep } from './server/certificates.js';
import { Cluster, isClustered, peersReloadStep } from './cluster/cluster.js';
import type { ClientListener, ProxyListener } from './server/listener.js';
import { LinkListeners } from './workers/link-listeners.js';
import { createClientListeners } from './server/client-listeners.js';
import { openTiers } from './store/open-tiers.js';
import { startedFields } from './observability/started.js';
import { unusedDirsOf } from './workers/unused-dirs.js';
import type { TieredStore } from './store/tiered.js';
import type { PurgedListener } from './store/types.js';
import { systemClock } from './util/clock.js';
import { Recompressor } from './transform/recompress.js';
import { isDeepStrictEqual } from 'node:util';
import { buildGeneration, buildGuards, type Generation, type Handler } from './generation.js';
import type { InFlightRefusals } from './pipeline/refused.js';
import type { NodeDeps, ReloadHook, StrataNode } from './node-api.js';
import { listen } from './server/listen.js';

export type { NodeDeps, ReloadHook, StrataNode } from './node-api.js';
import { HeapGrowth } from './util/heap-growth.js';
import { nodeAdminView } from './workers/admin-view.js';
import { diskPrimaryKeys, workerMisses } from './workers/worker-fetch.js';
import type { WorkerLocks } from './workers/lock-links.js';

function refused(message: string): StrataError {
  return new StrataError('RELOAD_REFUSED', message);
}

export function createNode(config: Readonly<Config>, deps: NodeDeps = {}): StrataNode {
  const clock = deps.clock ?? systemClock;
  const stats = new Stats();
  const logger = deps.logger ?? createLogger(config.logLevel, config.nodeId, deps.logDestination, (lines) => stats.inc('logLinesDropped', lines));
  // With workers: requests from the other workers (the worker link), counted apart from the clients'.
  const linkStats = deps.links ? new Stats() : undefined;
  const registry = new Registry();
  const requestMetrics = new RequestMetrics(registry);
  const access = new AccessLog(logger, config.nodeId);
  // The last refusal to store per URL, for GET /explain (bounded LRU).
  const notStored = new NotStoredLog();
  // The most-missed primary keys, for the dashboard (/stats topMisses; bounded).
  const topMisses = new TopMisses(1000);
  const startedAtMs = clock.now();
  let store: TieredStore | undefined;
  let coalescer: MissFlights | undefined;
  let current: Generation | undefined;
  // Pools a reload replaced, finishing the requests routed to them before it.
  const retiring = new RetiringPools(logger);
  // Upstreams an operator drains (admin API): never chosen by any pool, across reloads.
  const drains = new DrainSet();
  // Every route's pool, and the node's origin pool, are made here (routing/router.ts asks).
  const makePool: PoolFactory = (cfg, label) => new UpstreamPool(cfg, { logger: label === 'origin' ? logger : logger.child({ pool: label }), clock, isDrained: drains.isDrained });
  let proxy: ClientListener | undefined;
  let admin: Server | undefined;
  let redirect: ProxyListener | undefined;
  // Worker links: the proxy and admin handlers again, on loopback, for the other workers of this node.
  const links = new LinkListeners();
  let certificates: Certificates | undefined;
  let stopWatching = (): void => {};
  let cluster: Cluster | undefined;
  // With workers: the per-key locks and the links between them (workers/lock-links.ts).
  let workerLocks: WorkerLocks | undefined;
  let stopping: Promise<void> | undefined;
  let clusterStarted = false;
  let reloading: Promise<unknown> = Promise.resolve();
  let requestSeq = 0;
  const nextRequestId = (): number => ++requestSeq;
  const inFlightRefusals: InFlightRefusals = new WeakMap(); // one for every generation (generation.ts NodeShared)
  // Components holding in-flight state a purge must reach (coalesced fetches) add theirs here.
  const purgeHooks: PurgedListener[] = [];
  const reloadHooks: ReloadHook[] = [];
  // Read at each reservation: a reload's budgets apply at once.
  const requestBodies = new RequestBodyBudget(() => (current?.config ?? config).limits);
  const heapGrowth = new HeapGrowth(config.cache.heapGrowthPercent, config.cache.memoryMaxBytes);

  const readiness = (): Readiness => ({
    listening: proxy?.server.listening === true && admin?.listening === true && stopping === undefined,
    diskLoaded: store !== undefined && !store.stats().disk.loading,
  });

  /** The handlers for `cfg` over `router`'s sites and pools and `guards`; the store and the coalescer are the node's. */
  const build = (cfg: Readonly<Config>, router: Router, guards: GuardSet): Generation =>
    buildGeneration(
      { store: store!, coalescer: coalescer!, cluster, clock, logger, stats, linkStats, registry, requestMetrics, access, notStored, topMisses, nextRequestId, readiness, startedAtMs, recompressor: node.recompressor, requestBodies, inFlightRefusals, reload: () => node.reload(), routingChanged: deps.routing ? (r) => deps.routing!.changed(routingOverrides(r)) : undefined },
      cfg,
      router,
      guards,
    );

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
    // Rebuilt on every reload, since key files are read again (a withdrawn JWT key must stop verifying);
    // every stage whose rules and key contents are unchanged is kept, with its state.
    let guards: GuardSet;
    try {
      guards = buildGuards(next, clock, running.guards);
    } catch (err) {
      if (isStrataError(err) && err.source === 'config') throw refused(err.message);
      throw err;
    }
    // From here on nothing refuses: each component takes its settings.
    // Sites and pools: unchanged ones carried over, changed ones succeeded (routing/router.ts).
    const unchanged = isDeepStrictEqual(running.config.origin, next.origin) && isDeepStrictEqual(running.config.sites, next.sites);
    const router = unchanged ? running.router : running.router.successor(next);
    logger.level = next.logLevel;
    access.levelChanged();
    coalescer!.reconfigure(next.coalesce.hitForPassS * 1000, { maxKeys: next.coalesce.hitForPassMaxKeys, maxKeyBytes: next.coalesce.hitForPassMaxKeyBytes });
    proxy.setLimits(next.limits);
    redirect?.setLimits(next.limits);
    links.setLimits(next.limits);
    // New requests use the new generation; those in flight finish on the old one.
    current = build(next, router, guards);
    if (guards !== running.guards) {
      // Requests already past them keep going; the replaced auth stages' connections close once idle.
      void guards.retire().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'closing the edge guard stages a reload replaced failed'));
    }
    if (router !== running.router) {
      router.start();
      // A drain outlives the reload that removed its upstream (routing/drain.ts): one added back is still out of rotation.
      for (const upstream of router.drainedNewcomers(running.router)) logger.warn({ upstream }, 'a reload lists an upstream drained through the admin API: it takes no requests until POST /upstreams/undrain');
    }
    // A request routed before now may reach its pool much later (routing/retiring.ts).
    retiring.reloaded(running.work, router !== running.router ? router.retired() : [], next.limits.shutdownGraceMs);
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
      // First: a guard that cannot be built, or a spool directory that cannot be written, stops start-up before anything is opened.
      const guards = buildGuards(config, clock);
      await checkRequestBodyDir(config.limits.requestBodyDir);
      reloadHooks.push(requestBodyDirReloadStep);
      // Certificates first: a bad file refuses start-up before anything is opened.
      if (config.tls.certificates.length > 0) certificates = await Certificates.load(config.tls.certificates, config.tls.minVersion, logger);
      // The process holds the tiers' budgets plus V8's slack: keep that slack proportionate (util/heap-growth.ts).
      heapGrowth.start();
      // Worker directories a start with more workers left: this process keeps them purged when it serves the root.
      const tiers = await openTiers(config.cache, expiredAt, logger, await unusedDirsOf(config.cache.dir, deps.links ? config.cluster.peers.length : 1));
      // Stopped while the tiers opened (stop() found nothing to close): nothing more opens.
      if (stopping) {
        await tiers.store.close();
        heapGrowth.stop();
        return;
      }
      const disk = tiers.disk;
      store = tiers.store;
      // Sites and routes, each route with its own pool (or the node's origin pool); drained upstreams are never chosen.
      const router = new Router(config, { makePool, drains, retiring: () => retiring.list() });
      if (deps.routing?.initial) applyRoutingOverrides(router, deps.routing.initial);
      const flights: MissFlights = new Coalescer(clock, config.coalesce.hitForPassS * 1000, { maxKeys: config.coalesce.hitForPassMaxKeys, maxKeyBytes: config.coalesce.hitForPassMaxKeyBytes });
      coalescer = flights;
      // A request after a purge or an invalidation must not join a fetch that began before it.
      store.onPurged((selector) => void flights.forget(flightMatcher(selector)));
      store.onInvalidated((primaryKey) => flights.forgetUri(primaryKey));
      for (const hook of purgeHooks) store.onPurged(hook);
      const tiered = store;
      // One background recompression queue for the node, whatever reloads do to the handlers.
      if (config.compress.enabled && config.compress.recompress) node.recompressor = new Recompressor({ store, logger, stats, queueMax: config.compress.recompressQueueMax });
      if (isClustered(config)) {
        // Purges other nodes accepted, read from the purge bus, are applied by a purger of their own.
        const remote = new Purger({ token: '', store, clock, logger, stats });
        let diskLoaded = false;
        void disk.ready.then(() => {
          diskLoaded = true;
          if (clusterStarted) void workerLocks?.announce();
        });
        const misses = deps.links ? workerMisses(deps.links.locks, config.cluster.peers.map((p) => p.id), logger, () => (diskLoaded ? diskPrimaryKeys(disk) : undefined)) : undefined;
        workerLocks = misses?.locks;
        const c = (cluster = new Cluster(config, { logger, clock, ...(deps.resolvePeers ? { resolve: deps.resolvePeers } : {}), applyPurge: (p) => remote.applyRemote(p.selector, p.softAtMs, p.from, p.id), purges: store, maxHeaderBytes: () => (current?.config ?? config).limits.maxHeaderBytes, ...(misses ? { workers: misses.workers } : {}) }));
        misses?.locks.watchHealth((w) => c.workerDown(w));
      }
      const gen = (current = build(config, router, guards));
      registerNodeMetrics(registry, {
        stats,
        ...(linkStats ? { linkStats } : {}),
        tiers: () => tiered.stats(),
        upstreams: () => current!.router.upstreamFigures(),
        originCounts: () => current!.router.counts,
        hitForPassKeys: () => flights.passKeys,
        flights: () => flights.flightCount,
        ...(cluster ? { peers: () => cluster!.peerFigures() } : {}),
      });
      // Each request, and each refusal the listener answers itself, goes to the generation current when it arrives.
      ({ proxy, redirect } = createClientListeners({
        config,
        certificates,
        logger,
        stats,
        handler: (req, res) => current!.proxy(req, res),
        onRefused: (r) => current!.refused(r),
        limits: () => (current?.config ?? config).limits,
        httpsPort: () => config.tls.redirectPort || node.proxyAddress().port,
      }));
      // Every reload re-reads the certificate files (their names need a restart).
      if (certificates) reloadHooks.push(certificatesReloadStep(certificates));
      reloadHooks.push(peersReloadStep(cluster));
      const adminHandler: Handler = (req, res) => current!.admin(req, res);
      admin = createAdminListener(deps.links?.node ? nodeAdminView(adminHandler, (req, res) => current!.admin.refused(req, res), deps.links.node.workers, deps.links.node.id) : adminHandler);
      try {
        // Replay-then-serve: purges this node missed (purge bus) before it listens.
        await cluster?.prepare();
        if (deps.links) {
          // A worker: first what the other workers reach it on, then (restarted: once its disk
          // index loaded) it waits to reach them, and only then takes clients (one fetch per node).
          // Worker 0's admin.listen is the node's address, opened after the shared proxy listener:
          // node:cluster shares a port-0 listener by the order of port-0 listens in each worker.
          // Its lock link before anything that tells the other workers it is up (/healthz). They
          // fetch over its proxy link, opened with its admin link: never `starting` for them.
          cluster?.serving();
          await workerLocks?.listen();
          if (!deps.links.admin) await listen(admin, config.admin.listen, 'admin.listen');
          // Its requests are another worker's misses: counted apart (linkStats), not as the node's requests.
          await links.openProxy((req, res) => current!.link(req, res), (r) => current!.linkRefused(r), config.limits, logger, deps.links.proxy);
          if (deps.links.admin) await links.openAdmin(adminHandler, deps.links.admin);
          if (deps.listenAfterLoad) await store.disk.ready;
          clusterStarted = cluster !== undefined;
          // A worker that does not answer is being started by the primary, not down: it is waited for.
          await cluster?.startAndWait({ downSettles: false });
          // Stopped while it waited: stop() closes what was opened, nothing more opens, and
          // start() returns once the stop is over (its caller sees a stopped node, not listening).
          if (stopping) return await stopping;
          await workerLocks?.announce();
          await listen(proxy.server, config.listen, 'listen');
          if (deps.links.admin) await listen(admin, config.admin.listen, 'admin.listen');
        } else {
          // Peers probe /healthz and deliver purges on the admin listener: it opens first, and
          // clients are taken once the peers delivered what they accepted while this node was
          // down (a peer whose probe fails is not waited for: cluster/start-wait.ts).
          await listen(admin, config.admin.listen, 'admin.listen');
          clusterStarted = cluster !== undefined;
          await cluster?.startAndWait({ downSettles: true });
          if (stopping) return await stopping;
          await listen(proxy.server, config.listen, 'listen');
          cluster?.serving();
        }
        if (redirect && config.tls.redirectListen) await listen(redirect, config.tls.redirectListen, 'tls.redirectListen');
      } catch (err) {
        links.close();
        proxy.server.close();
        admin.close();
        await guards.close();
        redirect?.close();
        await cluster?.close();
        await workerLocks?.close();
        await router.close();
        await store.close();
        throw err;
      }
      logger.info(startedFields(config, node, router.pools(), store.stats(), certificates !== undefined), 'strata node started');
      gen.router.start();
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
        links.close();
        const grace = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
        const timedOut = (await Promise.race([closed, grace])) === 'timeout';
        if (timedOut) {
          logger.warn({ graceMs }, 'in-flight requests cut at the end of the shutdown grace');
          proxy.closeAllConnections();
          links.closeAllConnections();
          await closed;
        }
        // A reload in progress finishes first (it may be starting a pool).
        await reloading;
        await cluster?.close();
        await workerLocks?.close();
        // Past the grace, origin transfers still running (fills nobody waits for) are aborted.
        await Promise.all([current.router.close(!timedOut), retiring.close(!timedOut)]);
        await current.guards.close();
        await node.recompressor?.close();
        await store.close();
        heapGrowth.stop();
        access.flush();
        logger.info({ ...stats.counters }, 'strata node stopped');
        logger.flush?.();
      })();
      return stopping;
    },
  };
  return node;
}
