// Sites and routes of one node, as the pipeline asks for them once per request:
// Host → site (sites.ts), path → route (longest prefix), then the side of a
// canary (shifting.ts), whose pool answers. Also what the admin API changes live:
// a route's canary weight, and drained upstreams (drain.ts).
//
// A node without `sites` is one implicit site answering every Host, with one
// route "/" to origin.upstreams: exactly the node it was before sites existed.
// Routes without an upstream of their own share that origin pool.
//
// The sites, routes and pools of one configuration are a RouteTable
// (route-table.ts). Pools are built by an injected factory (node.ts constructs
// long-lived components); the router owns their lifetime from then on (start, close).
//
// Reload: successor(next) is the router of a new configuration. A pool whose
// settings did not change is carried over as it is (health, figures and
// connections kept), a changed one is handed to its own successor when the pool
// offers one, else built anew; retired() names the old pools the new router does
// not use, to be closed once their requests finish. A canary weight changed live
// survives a reload that leaves the route's configured percent as it was; a new
// percent in the file wins.

import { keyedTarget, PLAIN_KEY } from '../cache/key.js';
import type { Config } from '../config/types.js';
import { isDeepStrictEqual } from 'node:util';
import type { HeaderMap } from '../http/headers.js';
import type { UpstreamFigures } from '../origin/pool.js';
import { DrainSet, type DrainStatus } from './drain.js';
import { routeFor } from './sites.js';
import { clientOf, routedPath } from '../http/patterns.js';
import { chooseSide } from './shifting.js';
import { applyCanaryWeights, keySuffixed, liveCanaryWeights, RouteTable, type PoolFactory, type Resolution, type LiveCanaryWeight, type Route, type RoutePool } from './route-table.js';

export interface RouterDeps {
  makePool: PoolFactory;
  /** Drained upstreams, which the pools the factory makes must consult. */
  drains: DrainSet;
  /** Pools reloads replaced that are not closed yet (routing/retiring.ts): a drain waits for their requests too. */
  retiring?: () => readonly RoutePool[];
  random?: () => number;
}

export class Router {
  private readonly table: RouteTable;
  readonly drains: DrainSet;
  private readonly random: () => number;
  private retiredPools: RoutePool[] = [];

  constructor(
    config: Readonly<Config>,
    private readonly deps: RouterDeps,
    poolFor: PoolFactory = deps.makePool,
  ) {
    this.random = deps.random ?? Math.random;
    this.drains = deps.drains;
    this.table = new RouteTable(config, poolFor);
  }

  /**
   * The router for a reloaded configuration (see the header). Call start() on
   * it, switch new requests to it, then close retired() once in-flight requests
   * are done.
   */
  successor(next: Readonly<Config>): Router {
    const before = new Map(this.table.pools.map((p) => [p.label, p]));
    const kept = new Set<RoutePool>();
    const poolFor: PoolFactory = (cfg, label) => {
      const old = before.get(label);
      if (old && isDeepStrictEqual(old.cfg, cfg)) {
        kept.add(old.pool);
        return old.pool;
      }
      return old?.pool.successor ? old.pool.successor(cfg) : this.deps.makePool(cfg, label);
    };
    const r = new Router(next, this.deps, poolFor);
    r.fresh = new Set(r.table.pools.map((p) => p.pool).filter((p) => !kept.has(p)));
    applyCanaryWeights(r.table, liveCanaryWeights(this.table.routes.values()));
    r.retiredPools = this.table.pools.map((p) => p.pool).filter((p) => !kept.has(p));
    return r;
  }

  /** Pools this router built itself (all of them, unless it is a successor): the ones start() starts. */
  private fresh: Set<RoutePool> | undefined;

  /** The previous router's pools this one does not use (after successor()). */
  retired(): RoutePool[] {
    return this.retiredPools;
  }

  /** The route side answering this request, or why none does. */
  resolve(host: string, target: string, headers: HeaderMap, client: { readonly remoteAddress?: string | undefined }): Resolution {
    if (this.table.only) return this.table.only;
    const site = this.table.hosts.match(host);
    if (site === undefined) return { kind: 'misdirected' };
    // Routes are chosen on the path as the origin resolves it (decoded, slashes merged, case
    // folded where the site says its origin ignores case): `/%61ccount/` is `/account/`'s.
    const route = routeFor(site.routes, routedPath(target, site.caseInsensitivePaths));
    if (route === undefined) return { kind: 'no-route', site: site.name };
    if (route.canary === undefined || route.split === undefined) return { kind: 'routed', to: route.primary };
    // The address is read only for a split by client (a socket getter otherwise spared), and as the
    // client the rate limit counts (clientOf): an IPv6 client by its /64, whose privacy addresses
    // rotate within it, an IPv4-mapped one (a dual-stack listener) as its IPv4 address.
    const choice = chooseSide(route.split, headers, route.split.by === 'client' ? clientOf(client.remoteAddress ?? '') : '', this.random);
    let to = choice.side === 'canary' ? route.canary : route.primary;
    // A side whose every upstream is drained hands its traffic to the other side.
    if (!to.pool.hasOpen()) {
      const other = to === route.canary ? route.primary : route.canary;
      if (other.pool.hasOpen()) to = other;
    }
    return choice.setCookie === undefined ? { kind: 'routed', to } : { kind: 'routed', to, setCookie: choice.setCookie };
  }

  /** How the route serving `host` and `target` keys it, for purges (undefined: no route, keys as given). */
  purgeKey(host: string, target: string): { target: string; suffixed: boolean } | undefined {
    const site = this.table.hosts.match(host);
    const route = site && routeFor(site.routes, routedPath(target, site.caseInsensitivePaths));
    if (!route || (route.key === PLAIN_KEY && !keySuffixed(route))) return undefined;
    return { target: keyedTarget(target, route.key), suffixed: keySuffixed(route) };
  }

  /**
   * The targets a purge by path (no host: every Host) must name: the path as given
   * and as each site's route for it keys it (query parameters ignored or sorted),
   * each once. A site whose route keeps the target as given adds nothing.
   */
  purgePathTargets(target: string): string[] {
    const out = [target];
    for (const site of this.table.sites) {
      const route = routeFor(site.routes, routedPath(target, site.caseInsensitivePaths));
      if (!route || route.key === PLAIN_KEY) continue;
      const keyed = keyedTarget(target, route.key);
      if (!out.includes(keyed)) out.push(keyed);
    }
    return out;
  }

  route(site: string, name: string): Route | undefined {
    return this.table.routes.get(`${site}/${name}`);
  }

  /** Take canary weights set live elsewhere (a restarted worker: routing/overrides.ts), as a reload would. */
  takeCanaryWeights(weights: readonly LiveCanaryWeight[]): void {
    applyCanaryWeights(this.table, weights);
  }

  /** Every route of every site. */
  routes(): Iterable<Route> {
    return this.table.routes.values();
  }

  /** Set a route's canary share (0-100); the error names what is wrong. */
  setCanaryPercent(site: string, name: string, percent: number): Route | string {
    const r = this.route(site, name);
    if (r === undefined) return `no route ${site}/${name}`;
    if (r.split === undefined) return `route ${site}/${name} has no canary`;
    r.split.percent = percent;
    return r;
  }

  /** Every pool, each once. */
  pools(): RoutePool[] {
    return this.table.pools.map((p) => p.pool);
  }

  /** Every upstream of every pool now (an upstream in two pools appears twice). */
  upstreams(): UpstreamFigures[] {
    return this.table.pools.flatMap((p) => p.pool.figures());
  }

  /**
   * One row per upstream URL for /metrics (label values must be unique): an
   * upstream listed by several pools has its counts summed, and is available when
   * some pool may choose it; its state is the first pool's.
   */
  upstreamFigures(): UpstreamFigures[] {
    const byName = new Map<string, UpstreamFigures>();
    for (const u of this.upstreams()) {
      const seen = byName.get(u.name);
      if (!seen) byName.set(u.name, { ...u });
      else {
        seen.inFlight += u.inFlight;
        seen.requests += u.requests;
        seen.failures += u.failures;
        seen.available ||= u.available;
        seen.ewmaMs = Math.max(seen.ewmaMs, u.ewmaMs);
      }
    }
    return [...byName.values()];
  }

  drain(name: string): DrainStatus | undefined {
    if (this.status(name) === undefined) return undefined;
    this.drains.drain(name);
    return this.status(name);
  }

  undrain(name: string): DrainStatus | undefined {
    if (this.status(name) === undefined) return undefined;
    this.drains.undrain(name);
    // A drain kept for an upstream no pool lists now: it is simply forgotten.
    return this.status(name) ?? { upstream: name, state: 'serving', inFlight: 0, pools: 0 };
  }

  /** Drained upstreams this router's pools list and `previous`'s did not (a reload adding one back): to be told. */
  drainedNewcomers(previous: Router): string[] {
    const before = new Set(previous.upstreams().map((u) => u.name));
    const now = new Set(this.upstreams().map((u) => u.name));
    return this.drains.names().filter((n) => now.has(n) && !before.has(n));
  }

  /** Over this router's pools and those reloads retired that still carry requests (an upstream they share with a newer pool counted once). */
  status(name: string): DrainStatus | undefined {
    const retiring = this.deps.retiring?.() ?? [];
    const loads = this.upstreams();
    for (const p of retiring) if (p.ownFigures) loads.push(...p.ownFigures());
    return this.drains.status(name, loads);
  }

  anyAvailable(): boolean {
    return this.table.pools.some((p) => p.pool.anyAvailable());
  }

  /** Start health checking on the pools this router built (a successor's carried-over pools run already). */
  start(): void {
    for (const p of this.table.pools) if (!this.fresh || this.fresh.has(p.pool)) p.pool.start();
  }

  close(graceful = true): Promise<void> {
    return Promise.all(this.table.pools.map((p) => p.pool.close(graceful))).then(() => undefined);
  }

  /** Summed over the pools, for /metrics. */
  get counts(): { retries: number; retriesRefused: number; allDownRequests: number } {
    let retries = 0;
    let retriesRefused = 0;
    let allDownRequests = 0;
    for (const p of this.table.pools) {
      retries += p.pool.counts.retries;
      retriesRefused += p.pool.counts.retriesRefused;
      allDownRequests += p.pool.counts.allDownRequests;
    }
    return { retries, retriesRefused, allDownRequests };
  }

  /**
   * /stats `origin`: the one pool as before when there is one; else the same
   * shape over every pool (each upstream row names its pool; the dashboard reads
   * it unchanged), each pool's own stats under `pools`, and the drained upstreams.
   */
  stats(): unknown {
    const pools = this.table.pools;
    if (pools.length === 1) return pools[0]!.pool.stats();
    const each = pools.map((p) => ({ label: p.label, stats: p.pool.stats() as { balancer?: string; upstreams?: Record<string, unknown>[] } }));
    return {
      balancer: [...new Set(each.map((p) => p.stats.balancer))].join(', '),
      ...this.counts,
      upstreams: each.flatMap((p) => (p.stats.upstreams ?? []).map((u) => ({ ...u, pool: p.label }))),
      pools: Object.fromEntries(each.map((p) => [p.label, p.stats])),
      drained: this.drains.names(),
    };
  }

  /** GET /routes: each site's routes, pools and canary weights. */
  describe(): unknown {
    // Maps, made objects last: a site or route may be named `constructor` or `toString`,
    // which a plain object would find on Object.prototype.
    const sites = new Map<string, Map<string, unknown>>();
    for (const r of this.table.routes.values()) {
      let routes = sites.get(r.site);
      if (routes === undefined) sites.set(r.site, (routes = new Map()));
      routes.set(r.name, {
        path: r.path,
        upstream: r.primary.pool.name,
        ...(r.canary && r.split
          ? { canary: { upstream: r.canary.pool.name, percent: r.split.percent, by: r.split.by, ...(r.split.name ? { name: r.split.name } : {}), keyApart: r.keyApart } }
          : {}),
        cache: r.cache,
        ...(r.guard === undefined ? {} : { guard: true }),
      });
    }
    return { sites: Object.fromEntries([...sites].map(([site, routes]) => [site, { routes: Object.fromEntries(routes) }])), drained: this.drains.names() };
  }
}
