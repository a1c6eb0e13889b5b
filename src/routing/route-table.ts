// One configuration's sites, routes and pools, as router.ts resolves requests
// over them: built whole from the configuration (the pools through an injected
// factory) and replaced whole on reload. Also the shapes the pipeline reads of a
// route (its side, its pool, its key options).

import { PLAIN_KEY, type KeyOptions } from '../cache/key.js';
import type { RouteGuardSpec } from '../config/route-guard.js';
import type { PoolSpec, RouteCacheSpec, RouteSpec, SiteSpec } from '../config/sites.js';
import type { Config, OriginConfig } from '../config/types.js';
import { routedPath } from '../http/patterns.js';
import type { OriginClient } from '../origin/client.js';
import type { UpstreamFigures } from '../origin/pool.js';
import { byLongestPrefix, HostTable } from './sites.js';
import type { Side, Split } from './shifting.js';

/** What the router needs of a pool (src/origin/pool.ts's UpstreamPool). */
export interface RoutePool extends OriginClient {
  start(): void;
  figures(): UpstreamFigures[];
  anyAvailable(): boolean;
  hasOpen(): boolean;
  readonly counts: { retries: number; retriesRefused: number; allDownRequests: number };
  /** A pool for changed settings that keeps what it can of this one (health, figures); this one is then retired. */
  successor?(cfg: OriginConfig): RoutePool;
  /** Replaced by a reload: stop what only a current pool does (health checks); requests routed here are still served until close(). */
  retire?(): void;
  /** The upstreams it closes itself (not handed to a successor): once retired, what it still carries. */
  ownFigures?(): UpstreamFigures[];
}

/** Builds a pool for `cfg`; `label` names it in logs and /stats. */
export type PoolFactory = (cfg: OriginConfig, label: string) => RoutePool;

export interface RouteSide {
  readonly route: Route;
  readonly side: Side;
  readonly pool: RoutePool;
  /** "site/route", "site/route#canary" for the access line; undefined for the implicit route (no sites). */
  readonly label: string | undefined;
}

export interface Route {
  readonly site: string;
  readonly name: string;
  /** The prefix as requests' paths are compared with it (routedPath: decoded, lower-cased under caseInsensitivePaths). */
  readonly path: string;
  /** Its site's caseInsensitivePaths: route prefixes and edge-filter paths matched ignoring case. */
  readonly caseInsensitivePaths: boolean;
  readonly cache: RouteCacheSpec;
  readonly key: KeyOptions;
  /** The route's own edge-guard rules (config `guard`, over the node-wide `edge`); undefined when none. */
  readonly guard: RouteGuardSpec | undefined;
  readonly primary: RouteSide;
  readonly canary: RouteSide | undefined;
  /** The canary split; its percent changes live (admin API, reload). */
  readonly split: Split | undefined;
  /** The canary percent the configuration gave (a live change survives a reload that keeps it). */
  readonly configuredPercent: number | undefined;
  /** The sides never share cache entries (the side is part of the key). */
  readonly keyApart: boolean;
}

/** Do some of the route's keys carry members after "#" (keyed headers or cookies, the canary side)? */
export function keySuffixed(route: Route): boolean {
  return route.key.headers.length > 0 || route.key.cookies.length > 0 || (route.keyApart && route.canary !== undefined);
}

export type Resolution =
  | { kind: 'routed'; to: RouteSide; setCookie?: string }
  | { kind: 'misdirected' }
  | { kind: 'no-route'; site: string };

export interface Site {
  name: string;
  /** Paths are compared lower-cased (config caseInsensitivePaths). */
  caseInsensitivePaths: boolean;
  routes: Route[];
}

export const IMPLICIT_SITE = 'default';
export const IMPLICIT_ROUTE = 'all';

/** The route's pool settings: its own upstreams, balancer and checks over the node's origin settings. */
export function poolConfig(origin: OriginConfig, spec: PoolSpec): OriginConfig {
  return {
    ...origin,
    upstreams: spec.upstreams.map((u) => ({ ...u, maxConnections: u.maxConnections === 0 ? origin.maxConnections : u.maxConnections })),
    balancer: spec.balancer ?? origin.balancer,
    healthCheck: { ...origin.healthCheck, ...spec.healthCheck },
  };
}

function keyOptions(c: RouteCacheSpec): KeyOptions {
  if (c.ignoreQuery.length === 0 && !c.sortQuery && c.keyHeaders.length === 0 && c.keyCookies.length === 0) return PLAIN_KEY;
  return { ignoreQuery: c.ignoreQuery, sortQuery: c.sortQuery, headers: c.keyHeaders, cookies: c.keyCookies };
}

const PLAIN_CACHE: RouteCacheSpec = { bypass: false, ignoreQuery: [], sortQuery: false, keyHeaders: [], keyCookies: [] };

interface LabelledPool {
  label: string;
  cfg: OriginConfig;
  pool: RoutePool;
}

/** One configuration's sites, routes and pools. Replaced whole on reload. */
export class RouteTable {
  readonly hosts: HostTable<Site>;
  readonly routes = new Map<string, Route>();
  readonly pools: LabelledPool[] = [];
  /** Every site, for what concerns them all (a purge by path). */
  readonly sites: Site[];
  /** No sites configured: one implicit site and route. */
  private readonly implicit: boolean;
  /** Without sites, every request's resolution: one object, no work per request. */
  readonly only: Resolution | undefined;

  constructor(config: Readonly<Config>, poolFor: PoolFactory) {
    this.implicit = config.sites.length === 0;
    const makePool = (cfg: OriginConfig, label: string): RoutePool => {
      const pool = poolFor(cfg, label);
      this.pools.push({ label, cfg, pool });
      return pool;
    };
    let originPool: RoutePool | undefined;
    const sharedOrigin = (): RoutePool => {
      originPool ??= makePool(config.origin, 'origin');
      return originPool;
    };
    const own = (spec: PoolSpec, label: string): RoutePool => makePool(poolConfig(config.origin, spec), label);
    const specs: readonly SiteSpec[] = config.sites.length > 0
      ? config.sites
      : [{ name: IMPLICIT_SITE, hosts: [], default: true, caseInsensitivePaths: false, routes: [{ name: IMPLICIT_ROUTE, path: '/', cache: PLAIN_CACHE }] }];
    const sites = specs.map((s) => {
      const routes = s.routes.map((r) => this.route(s, r, r.upstream ? own(r.upstream, `${s.name}/${r.name}`) : sharedOrigin(), own));
      for (const r of routes) this.routes.set(`${s.name}/${r.name}`, r);
      return { hosts: s.hosts, default: s.default, site: { name: s.name, caseInsensitivePaths: s.caseInsensitivePaths, routes: byLongestPrefix(routes) } };
    });
    this.hosts = new HostTable(sites);
    this.sites = sites.map((s) => s.site);
    if (this.implicit) this.only = { kind: 'routed', to: sites[0]!.site.routes[0]!.primary };
  }

  private route(siteSpec: SiteSpec, spec: RouteSpec, pool: RoutePool, own: (spec: PoolSpec, label: string) => RoutePool): Route {
    const c = spec.canary;
    const site = siteSpec.name;
    const r: { -readonly [K in keyof Route]: Route[K] } = {
      site,
      name: spec.name,
      // Compared with requests' routed paths (resolve()), so decoded (and lower-cased) the same way, once here.
      path: routedPath(spec.path, siteSpec.caseInsensitivePaths),
      caseInsensitivePaths: siteSpec.caseInsensitivePaths,
      cache: spec.cache,
      key: keyOptions(spec.cache),
      guard: spec.guard,
      primary: undefined as unknown as RouteSide,
      canary: undefined,
      split: c ? { percent: c.percent, by: c.by, name: c.name } : undefined,
      configuredPercent: c?.percent,
      keyApart: c?.keyApart ?? false,
    };
    const label = this.implicit ? undefined : `${site}/${spec.name}`;
    r.primary = { route: r, side: 'primary', pool, label };
    if (c) r.canary = { route: r, side: 'canary', pool: own(c.upstream, `${site}/${spec.name}#canary`), label: `${label}#canary` };
    return r;
  }
}

/** A canary weight set live (through the admin API), with the file's percent it overrode. */
export interface LiveCanaryWeight {
  site: string;
  route: string;
  configuredPercent: number | undefined;
  percent: number;
}

/** The canary weights of `routes` that differ from the file's. */
export function liveCanaryWeights(routes: Iterable<Route>): LiveCanaryWeight[] {
  const out: LiveCanaryWeight[] = [];
  for (const r of routes) {
    if (r.split !== undefined && r.split.percent !== r.configuredPercent) out.push({ site: r.site, route: r.name, configuredPercent: r.configuredPercent, percent: r.split.percent });
  }
  return out;
}

/**
 * Carry live weights onto a table's routes (a reload, a restarted worker): each only
 * while the file still gives the percent it overrode; a changed file wins (README).
 */
export function applyCanaryWeights(table: RouteTable, weights: readonly LiveCanaryWeight[]): void {
  for (const w of weights) {
    const r = table.routes.get(`${w.site}/${w.route}`);
    if (r?.split !== undefined && r.configuredPercent === w.configuredPercent) r.split.percent = w.percent;
  }
}
