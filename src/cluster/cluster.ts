// The cluster as the rest of the node sees it: one object built by node.ts from
// the `cluster` settings. It verifies peer proofs (peer-auth.ts), names owners
// (membership.ts, ownership.ts), fetches through the owner (peer-fetch.ts) and
// carries purges to every node (purge-distribution.ts: fan-out with a durable
// outbox, or the Redis purge bus).

import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { HeaderMap } from '../http/headers.js';
import type { OriginClient, OriginRequest, OriginResponse } from '../origin/client.js';
import type { Timers } from '../origin/health.js';
import type { ClusterPath } from '../pipeline/context.js';
import type { Clock } from '../util/clock.js';
import { Membership } from './membership.js';
import { checkPeer } from './peer-auth.js';
import { PeerFetch } from './peer-fetch.js';

export interface ClusterDeps {
  logger: Logger;
  /** Health and handoff times. */
  clock: Clock;
  origin: OriginClient;
  /** Wall clock for peer proofs (default Date.now). */
  authNow?: () => number;
  resolve?: (host: string) => Promise<string[]>;
  timers?: Timers;
  /** A peer with purges queued for it (it is not asked for objects meanwhile). */
  hasPendingPurges?: (peerId: string) => boolean;
  onAvailable?: (peerId: string) => void;
  onForgotten?: (peerId: string) => void;
}

/** Does this config make the node part of a cluster? */
export function isClustered(config: Readonly<Config>): boolean {
  return config.cluster.peers.some((p) => p.id !== config.nodeId) || config.cluster.dns !== '';
}

export class Cluster implements ClusterPath {
  readonly membership: Membership;
  readonly edgeCopies: ClusterPath['edgeCopies'];
  private readonly fetcher: PeerFetch;
  private readonly authNow: () => number;
  private forged = 0;

  constructor(
    private readonly config: Readonly<Config>,
    private readonly deps: ClusterDeps,
  ) {
    const c = config.cluster;
    this.authNow = deps.authNow ?? Date.now;
    this.edgeCopies = c.edgeCopies;
    this.membership = new Membership(c, {
      nodeId: config.nodeId,
      logger: deps.logger,
      clock: deps.clock,
      authNow: this.authNow,
      passive: config.origin.passiveHealth,
      thresholds: { healthyThreshold: config.origin.healthCheck.healthyThreshold, unhealthyThreshold: config.origin.healthCheck.unhealthyThreshold },
      bodyTimeoutMs: config.origin.bodyTimeoutMs,
      ...(deps.resolve ? { resolve: deps.resolve } : {}),
      ...(deps.timers ? { timers: deps.timers } : {}),
      ...(deps.onAvailable ? { onAvailable: deps.onAvailable } : {}),
      ...(deps.onForgotten ? { onForgotten: deps.onForgotten } : {}),
    });
    this.fetcher = new PeerFetch({
      membership: this.membership,
      origin: deps.origin,
      nodeId: config.nodeId,
      secret: c.secret,
      authNow: this.authNow,
      clock: deps.clock,
      logger: deps.logger,
      handoffMs: c.handoffMs,
      hasPendingPurges: (id) => deps.hasPendingPurges?.(id) ?? false,
    });
  }

  start(): void {
    this.membership.start();
  }

  verify(method: string, target: string, headers: HeaderMap): string | undefined {
    const r = checkPeer(this.config.cluster.secret, method, target, headers, this.authNow());
    if (r.peer === undefined && r.forged) {
      this.forged++;
      this.deps.logger.warn({ method, url: target.slice(0, 200) }, 'request claims to come from a peer without a valid proof; peer fields removed, served as a client request');
    }
    return r.peer;
  }

  ownsNow(key: string): boolean {
    return this.membership.ownsNow(key);
  }

  request(req: OriginRequest & { key: string }): Promise<OriginResponse> {
    return this.fetcher.request(req);
  }

  /** /stats `peers`. */
  stats(): Record<string, unknown> {
    return { clustered: true, node: this.config.nodeId, members: this.membership.stats(), forgedPeerClaims: this.forged, ...this.fetcher.stats() };
  }

  close(): Promise<void> {
    return this.membership.close();
  }
}
