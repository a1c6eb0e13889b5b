// RFC 9111 §4 (constructing responses from caches): may a stored response be
// reused for this request, now? A pure function of (request directives, entry,
// now) returning a named outcome. No I/O.

import { deltaSeconds, parseCacheControl, type Directives } from '../http/cache-control.js';
import type { HeaderMap } from '../http/headers.js';
import type { EntryMeta } from '../entry.js';

export type ReuseDecision =
  /** Fresh (or stale within the client's max-stale, where allowed): answer from cache. */
  | { reuse: true; stale: boolean; ageS: number; ttlS: number }
  /** Must be validated with the origin first; `why` names the rule. */
  | { reuse: false; why: 'stale' | 'no-cache' | 'request-no-cache' | 'request-max-age' | 'request-min-fresh'; ageS: number; ttlS: number };

export interface RequestDirectives {
  cc: Directives;
  noCache: boolean;
  onlyIfCached: boolean;
}

const EMPTY: RequestDirectives = { cc: new Map(), noCache: false, onlyIfCached: false };

/** Request Cache-Control (and Pragma: no-cache when there is no Cache-Control, RFC 9111 §5.4). */
export function requestDirectives(headers: HeaderMap): RequestDirectives {
  const raw = headers['cache-control'];
  if (raw === undefined) {
    const pragma = headers['pragma'];
    if (pragma !== undefined && /(^|,)\s*no-cache\s*(,|$)/i.test(pragma)) return { cc: new Map(), noCache: true, onlyIfCached: false };
    return EMPTY;
  }
  const cc = parseCacheControl(raw);
  return { cc, noCache: cc.has('no-cache'), onlyIfCached: cc.has('only-if-cached') };
}

/** RFC 9111 §4.2.3 current_age, seconds. */
export function currentAge(meta: EntryMeta, nowMs: number): number {
  return meta.initialAgeS + Math.max(0, nowMs - meta.responseTimeMs) / 1000;
}

/** Seconds of freshness left for a just-stored entry (Cache-Status ttl). */
export function ttlOf(meta: EntryMeta, nowMs: number): number {
  return meta.freshnessLifetimeS - currentAge(meta, nowMs);
}

export function decideReuse(req: RequestDirectives, meta: EntryMeta, nowMs: number): ReuseDecision {
  const ageS = currentAge(meta, nowMs);
  const ttlS = meta.freshnessLifetimeS - ageS;
  if (meta.noCache) return { reuse: false, why: 'no-cache', ageS, ttlS };
  if (req === EMPTY) {
    return ttlS > 0 ? { reuse: true, stale: false, ageS, ttlS } : { reuse: false, why: 'stale', ageS, ttlS };
  }
  if (req.noCache) return { reuse: false, why: 'request-no-cache', ageS, ttlS };
  // RFC 9111 §5.2.1.1
  const maxAge = deltaSeconds(req.cc, 'max-age');
  if (maxAge !== undefined && ageS > maxAge) return { reuse: false, why: 'request-max-age', ageS, ttlS };
  // RFC 9111 §5.2.1.3
  const minFresh = deltaSeconds(req.cc, 'min-fresh');
  if (minFresh !== undefined && ttlS < minFresh) return { reuse: false, why: 'request-min-fresh', ageS, ttlS };
  if (ttlS > 0) return { reuse: true, stale: false, ageS, ttlS };
  // RFC 9111 §5.2.1.1: a client that names max-age without max-stale does not want a stale
  // response, however young: no stale window (stale-while-revalidate, stale-if-error) applies.
  if (maxAge !== undefined && !req.cc.has('max-stale')) return { reuse: false, why: 'request-max-age', ageS, ttlS };
  // RFC 9111 §5.2.1.2 max-stale, gated: never for entries that forbid stale
  // use (PITFALLS http-cache-semantics 2, 3), nor for one a soft purge made stale
  // (an operator's purge is not the origin's permission to serve stale; Varnish's
  // grace and Fastly's soft purge do not honour a client's max-stale either).
  if (req.cc.has('max-stale') && !meta.staleForbidden && meta.softPurgedAtMs === undefined) {
    const v = req.cc.get('max-stale');
    const limit = v === true ? Infinity : deltaSeconds(req.cc, 'max-stale');
    if (limit !== undefined && -ttlS <= limit) return { reuse: true, stale: true, ageS, ttlS };
  }
  return { reuse: false, why: 'stale', ageS, ttlS };
}
