// The value of the `sites` setting: several sites on one node, each chosen by
// Host, each with routes chosen by path prefix (src/routing/). Written in YAML as
// a mapping of site name → site and, inside, route name → route; a flag or env
// value is the same structure as a YAML or JSON string. Parsed once into the
// ordered, named form Config carries. Every problem is a Problem whose `at` is
// the path inside the value (".shop.routes.api.canary.percent"), so load.ts
// prints "sites.shop.routes.api.canary.percent: 120 is too large (...)".
//
// Invariants of a parsed value: names are tokens; each host pattern belongs to
// one site; at most one site is the default; route paths are unique in a site;
// a canary's `name` is set when it splits by cookie or header.

import { routedPath } from '../http/patterns.js';
import { parse as parseYaml } from 'yaml';
import { BALANCER_NAMES } from './schema/origin.js';
import type { BalancerName } from './types.js';
import { formatRouteGuard, parseRouteGuard, type RouteGuardSpec } from './route-guard.js';
import { count, duration, isMapping, type Kind, oneOf, onOff, Problem, requestPath, seconds, show } from './kinds.js';
import { fieldNames, statusRanges, type StatusRanges } from './list-kinds.js';
import { upstreams, type UpstreamConfig } from './upstream-kinds.js';

/** An upstream pool of a route: its upstreams, and what differs from the node's `origin` settings. */
export interface PoolSpec {
  upstreams: UpstreamConfig[];
  balancer?: BalancerName;
  healthCheck?: Partial<{ path: string; intervalMs: number; timeoutMs: number; healthyThreshold: number; unhealthyThreshold: number; expectStatuses: StatusRanges }>;
}

export const SPLIT_BY = ['random', 'cookie', 'header', 'client'] as const;
export type SplitBy = (typeof SPLIT_BY)[number];

/** A second pool taking a share of a route's traffic (canary, or B of an A/B test). */
export interface CanarySpec {
  upstream: PoolSpec;
  /** Share of requests (or of users, when split by cookie, header or client) sent to the canary, 0-100. */
  percent: number;
  by: SplitBy;
  /** The cookie or header whose value keeps a user on one side. */
  name: string;
  /** The two sides never share cache entries. */
  keyApart: boolean;
}

export interface RouteCacheSpec {
  /** Pass every request through, nothing stored or served from the cache. */
  bypass: boolean;
  /** Query parameters left out of the key; ['*'] for the whole query. */
  ignoreQuery: string[];
  sortQuery: boolean;
  keyHeaders: string[];
  keyCookies: string[];
  /** Lifetime of responses without explicit freshness (instead of the heuristic); undefined: the node's rule. */
  defaultTtlS?: number;
  staleWhileRevalidateS?: number;
  staleIfErrorS?: number;
  staleIfDisconnectedS?: number;
}

export interface RouteSpec {
  name: string;
  /** Path prefix, "/" for everything. */
  path: string;
  /** Absent: the node's own origin pool (origin.upstreams). */
  upstream?: PoolSpec;
  canary?: CanarySpec;
  cache: RouteCacheSpec;
  /** The route's own edge-guard rules (./route-guard.ts): the kinds it names replace the node-wide `edge` ones. */
  guard?: RouteGuardSpec;
}

export interface SiteSpec {
  name: string;
  /** Exact names and wildcards ("*.example.com"), lower-case, no port. */
  hosts: string[];
  /** Requests for a Host no site names land here (instead of 421). */
  default: boolean;
  /**
   * Route prefixes and edge-filter paths are matched ignoring case (against the
   * lower-cased decoded path), as Express, IIS and ASP.NET resolve paths; the key and
   * the target sent upstream keep the case sent. Default true (CACHING.md).
   */
  caseInsensitivePaths: boolean;
  routes: RouteSpec[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const HOST_LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOST_PATTERN = new RegExp(`^(?:\\*\\.)?${HOST_LABEL}(?:\\.${HOST_LABEL})*$`);

function at<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof Problem) throw new Problem(err.message, where + err.at);
    throw err;
  }
}

function mapping(raw: unknown, expected: string): Record<string, unknown> {
  if (!isMapping(raw)) throw new Problem(`${show(raw)} is not a mapping (expected ${expected})`);
  return raw;
}

function onlyKeys(m: Record<string, unknown>, allowed: readonly string[]): void {
  const unknown = Object.keys(m).find((k) => !allowed.includes(k));
  if (unknown !== undefined) throw new Problem(`unknown key ${JSON.stringify(unknown)} (expected ${allowed.join(', ')})`);
}

function name(raw: string): string {
  if (!NAME.test(raw)) throw new Problem(`${JSON.stringify(raw)} is not a name (expected letters, digits and -._, e.g. shop)`);
  return raw;
}

function percent(raw: unknown): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > 100) throw new Problem(`${show(raw)} is not a percentage (expected a number from 0 to 100, e.g. 5)`);
  return n;
}

const POOL_KEYS = ['upstreams', 'url', 'balancer', 'healthCheck'] as const;
const HEALTH_KEYS = ['path', 'intervalMs', 'timeoutMs', 'healthyThreshold', 'unhealthyThreshold', 'expectStatuses'] as const;

function onceEach(list: UpstreamConfig[]): UpstreamConfig[] {
  const seen = new Set<string>();
  list.forEach((u, i) => {
    if (seen.has(u.url)) throw new Problem(`"${u.url}" is listed twice (expected each upstream once; use weight for a larger share)`, `[${i}]`);
    seen.add(u.url);
  });
  return list;
}

/** A URL, a list of upstreams, or a mapping with upstreams (or url), balancer and healthCheck. */
function pool(raw: unknown): PoolSpec {
  if (!isMapping(raw)) return { upstreams: onceEach(upstreams().parse(raw)) };
  onlyKeys(raw, POOL_KEYS);
  const list = raw['upstreams'] ?? raw['url'];
  if (list === undefined) throw new Problem('missing upstreams (expected upstreams: [http://HOST:PORT, ...])');
  const out: PoolSpec = { upstreams: at('.upstreams', () => onceEach(upstreams().parse(list))) };
  if (raw['balancer'] !== undefined) out.balancer = at('.balancer', () => oneOf(BALANCER_NAMES, 'a balancer').parse(raw['balancer']));
  if (raw['healthCheck'] !== undefined) {
    const h = at('.healthCheck', () => mapping(raw['healthCheck'], `keys ${HEALTH_KEYS.join(', ')}`));
    at('.healthCheck', () => onlyKeys(h, HEALTH_KEYS));
    const hc: NonNullable<PoolSpec['healthCheck']> = {};
    if (h['path'] !== undefined) hc.path = at('.healthCheck.path', () => requestPath().parse(h['path']));
    if (h['intervalMs'] !== undefined) hc.intervalMs = at('.healthCheck.intervalMs', () => duration({ min: 1 }).parse(h['intervalMs']));
    if (h['timeoutMs'] !== undefined) hc.timeoutMs = at('.healthCheck.timeoutMs', () => duration({ min: 1 }).parse(h['timeoutMs']));
    if (h['healthyThreshold'] !== undefined) hc.healthyThreshold = at('.healthCheck.healthyThreshold', () => count({ min: 1 }).parse(h['healthyThreshold']));
    if (h['unhealthyThreshold'] !== undefined) hc.unhealthyThreshold = at('.healthCheck.unhealthyThreshold', () => count({ min: 1 }).parse(h['unhealthyThreshold']));
    if (h['expectStatuses'] !== undefined) hc.expectStatuses = at('.healthCheck.expectStatuses', () => statusRanges().parse(h['expectStatuses']));
    out.healthCheck = hc;
  }
  return out;
}

const CANARY_KEYS = ['upstream', 'percent', 'by', 'name', 'keyApart'] as const;

function canary(raw: unknown): CanarySpec {
  const m = mapping(raw, `keys ${CANARY_KEYS.join(', ')}`);
  onlyKeys(m, CANARY_KEYS);
  if (m['upstream'] === undefined) throw new Problem('missing upstream (expected the canary pool: a URL, a list or a mapping with upstreams)');
  const by = m['by'] === undefined ? 'random' : at('.by', () => oneOf(SPLIT_BY, 'a split').parse(m['by']));
  const n = m['name'];
  if ((by === 'cookie' || by === 'header') && (typeof n !== 'string' || n.trim() === '')) {
    throw new Problem(`missing name (expected the ${by} that keeps a user on one side, e.g. name: ${by === 'cookie' ? 'strata-canary' : 'X-User-Id'})`);
  }
  const fieldName = typeof n === 'string' ? at('.name', () => fieldNames('strata-canary').parse(n)[0] ?? '') : '';
  return {
    upstream: at('.upstream', () => pool(m['upstream'])),
    percent: m['percent'] === undefined ? 0 : at('.percent', () => percent(m['percent'])),
    by,
    // Header names are case-insensitive; cookie names are not, so they keep their case.
    name: by === 'cookie' && typeof n === 'string' ? n.trim() : fieldName,
    keyApart: m['keyApart'] === undefined ? true : at('.keyApart', () => onOff().parse(m['keyApart'])),
  };
}

const CACHE_KEYS = ['bypass', 'ignoreQuery', 'sortQuery', 'keyHeaders', 'keyCookies', 'defaultTtlS', 'staleWhileRevalidateS', 'staleIfErrorS', 'staleIfDisconnectedS'] as const;

function queryNames(raw: unknown): string[] {
  if (raw === true || raw === '*' || raw === 'all') return ['*'];
  if (raw === false) return [];
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',').filter((s) => s.trim() !== '') : undefined;
  if (items === undefined) throw new Problem(`${show(raw)} is not a list of query parameters (expected names, e.g. [utm_source, fbclid], or all)`);
  return items.map((i) => {
    if (typeof i !== 'string' || i.trim() === '') throw new Problem(`${show(i)} is not a query parameter name (expected e.g. utm_source)`);
    return i.trim();
  });
}

function cookieNames(raw: unknown): string[] {
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',').filter((s) => s.trim() !== '') : undefined;
  if (items === undefined) throw new Problem(`${show(raw)} is not a list of cookie names (expected e.g. [lang])`);
  return items.map((i) => {
    if (typeof i !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(i.trim())) throw new Problem(`${show(i)} is not a cookie name (expected e.g. lang)`);
    return i.trim();
  });
}

function routeCache(raw: unknown): RouteCacheSpec {
  const m = raw === undefined || raw === null ? {} : mapping(raw, `keys ${CACHE_KEYS.join(', ')}`);
  onlyKeys(m, CACHE_KEYS);
  const out: RouteCacheSpec = {
    bypass: m['bypass'] === undefined ? false : at('.bypass', () => onOff().parse(m['bypass'])),
    ignoreQuery: m['ignoreQuery'] === undefined ? [] : at('.ignoreQuery', () => queryNames(m['ignoreQuery'])),
    sortQuery: m['sortQuery'] === undefined ? false : at('.sortQuery', () => onOff().parse(m['sortQuery'])),
    keyHeaders: m['keyHeaders'] === undefined ? [] : at('.keyHeaders', () => fieldNames('X-Device').parse(m['keyHeaders'])),
    keyCookies: m['keyCookies'] === undefined ? [] : at('.keyCookies', () => cookieNames(m['keyCookies'])),
  };
  for (const k of ['defaultTtlS', 'staleWhileRevalidateS', 'staleIfErrorS', 'staleIfDisconnectedS'] as const) {
    if (m[k] !== undefined) out[k] = at(`.${k}`, () => seconds().parse(m[k]));
  }
  return out;
}

const ROUTE_KEYS = ['path', 'upstream', 'canary', 'cache', 'guard'] as const;

function route(routeName: string, raw: unknown): RouteSpec {
  const m = raw === null ? {} : mapping(raw, `keys ${ROUTE_KEYS.join(', ')}`);
  onlyKeys(m, ROUTE_KEYS);
  const path = m['path'] === undefined ? '/' : at('.path', () => requestPath().parse(m['path']));
  if (path === '') throw new Problem('"" is not a path prefix (expected a path starting with /, e.g. /api/)', '.path');
  if (path.includes('?')) throw new Problem(`${JSON.stringify(path)} is not a path prefix: routes are chosen by path, never by query (expected no "?")`, '.path');
  const out: RouteSpec = { name: name(routeName), path, cache: at('.cache', () => routeCache(m['cache'])) };
  if (m['upstream'] !== undefined) out.upstream = at('.upstream', () => pool(m['upstream']));
  if (m['canary'] !== undefined) out.canary = at('.canary', () => canary(m['canary']));
  if (m['guard'] !== undefined && m['guard'] !== null) out.guard = at('.guard', () => parseRouteGuard(m['guard']));
  return out;
}

const SITE_KEYS = ['hosts', 'default', 'caseInsensitivePaths', 'routes'] as const;

function site(siteName: string, raw: unknown): SiteSpec {
  const m = mapping(raw, `keys ${SITE_KEYS.join(', ')}`);
  onlyKeys(m, SITE_KEYS);
  const isDefault = m['default'] === undefined ? false : at('.default', () => onOff().parse(m['default']));
  // On unless turned off: an origin that resolves /Account/ as /account/ (Express's default,
  // IIS, ASP.NET) would otherwise get /Account/x through the / route, past /account/'s guard.
  const caseInsensitivePaths = m['caseInsensitivePaths'] === undefined ? false : at('.caseInsensitivePaths', () => onOff().parse(m['caseInsensitivePaths']));
  const hostsRaw = m['hosts'] ?? [];
  const hostItems = Array.isArray(hostsRaw) ? hostsRaw : typeof hostsRaw === 'string' ? hostsRaw.split(',').filter((s) => s.trim() !== '') : undefined;
  if (hostItems === undefined) throw new Problem(`${show(hostsRaw)} is not a list of hosts (expected e.g. [shop.example.com, "*.shop.example.com"])`, '.hosts');
  const hosts = hostItems.map((h, i) =>
    at(`.hosts[${i}]`, () => {
      const s = typeof h === 'string' ? h.trim().toLowerCase().replace(/\.$/, '') : '';
      if (!HOST_PATTERN.test(s)) throw new Problem(`${show(h)} is not a host (expected a DNS name or a wildcard, e.g. shop.example.com or *.example.com)`);
      return s;
    }),
  );
  if (hosts.length === 0 && !isDefault) throw new Problem('no hosts (expected hosts: [NAME, ...], or default: true)', '.hosts');
  const routesRaw = at('.routes', () => mapping(m['routes'], 'route name → route, e.g. routes: { all: { path: / } }'));
  const routes = Object.entries(routesRaw).map(([n, r]) => at(`.routes.${n}`, () => route(n, r)));
  if (routes.length === 0) throw new Problem('no routes (expected at least one, e.g. routes: { all: { path: / } })', '.routes');
  const paths = new Map<string, string>();
  for (const r of routes) {
    // Compared as requests are routed (decoded, slashes merged, case folded when the site
    // says so): "/a%2Fb/" and "/a/b/" are one prefix, and so are "/A/" and "/a/" then.
    const as = routedPath(r.path, caseInsensitivePaths);
    const other = paths.get(as);
    if (other !== undefined) {
      const how = caseInsensitivePaths ? 'once decoded and lower-cased (the site sets caseInsensitivePaths)' : 'once decoded';
      throw new Problem(`path ${JSON.stringify(r.path)} is also route ${other}'s ${how} (expected each path prefix once per site)`, `.routes.${r.name}.path`);
    }
    paths.set(as, r.name);
  }
  return { name: name(siteName), hosts, default: isDefault, caseInsensitivePaths, routes };
}

/** The sites: a YAML mapping, or a YAML/JSON string of one (flag, env); "" or {} for none. */
export function sitesKind(): Kind<SiteSpec[]> {
  const expected = 'a mapping of site name → {hosts, default, routes}, in YAML or JSON';
  return {
    arg: 'SITES',
    parse: (raw) => {
      let doc = raw;
      if (typeof raw === 'string') {
        if (raw.trim() === '') return [];
        try {
          doc = parseYaml(raw, { logLevel: 'error' }) as unknown;
        } catch (err) {
          throw new Problem(`is not valid YAML or JSON (${((err as Error).message.split('\n')[0] ?? '').trim()}; expected ${expected})`);
        }
      }
      if (doc === null || doc === undefined) return [];
      const m = mapping(doc, expected);
      const sites = Object.entries(m).map(([n, s]) => at(`.${n}`, () => site(n, s)));
      const owner = new Map<string, string>();
      for (const s of sites) {
        s.hosts.forEach((h, i) => {
          const other = owner.get(h);
          if (other !== undefined) throw new Problem(`${JSON.stringify(h)} is also a host of site ${other} (expected each host in one site)`, `.${s.name}.hosts[${i}]`);
          owner.set(h, s.name);
        });
      }
      const defaults = sites.filter((s) => s.default);
      if (defaults.length > 1) throw new Problem(`sites ${defaults.map((s) => s.name).join(' and ')} are both the default (expected at most one)`, `.${defaults[1]!.name}.default`);
      return sites;
    },
    format: formatSites,
  };
}

function formatPool(p: PoolSpec): unknown {
  if (p.balancer === undefined && p.healthCheck === undefined) return upstreams().format(p.upstreams);
  return {
    upstreams: upstreams().format(p.upstreams),
    ...(p.balancer === undefined ? {} : { balancer: p.balancer }),
    ...(p.healthCheck === undefined ? {} : { healthCheck: { ...p.healthCheck, ...(p.healthCheck.expectStatuses ? { expectStatuses: statusRanges().format(p.healthCheck.expectStatuses) } : {}) } }),
  };
}

/** Back to the YAML form parse() reads. */
function formatSites(sites: SiteSpec[]): unknown {
  return Object.fromEntries(
    sites.map((s) => [
      s.name,
      {
        hosts: [...s.hosts],
        ...(s.default ? { default: true } : {}),
        ...(s.caseInsensitivePaths ? { caseInsensitivePaths: true } : {}),
        routes: Object.fromEntries(
          s.routes.map((r) => [
            r.name,
            {
              path: r.path,
              ...(r.upstream ? { upstream: formatPool(r.upstream) } : {}),
              ...(r.canary ? { canary: { ...r.canary, upstream: formatPool(r.canary.upstream) } } : {}),
              cache: { ...r.cache, ignoreQuery: r.cache.ignoreQuery[0] === '*' ? 'all' : [...r.cache.ignoreQuery] },
              ...(r.guard === undefined ? {} : { guard: formatRouteGuard(r.guard) }),
            },
          ]),
        ),
      },
    ]),
  );
}
