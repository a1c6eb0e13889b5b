// Choosing a site by Host: exact names first, then wildcards ("*.example.com"
// matches any name ending in ".example.com", one label or more, never
// "example.com" itself), the longest wildcard winning, then the default site if
// one is configured. Unknown hosts find nothing: the pipeline answers 421
// Misdirected Request (RFC 9110 §15.5.20). Pure; built once per configuration.

/** The host part of a Host field value, lower-case, without port or trailing dot. */
export function hostName(host: string): string {
  let h = host.toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  if (colon > -1) h = h.slice(0, colon);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

export class HostTable<S> {
  private readonly exact = new Map<string, S>();
  /** Suffixes (".example.com"), longest first. */
  private readonly wildcards: { suffix: string; site: S }[] = [];
  private readonly fallback: S | undefined;

  constructor(sites: readonly { hosts: readonly string[]; default: boolean; site: S }[]) {
    for (const s of sites) {
      for (const h of s.hosts) {
        if (h.startsWith('*.')) this.wildcards.push({ suffix: h.slice(1), site: s.site });
        else this.exact.set(h, s.site);
      }
    }
    this.wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
    this.fallback = sites.find((s) => s.default)?.site;
  }

  /** The site serving Host `host` (as received, port allowed); undefined: none (421). */
  match(host: string): S | undefined {
    const name = hostName(host);
    const found = this.exact.get(name);
    if (found !== undefined) return found;
    for (const w of this.wildcards) if (name.length > w.suffix.length && name.endsWith(w.suffix)) return w.site;
    return this.fallback;
  }
}

/**
 * Does path prefix `prefix` cover request path `path` (decoded, without its query:
 * http/patterns.ts decodedPath)? A prefix ending in "/" covers what starts with
 * it and the bare path without that slash (coversBare); any other covers itself
 * and what continues with "/" after it ("/api" covers /api and /api/x, not /apix,
 * nor /api?x, which can only be a decoded %3F).
 */
export function prefixCovers(prefix: string, path: string): boolean {
  return coversBeneath(prefix, path) || coversBare(prefix, path);
}

/** The prefix itself, or what continues it (after a "/"). */
function coversBeneath(prefix: string, path: string): boolean {
  if (!path.startsWith(prefix)) return false;
  if (prefix.endsWith('/') || path.length === prefix.length) return true;
  return path.charCodeAt(prefix.length) === 47 /* / */;
}

/**
 * "/account/" covers "/account": most origins answer the bare path as the directory
 * (Express's non-strict routing, a directory index; nginx redirects it to the
 * proxied "location /account/"), so routing it elsewhere would serve the route's
 * pages past the route's guard.
 */
function coversBare(prefix: string, path: string): boolean {
  return prefix.length > 1 && path.length === prefix.length - 1 && prefix.endsWith('/') && prefix.startsWith(path);
}

/** Routes of one site, longest prefix first: the first that covers a target wins. */
export function byLongestPrefix<R extends { path: string }>(routes: readonly R[]): R[] {
  return [...routes].sort((a, b) => b.path.length - a.path.length);
}

/**
 * The route whose prefix covers `target` longest. A prefix covering only its bare
 * path ("/a/" for "/a") counts one character shorter: a route "/a" of its own wins
 * "/a", a shorter one ("/") does not.
 */
export function routeFor<R extends { path: string }>(sorted: readonly R[], target: string): R | undefined {
  let bare: R | undefined;
  for (const r of sorted) {
    if (bare !== undefined && r.path.length < bare.path.length - 1) return bare;
    if (coversBeneath(r.path, target)) return r;
    if (bare === undefined && coversBare(r.path, target)) bare = r;
  }
  return bare;
}
