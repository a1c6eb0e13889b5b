// What the admin API changed in routing (drained upstreams, canary weights set
// live), as one record a process can hand to another: with workers, the primary
// keeps the latest one and a worker it restarts takes it before it listens, so a
// crashed worker does not come back sending traffic to a drained upstream or at
// the file's canary weight while the others use the operator's.

import type { Router } from './router.js';

export interface RoutingOverrides {
  /** Upstream names drained (DrainSet). */
  drained: string[];
  /** Canary weights set through the admin API, with the file's percent they overrode. */
  canary: { site: string; route: string; configuredPercent: number | undefined; percent: number }[];
}

export function routingOverrides(router: Router): RoutingOverrides {
  const canary: RoutingOverrides['canary'] = [];
  for (const r of router.routes()) {
    if (r.split !== undefined && r.split.percent !== r.configuredPercent) {
      canary.push({ site: r.site, route: r.name, configuredPercent: r.configuredPercent, percent: r.split.percent });
    }
  }
  return { drained: router.drains.names(), canary };
}

/**
 * Take `o` as a reload would: drains always; a canary weight only while the
 * file still gives the percent it overrode (a changed file wins, README).
 */
export function applyRoutingOverrides(router: Router, o: RoutingOverrides): void {
  for (const name of o.drained) router.drains.drain(name);
  for (const c of o.canary) {
    const r = router.route(c.site, c.route);
    if (r?.split !== undefined && r.configuredPercent === c.configuredPercent) r.split.percent = c.percent;
  }
}
