// What the admin API changed in routing (drained upstreams, canary weights set
// live), as one record a process can hand to another: with workers, the primary
// keeps the latest one and a worker it restarts takes it before it listens, so a
// crashed worker does not come back sending traffic to a drained upstream or at
// the file's canary weight while the others use the operator's. The canary rule is
// the one a reload follows (route-table.ts applyCanaryWeights).

import type { Router } from './router.js';
import { liveCanaryWeights, type LiveCanaryWeight } from './route-table.js';

export interface RoutingOverrides {
  /** Upstream names drained (DrainSet). */
  drained: string[];
  /** Canary weights set through the admin API, with the file's percent they overrode. */
  canary: LiveCanaryWeight[];
}

export function routingOverrides(router: Router): RoutingOverrides {
  return { drained: router.drains.names(), canary: liveCanaryWeights(router.routes()) };
}

/** Take `o` as a reload would: drains always; a canary weight only while the file still gives the percent it overrode. */
export function applyRoutingOverrides(router: Router, o: RoutingOverrides): void {
  for (const name of o.drained) router.drains.drain(name);
  router.takeCanaryWeights(o.canary);
}
