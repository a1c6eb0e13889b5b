// A start's wait for its peers, between opening the listener they reach it on
// (its admin listener: /healthz, purge deliveries) and opening the one clients
// use. Separate nodes and the workers of one node wait by the same rule.
//
// Why: a node that was down holds on disk what its peers purged meanwhile. Each
// peer's outbox (outbox.ts) delivers it when the peer learns this node is back,
// and this node's own /healthz probe of the peer is the quickest way it learns
// (cluster.ts health: the answer says how many purges it still owes, and sends
// them). Taking clients before they arrive would serve purged content.
//
// The rule: a peer holds the start until it is up (its last probe answered and its
// health checks count it up: this node asks it for objects as soon as it serves) and
// said it owes this node no purge. A peer whose last probe failed is down
// as far as this node knows and, for separate nodes, holds nothing (what it owes
// arrives when it returns; waiting for it would only delay every restart by the
// deadline). Workers of one node wait for a worker that does not answer: its
// primary is starting or restarting it, it is not down. Bounded: past the deadline
// the node serves and says who held it.
//
// A cluster whose nodes start together does not deadlock: each answers the others'
// /healthz on its admin listener while it waits (with `starting`: not asked for
// objects until it serves, membership.ts), and a fresh node owes nothing.

import type { Logger } from 'pino';

/** A peer as a start waits on it (membership.ts startView). */
export interface PeerAtStart {
  /** Its node id, or its address while it has not said its id. */
  name: string;
  /**
   * Its last probe answered and its health checks count it up (membership.ts reachable:
   * one that failed a probe first is back after cluster's healthyThreshold answers).
   */
  answered: boolean;
  /** What its last answer said it still owes this node. */
  owesUs: number | undefined;
  /** Its last probe failed (refused, timed out, not a node of this cluster): down, as far as this node knows. */
  unreachable: boolean;
}

/** The shortest bound on a start's wait (startWaitMs). */
export const START_WAIT_MIN_MS = 10_000;

/** How often the wait looks at what the health checks learnt. */
const LOOK_EVERY_MS = 25;

/**
 * The bound on a start's wait: three health-check rounds (the first answer, which
 * sends what the peer owes; the answer after the delivery, which says nothing is
 * owed; one to spare for a slow delivery), and never less than 10 s. Derived from
 * cluster.healthCheckIntervalMs, not a setting: an operator who slows the health
 * checks lengthens the rounds the wait is made of.
 */
export function startWaitMs(healthCheckIntervalMs: number): number {
  return Math.max(START_WAIT_MIN_MS, 3 * healthCheckIntervalMs);
}

/** Does `p` still hold the start? `downSettles`: a peer whose probe failed is not waited for. */
export function holdsStart(p: PeerAtStart, downSettles: boolean): boolean {
  if (p.answered) return (p.owesUs ?? 0) > 0;
  return !(downSettles && p.unreachable);
}

export interface WaitOptions {
  maxMs: number;
  downSettles: boolean;
  /** Aborted: the wait ends at its next look (the node is stopping). */
  signal?: AbortSignal;
}

export interface StartWait {
  /** Peers still holding the start at the deadline (["cluster.dns"]: its look-up had not ended). */
  late: string[];
  /** Peers not waited for because their probe failed (downSettles). */
  unreachable: string[];
}

/**
 * Resolves once no peer holds the start (holdsStart), or at `maxMs`. `view`: every
 * other member as the health checks last saw it; undefined while who they are is
 * not known yet (cluster.dns not looked up).
 */
export async function whenSettled(view: () => PeerAtStart[] | undefined, opts: WaitOptions): Promise<StartWait> {
  const deadline = Date.now() + opts.maxMs;
  for (;;) {
    // Given up (the node is stopping): nothing to report, nothing to wait for.
    if (opts.signal?.aborted) return { late: [], unreachable: [] };
    const peers = view();
    const holding = peers?.filter((p) => holdsStart(p, opts.downSettles));
    const done = holding !== undefined && holding.length === 0;
    if (done || Date.now() > deadline) {
      return {
        late: holding === undefined ? ['cluster.dns'] : holding.map((p) => p.name),
        unreachable: opts.downSettles ? (peers ?? []).filter((p) => !p.answered && p.unreachable).map((p) => p.name) : [],
      };
    }
    await new Promise((r) => setTimeout(r, LOOK_EVERY_MS));
  }
}

/** The wait, with the start-up log naming the peers it did not hear from (each a warning: the node may serve purged content). */
export async function waitForPeers(view: () => PeerAtStart[] | undefined, logger: Logger, opts: WaitOptions): Promise<void> {
  const { late, unreachable } = await whenSettled(view, opts);
  if (late.length > 0) {
    logger.warn(
      { late, waitedMs: opts.maxMs },
      `not every peer answered, or delivered the purges it owes this node, within ${opts.maxMs} ms: serving; keys they own are fetched from the origin, and what they purged while this node was down may be served until their delivery arrives`,
    );
  }
  if (unreachable.length > 0) {
    logger.warn(
      { unreachable },
      'peers unreachable at start, not waited for: serving; purges they accepted while this node was down arrive when they are back (their outbox), and what those purged may be served until then',
    );
  }
}
