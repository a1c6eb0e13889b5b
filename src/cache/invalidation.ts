// RFC 9111 §4.4: a non-error response to an unsafe method invalidates the target
// URI, and the Location and Content-Location URIs when they share its origin.

import type { HeaderMap } from '../http/headers.js';
import { KEY_SCHEME, normaliseAuthority, primaryKey } from './key.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** A URI an exchange invalidates: its Host (authority) and origin-form target. */
export interface InvalidatedTarget {
  host: string;
  target: string;
}

/**
 * What to invalidate after this exchange (the target first); empty for safe methods or
 * error statuses. `scheme` is the client's: it decides which Location and Content-Location
 * URIs share the target's origin (over TLS, an absolute https: URI does).
 */
export function invalidatedTargets(method: string, status: number, scheme: string, host: string, target: string, res: HeaderMap): InvalidatedTarget[] {
  if (SAFE.has(method) || status < 200 || status >= 400) return [];
  const out: InvalidatedTarget[] = [{ host, target }];
  const base = `${scheme}://${host}${target}`;
  for (const field of ['location', 'content-location']) {
    const v = res[field];
    if (!v) continue;
    let u: URL;
    try {
      u = new URL(v, base);
    } catch {
      continue;
    }
    if (u.protocol !== `${scheme}:` || normaliseAuthority(scheme, u.host) !== normaliseAuthority(scheme, host)) continue;
    out.push({ host: u.host, target: u.pathname + u.search });
  }
  return out;
}

/**
 * Primary keys of what this exchange invalidates, the target's first. Keys name the
 * KEY_SCHEME whatever the client's `scheme` (cache/key.ts); `keyedTarget` gives a target
 * as its route keys it (query parameters ignored or sorted; undefined: as given).
 */
export function invalidatedKeys(method: string, status: number, scheme: string, host: string, target: string, res: HeaderMap, keyedTarget?: (host: string, target: string) => string | undefined): string[] {
  return invalidatedTargets(method, status, scheme, host, target, res).map((t) => primaryKey(KEY_SCHEME, t.host, keyedTarget?.(t.host, t.target) ?? t.target));
}
