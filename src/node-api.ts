// What a Strata node offers the code that starts it (cli.ts, workers, tests): its
// dependencies, its interface, and how features take part in a reload.

import type { AddressInfo } from 'node:net';
import type { DestinationStream } from 'pino';
import type { Registry } from 'prom-client';
import type { Cluster } from './cluster/cluster.js';
import type { ConfigChanges } from './config/reload.js';
import type { Config } from './config/types.js';
import type { Logger } from './observability/logger.js';
import type { Stats } from './observability/stats.js';
import type { CertificateReport } from './server/certificates.js';
import type { TieredStore } from './store/tiered.js';
import type { PurgedListener } from './store/types.js';
import type { Recompressor } from './transform/recompress.js';
import type { Clock } from './util/clock.js';
import type { WorkerLinks } from './workers/plan.js';

import type { RoutingOverrides } from './routing/overrides.js';

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
  /**
   * Workers: the admin API's routing changes the primary kept (`initial`, taken
   * before the node listens) and where each new change goes (`changed`).
   */
  routing?: { initial: RoutingOverrides | undefined; changed: (o: RoutingOverrides) => void };
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
