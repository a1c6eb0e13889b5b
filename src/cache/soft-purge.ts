// What a soft purge does to an entry: it becomes stale at the purge instant. The
// freshness lifetime is cut to the age the entry had then (RFC 9111 §4.2.3), so
// the next use revalidates with the origin, and the stale-while-revalidate and
// stale-if-error windows (RFC 5861) count from the purge. Pure; the store applies
// it to every matching entry and again at start from its purge journal.
//
// The entry is also stamped (softPurgedAtMs) so that a client's max-stale cannot
// answer from it (reuse.ts): shortening the lifetime alone left it servable to any
// request with `Cache-Control: max-stale`, with no origin contact at all.

import type { EntryMeta } from '../entry.js';
import { currentAge } from './reuse.js';

export function expiredAt(meta: EntryMeta, atMs: number): EntryMeta {
  // Whole seconds, rounded down: the entry is stale from the purge instant (ttl ≤ 0).
  const ageS = Math.floor(currentAge(meta, atMs));
  // Two soft purges: the earlier instant is the stricter.
  const softPurgedAtMs = meta.softPurgedAtMs === undefined ? atMs : Math.min(meta.softPurgedAtMs, atMs);
  const freshnessLifetimeS = Math.min(meta.freshnessLifetimeS, ageS);
  if (freshnessLifetimeS === meta.freshnessLifetimeS && softPurgedAtMs === meta.softPurgedAtMs) return meta;
  return { ...meta, freshnessLifetimeS, softPurgedAtMs };
}

/**
 * As expiredAt, for a purge that may predate the entry's arrival here: a peer soft-purged
 * its copy before answering with it (cluster/peer-fetch.ts). The age at that instant is
 * counted back from the age on arrival, so the entry is stale here since the peer's
 * purge, and its stale windows count from it, as they do there.
 */
export function expiredSince(meta: EntryMeta, atMs: number): EntryMeta {
  if (atMs >= meta.responseTimeMs) return expiredAt(meta, atMs);
  const ageS = Math.max(0, Math.floor(meta.initialAgeS - (meta.responseTimeMs - atMs) / 1000));
  const softPurgedAtMs = meta.softPurgedAtMs === undefined ? atMs : Math.min(meta.softPurgedAtMs, atMs);
  return { ...meta, freshnessLifetimeS: Math.min(meta.freshnessLifetimeS, ageS), softPurgedAtMs };
}
