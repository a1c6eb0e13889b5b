// The cache key (primary key, RFC 9111 §2): method class + normalised scheme,
// host and port + path + query. GET and HEAD share one class, so HEAD is
// answered from a stored GET. Vary selects a variant under a primary key (vary.ts).

/** Methods whose responses Strata may store and reuse. */
export function isCacheableMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

const DEFAULT_PORT: Record<string, string> = { http: '80', https: '443' };

/** Lower-case host, default port removed, trailing dot removed. */
export function normaliseAuthority(scheme: string, host: string): string {
  let h = host.toLowerCase();
  const colon = h.lastIndexOf(':');
  if (colon > -1 && h.indexOf(']', colon) === -1) {
    const port = h.slice(colon + 1);
    if (port === '' || port === DEFAULT_PORT[scheme]) h = h.slice(0, colon);
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
