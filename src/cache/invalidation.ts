// RFC 9111 §4.4: a non-error response to an unsafe method invalidates the target
// URI, and the Location and Content-Location URIs when they share its origin.

import type { HeaderMap } from '../http/headers.js';
import { normaliseAuthority, primaryKey } from './key.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** Primary keys to invalidate after this exchange; empty for safe methods or error statuses. */
export function invalidatedKeys(method: string, status: number, scheme: string, host: string, target: string, res: HeaderMap): string[] {
  if (SAFE.has(method) || status < 200 || status >= 400) return [];
  const keys = [primaryKey(scheme, host, target)];
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
    keys.push(primaryKey(scheme, u.host, u.pathname + u.search));
  }
  return keys;
}
