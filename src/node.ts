// Composition root: builds every long-lived component of one Strata node from a
// Config, and owns start/stop. The only place that constructs them.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DestinationStream } from 'pino';
import { Registry } from 'prom-client';
import { createAdminHandler, createAdminListener, type Readiness } from './admin/admin.js';
import { createExplainRoute } from './admin/explain.js';
import { flightMatcher, Purger } from './admin/purge.js';
import { expiredAt } from './cache/soft-purge.js';
import type { Config, ListenAddress } from './config/types.js';
import { StrataError } from './errors.js';
import { createLogger, type Logger } from './observability/logger.js';
import { AccessLog } from './observability/access-log.js';
import { registerNodeMetrics, RequestMetrics } from './observability/metrics.js';
import { NotStoredLog } from './observability/not-stored.js';
import { Stats } from './observability/stats.js';
import { TopMisses } from './observability/top-misses.js';
import { UpstreamPool } from './origin/pool.js';
import { createProxyHandler } from './pipeline/handle.js';
import type { FetchOutcome } from './pipeline/fetch-and-store.js';
import { Coalescer } from './coalesce/coalescer.js';
import { createListener } from './server/listener.js';
import { DiskTier } from './store/disk/tier.js';
import { MemoryTier } from './store/memory.js';
import { TieredStore } from './store/tiered.js';
import type { PurgedListener } from './store/types.js';
import { systemClock, type Clock } from './util/clock.js';

export interface NodeDeps {
  clock?: Clock;
  logger?: Logger;
  /** Where logs go when no logger is given (tests pass a sink). */
  logDestination?: DestinationStream;
}

export interface StrataNode {
  start(): Promise<void>;
  stop(): Promise<void>;
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
}

function listen(server: Server, addr: ListenAddress, what: string): Promise<void> {
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
  let store: TieredStore | undefined;
  let origin: UpstreamPool | undefined;
  let proxy: Server | undefined;
  let admin: Server | undefined;
  let stopping: Promise<void> | undefined;
  // Components holding in-flight state a purge must reach (coalesced fetches) add theirs here.
  const purgeHooks: PurgedListener[] = [];

  const readiness = (): Readiness => ({
    listening: proxy?.listening === true && admin?.listening === true && stopping === undefined,
    diskLoaded: store !== undefined && !store.stats().disk.loading,
    upstreamAvailable: origin?.anyAvailable() === true,
  });

  const node: StrataNode = {
    stats,
    registry,
    logger,
    store: () => {
      if (!store) throw new Error('node not started');
      return store;
    },
    ready: () => (store ? store.disk.ready : Promise.reject(new Error('node not started'))),
    onPurged: (hook) => {
      purgeHooks.push(hook);
      store?.onPurged(hook);
    },
    proxyAddress: () => proxy!.address() as AddressInfo,
    adminAddress: () => admin!.address() as AddressInfo,

    async start() {
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
      origin = new UpstreamPool(config.origin, { logger, clock });
      const coalescer = new Coalescer<FetchOutcome>(clock, config.coalesce.hitForPassS * 1000, config.coalesce.hitForPassMaxKeys);
      // A request after a purge must not join a fetch that began before it.
      store.onPurged((selector) => void coalescer.forget(flightMatcher(selector)));
      for (const hook of purgeHooks) store.onPurged(hook);
      const tiered = store;
      const pool = origin;
      registerNodeMetrics(registry, {
        stats,
        tiers: () => tiered.stats(),
        upstreams: () => pool.figures(),
        originCounts: () => pool.counts,
        hitForPassKeys: () => coalescer.passKeys,
        flights: () => coalescer.flightCount,
      });
      const purger = new Purger({ token: config.admin.token, store, clock, logger, stats });
      const purge = (req: IncomingMessage, res: ServerResponse, key: string, extra: string[]) => purger.handleMethod(req, res, key, extra);
      const handler = createProxyHandler({ config, store, origin, logger, stats, metrics: requestMetrics, clock, access, coalescer, purge, notStored, topMisses });
      proxy = createListener(handler, { limits: config.limits, logger, onBadRequest: () => stats.inc('badRequests'), onSendTimeout: () => stats.inc('sendTimeouts') });
      const adminPurge = (req: IncomingMessage, res: ServerResponse) => {
        purger.handleAdmin(req, res).catch((err: unknown) => {
          logger.error({ err }, 'admin purge failed');
          res.destroy();
        });
      };
      const explain = createExplainRoute({
        token: config.admin.token,
        clock,
        originHost: origin.host,
        targetedField: config.cache.targetedField.toLowerCase(),
        defaults: { staleWhileRevalidateS: config.cache.staleWhileRevalidateS, staleIfErrorS: config.cache.staleIfErrorS },
        store,
        notStored,
        hitForPass: (key) => coalescer.passing(key),
      });
      admin = createAdminListener(createAdminHandler({ nodeId: config.nodeId, allowedHosts: config.admin.hosts, stats, store, origin, startedAtMs: clock.now(), now: () => clock.now(), registry, readiness, purge: adminPurge, explain, topMisses }));
      try {
        await listen(proxy, config.listen, 'listen');
        await listen(admin, config.admin.listen, 'admin.listen');
      } catch (err) {
        proxy.close();
        admin.close();
        await origin.close();
        await store.close();
        throw err;
      }
      logger.info(
        {
          listen: node.proxyAddress(),
          admin: node.adminAddress(),
          origin: origin.name,
          balancer: config.origin.balancer,
          cacheDir: config.cache.dir,
          tiers: store.stats(),
          purge: config.admin.token === '' ? 'off: no admin token' : 'on',
        },
        'strata node started',
      );
      origin.start();
    },

    stop() {
      stopping ??= (async () => {
        if (!proxy || !admin || !store || !origin) return;
        logger.info('strata node stopping: no new connections; waiting for in-flight requests');
        const closed = new Promise<void>((resolve) => proxy!.close(() => resolve()));
        proxy.closeIdleConnections();
        admin.close();
        admin.closeAllConnections();
        const grace = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), config.limits.shutdownGraceMs).unref());
        const timedOut = (await Promise.race([closed, grace])) === 'timeout';
        if (timedOut) {
          logger.warn({ graceMs: config.limits.shutdownGraceMs }, 'in-flight requests cut at the end of the shutdown grace');
          proxy.closeAllConnections();
          await closed;
        }
        // Past the grace, origin transfers still running (fills nobody waits for) are aborted.
        await origin.close(!timedOut);
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
