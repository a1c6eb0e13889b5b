// A member as /stats shows it (membership.ts stats): an operator must see that a
// peer is out and why: never answered, refused for who it says it is (two nodes
// sharing an id), counted down by its health, still starting, or unlisted.

import type { HealthSnapshot } from '../origin/health.js';
import type { Member } from './membership.js';

export interface MemberReport {
  /** Its node id; null: a DNS-listed address that has not said a usable one. */
  id: string | null;
  url: string;
  source: Member['source'];
  available: boolean;
  listed: boolean;
  health: HealthSnapshot;
  /** Why it is not asked for objects now (absent: it is). */
  out?: string;
}

/** Why `m` is not asked for objects, given it is not usable (membership.ts usable). */
export function whyOut(m: Member): string {
  if (m.unlistedSinceMs !== 0) return 'no longer listed by cluster.dns';
  const last = m.probeFailure === undefined ? '' : `last health check: ${m.probeFailure}`;
  if (m.id === undefined || !m.answered) return last || 'no health check answered yet';
  const h = m.health.snapshot();
  if (h.state === 'unhealthy' || h.state === 'ejected') {
    const reason = h.lastTransition ? `${h.state}: ${h.lastTransition.reason}` : h.state;
    // The transition names the probe that made it; a later, different failure is news.
    return last !== '' && !reason.includes(m.probeFailure!) ? `${reason}; ${last}` : reason;
  }
  if (m.starting) return 'starting: its /healthz says it takes no peer requests yet';
  return last || 'not asked';
}

export function memberReport(m: Member, usable: boolean): MemberReport {
  return {
    id: m.id ?? null,
    url: m.url,
    source: m.source,
    available: usable,
    listed: m.unlistedSinceMs === 0,
    health: m.health.snapshot(),
    ...(usable ? {} : { out: whyOut(m) }),
  };
}
