// The cache key (primary key, RFC 9111 §2): method class + normalised scheme,
// host and port + path + query. GET and HEAD share one class, so HEAD is
// answered from a stored GET. Vary selects a variant under a primary key (vary.ts).

/** Methods whose responses Strata may store and reuse. */
export function isCacheableMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

const DEFAULT_PORT: Record<string, string> = { http: '80', https: '443' };

/** The scheme of every primary key, whatever the listener speaks (CACHING.md, The cache key). */
export const KEY_SCHEME = 'http';

/** Lower-case host, default port removed, trailing dot removed. */
export function normaliseAuthority(scheme: string, host: string): string {
  let h = host.toLowerCase();
  const colon = h.lastIndexOf(':');
  if (colon > -1 && h.indexOf(']', colon) === -1) {
    const port = h.slice(colon + 1);
    if (port === '' || port === DEFAULT_PORT[scheme]) h = h.slice(0, colon);
    // The root's dot is the host's, before the port: "localhost.:8443" is "localhost:8443".
    else if (h.charCodeAt(colon - 1) === 46 /* . */) h = h.slice(0, colon - 1) + h.slice(colon);
  }
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/**
 * Primary key of a request target. `target` is the origin-form path + query as
 * received. The method class is always GET here: only GET/HEAD are looked up.
 */
export function primaryKey(scheme: string, host: string, target: string): string {
  return `GET ${scheme}://${normaliseAuthority(scheme, host)}${target}`;
}

/** Split a primary key back into its absolute URL (for logs, purge, invalidation). */
export function urlOfKey(key: string): string {
  return key.slice(4);
}

/**
 * A route's key options (src/routing/): query parameters left out of the key
 * (['*']: the whole query) or put in order, and request headers and cookies whose
 * values become part of it. The empty options key by the target as received.
 */
export interface KeyOptions {
  readonly ignoreQuery: readonly string[];
  readonly sortQuery: boolean;
  readonly headers: readonly string[];
  readonly cookies: readonly string[];
}

export const PLAIN_KEY: KeyOptions = { ignoreQuery: [], sortQuery: false, headers: [], cookies: [] };

/** Does `o` change anything about the target as keyed? */
export function changesTarget(o: KeyOptions): boolean {
  return o.ignoreQuery.length > 0 || o.sortQuery;
}

/**
 * Does a query parameter (as sent) hold a ";", plain or percent-encoded? Rack 2,
 * Python's older parse_qs, Bottle and others split the query on ";" as well as "&"
 * (and some decode before splitting), so `utm_source=x;callback=y` is two parameters to
 * them: removing or moving it as one would hide `callback` from the key.
 */
function holdsSemicolon(param: string): boolean {
  return param.indexOf(';') >= 0 || /%3b/i.test(param);
}

/**
 * The target as the key sees it: listed query parameters removed (by name, as
 * sent: no decoding), the rest sorted by name when asked (a stable sort, so
 * repeated names keep their order). A query left empty is dropped with its "?".
 * A parameter holding a ";" (holdsSemicolon) is never removed, and a query with
 * one is not sorted: origins that split on ";" read parameters in it the key
 * would otherwise drop or reorder.
 */
export function keyedTarget(target: string, o: KeyOptions): string {
  const q = target.indexOf('?');
  if (q < 0 || !changesTarget(o)) return target;
  const path = target.slice(0, q);
  if (o.ignoreQuery[0] === '*') return path;
  let params = target.slice(q + 1).split('&').filter((p) => p !== '');
  if (o.ignoreQuery.length > 0) {
    const ignored = new Set(o.ignoreQuery);
    params = params.filter((p) => {
      const eq = p.indexOf('=');
      return !ignored.has(eq < 0 ? p : p.slice(0, eq)) || holdsSemicolon(p);
    });
  }
  if (o.sortQuery && !params.some(holdsSemicolon)) {
    const name = (p: string) => (p.indexOf('=') < 0 ? p : p.slice(0, p.indexOf('=')));
    params = params.map((p, i) => ({ p, i })).sort((a, b) => (name(a.p) < name(b.p) ? -1 : name(a.p) > name(b.p) ? 1 : a.i - b.i)).map((x) => x.p);
  }
  return params.length === 0 ? path : `${path}?${params.join('&')}`;
}

/**
 * The members a route adds to a primary key, after "#" (which no request target
 * contains, so a keyed URL never collides with a plain one): the canary side when
 * sides are kept apart, then each keyed header and cookie (absent ones as a bare
 * name; a cookie sent more than once as one member per occurrence, so it never
 * keys like a single one: values are encoded, a member's "&" cannot be in one). Values are percent-encoded; `values` gives them already read from the
 * request. '' when there are none.
 */
export function keySuffix(side: string | undefined, members: readonly (readonly [string, string | undefined])[]): string {
  if (side === undefined && members.length === 0) return '';
  let s = side === undefined ? '' : `side=${side}`;
  for (const [name, value] of members) {
    if (s !== '') s += '&';
    s += value === undefined ? name : `${name}=${encodeURIComponent(value)}`;
  }
  return `#${s}`;
}

/** The URI a primary key is a version of: itself, or the part before a route's "#…" (keySuffix). */
export function uriOfKey(primaryKey: string): string {
  const hash = primaryKey.indexOf('#');
  return hash < 0 ? primaryKey : primaryKey.slice(0, hash);
}

/** Is `key` the URI `primaryKey` itself or a version a route keyed after "#" (keySuffix)? */
export function isOfUri(key: string, primaryKey: string): boolean {
  return key === primaryKey || (key.length > primaryKey.length && key.charCodeAt(primaryKey.length) === 35 /* # */ && key.startsWith(primaryKey));
}
