// The cluster as the rest of the node sees it: one object built by node.ts from
// the `cluster` settings. It verifies peer proofs (peer-auth.ts), names owners
// (membership.ts, ownership.ts), fetches through the owner (peer-fetch.ts) and
// carries purges to every node (purge-distribution.ts: fan-out with a durable
// outbox, or the Redis purge bus).

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { HeaderMap } from '../http/headers.js';
import type { OriginClient, OriginResponse } from '../origin/client.js';
import type { Timers } from '../origin/health.js';
import type { ClusterPath, FillProgress } from '../pipeline/context.js';
import type { Clock } from '../util/clock.js';
import type { PurgedListener, PurgeSelector } from '../store/types.js';
import { PurgeFanOut } from './fan-out.js';
import { addressKey, Membership } from './membership.js';
import { PurgeOutbox } from './outbox.js';
import { PurgeBus } from './purge-bus.js';
import { withoutPassword } from '../config/kinds.js';
import type { WirePurge } from './purge-wire.js';
import { checkPeer, MAX_SKEW_MS, PEER_ERROR, PEER_ERROR_SIG, PEER_REPORTED_ERRORS, PEER_SIG, peerErrorSignature } from './peer-auth.js';
import { PeerFetch, type PeerRequest } from './peer-fetch.js';
import { PurgeTimes } from './purge-times.js';
import { SeenProofs } from './seen-proofs.js';
import { startWaitMs, waitForPeers } from './start-wait.js';
import type { AskWorker, WorkerFetch } from '../workers/worker-fetch.js';

export interface ClusterDeps {
  logger: Logger;
  /** Health and handoff times. */
  clock: Clock;
  /** Wall clock for peer proofs (default Date.now). */
  authNow?: () => number;
  resolve?: (host: string) => Promise<string[]>;
  timers?: Timers;
  /** Apply a purge another node accepted (read from the purge bus). */
  applyPurge?: (p: WirePurge) => Promise<unknown>;
  /**
   * The workers of one node (src/workers/): a miss is fetched by the worker that
   * received it under a per-key lock, not through the key's owner; `peerId` names
   * a worker's member id.
   */
  workers?: { fetch: WorkerFetch; peerId: (w: number) => string };
  /** This node's limits.maxHeaderBytes now (reloads apply): a request that would not fit a peer's with the hop's fields is not sent to one. */
  maxHeaderBytes?: () => number;
  /** The store whose purges copies from peers are checked against (purge-times.ts). */
  purges?: { onPurged(listener: PurgedListener): void };
}

/** What a purge's answer says about the other nodes. */
export interface Distribution {
  /** Each peer: "acked" or "pending: <why>". */
  peers: Record<string, string>;
  /** How it travelled: "fan-out", "bus", or "fan-out (bus unreachable: ...)". */
  via: string;
}

/** Does this config make the node part of a cluster? */
export function isClustered(config: Readonly<Config>): boolean {
  return config.cluster.peers.some((p) => p.id !== config.nodeId) || config.cluster.dns !== '';
}

/**
 * How a reload reaches the cluster: cluster.peers applies live (membership.ts
 * setPeers); joining or leaving a cluster changes what the node built at start
 * (purge fan-out, peer paths), so it is refused as needing a restart.
 */
export function peersReloadStep(cluster: Cluster | undefined): { name: string; check: (next: Readonly<Config>) => void; apply: (next: Readonly<Config>) => void } {
  return {
    name: 'cluster.peers',
    check: (next) => {
      if (isClustered(next) === (cluster !== undefined)) return;
      throw new Error(cluster ? 'leaving the cluster (no other peer in cluster.peers, no cluster.dns) needs a restart' : 'joining a cluster needs a restart (this node started without peers)');
    },
    apply: (next) => cluster?.membership.setPeers(next.cluster.peers),
  };
}

export class Cluster implements ClusterPath {
  readonly membership: Membership;
  readonly edgeCopies: ClusterPath['edgeCopies'];
  private readonly fetcher: PeerFetch;
  private readonly authNow: () => number;
  private forged = 0;
  private replayed = 0;
  /** Purge bus entries skipped because their signature failed. */
  private forgedBusEntries = 0;
  /** Proofs accepted within the skew window: each is accepted once (a captured peer request sent again is a client's). */
  private readonly seen = new SeenProofs(MAX_SKEW_MS);
  private outbox: PurgeOutbox | undefined;
  private fanOut: PurgeFanOut | undefined;
  private readonly bus: PurgeBus | undefined;
  /** When this node applied its recent purges: copies from peers are checked against them. */
  private purgeTimes: PurgeTimes | undefined;
  private readonly closing = new AbortController();
  /** This process's start, named in /healthz. */
  private readonly boot = randomBytes(8).toString('hex');
  /** The listener peers fetch from is open (serving()): until then /healthz says `starting`. */
  private takesPeers = false;

  constructor(
    private readonly config: Readonly<Config>,
    private readonly deps: ClusterDeps,
  ) {
    const c = config.cluster;
    this.authNow = deps.authNow ?? Date.now;
    this.edgeCopies = c.edgeCopies;
    this.membership = new Membership(c, {
      nodeId: config.nodeId,
      boot: this.boot,
      logger: deps.logger,
      clock: deps.clock,
      authNow: this.authNow,
      passive: config.origin.passiveHealth,
      thresholds: { healthyThreshold: config.origin.healthCheck.healthyThreshold, unhealthyThreshold: config.origin.healthCheck.unhealthyThreshold },
      bodyTimeoutMs: config.origin.bodyTimeoutMs,
      ...(deps.resolve ? { resolve: deps.resolve } : {}),
      ...(deps.timers ? { timers: deps.timers } : {}),
      onAvailable: (id) => this.fanOut?.kick(id),
      onForgotten: (key) => void this.outbox?.drop(key),
      // Sync: the fan-out kicked when the peer is found next sees what it is owed.
      onIdentified: (url, id) => void this.outbox?.reassign(addressKey(url), id),
    });
    if (c.purgeBus !== '') {
      this.bus = new PurgeBus({
        url: c.purgeBus,
        nodeId: config.nodeId,
        logger: deps.logger,
        apply: (p) => (deps.applyPurge ? deps.applyPurge(p) : Promise.resolve()),
        secret: c.secret,
        onForged: (id, from, why) => {
          this.forgedBusEntries++;
          if (why === 'invalid') deps.logger.warn({ entry: id, claims: from }, 'purge bus entry without a valid signature (not written by a node sharing cluster.secret): skipped');
          else deps.logger.warn({ entry: id, claims: from }, 'purge bus entry is a copy of one written earlier (replayed by whoever can write to Redis): skipped');
        },
      });
    }
    this.fetcher = new PeerFetch({
      membership: this.membership,
      nodeId: config.nodeId,
      secret: c.secret,
      authNow: this.authNow,
      clock: deps.clock,
      logger: deps.logger,
      handoffMs: c.handoffMs,
      peerTimeoutMs: c.peerTimeoutMs,
      // What a lone node would wait for the origin's headers, plus the hop's own allowance.
      peerWaitMaxMs: () => config.origin.headersTimeoutMs + c.peerTimeoutMs,
      hasPendingPurges: (id) => this.outbox?.hasPending(id) ?? false,
      successorCopy: c.successorCopy,
      ...(deps.maxHeaderBytes ? { maxHeaderBytes: deps.maxHeaderBytes } : {}),
      // Before prepare() loaded the record nothing is served, and nothing asked of a peer.
      purgedSince: (copy, sinceMs) => this.purgeTimes?.coveredSince(copy, sinceMs) ?? false,
    });
  }

  /**
   * Before the node serves: the purge outbox is loaded (from the cache directory)
   * and, with a purge bus, what this node missed is replayed (bounded wait).
   */
  async prepare(): Promise<void> {
    const c = this.config.cluster;
    // First: every purge applied from here on (the bus replay below included) is recorded.
    const times = await PurgeTimes.load(this.config.cache.dir, this.deps.clock.now(), this.deps.logger);
    this.purgeTimes = times;
    this.deps.purges?.onPurged((selector) => times.record(selector, this.deps.clock.now()));
    const { outbox, skipped } = await PurgeOutbox.load(this.config.cache.dir);
    if (skipped) this.deps.logger.warn({ skipped }, 'purge outbox: unreadable records skipped');
    this.outbox = outbox;
    // With a static list only, a peer no longer listed is gone for good: nothing is owed to it.
    if (c.dns === '') for (const id of Object.keys(outbox.pendingCounts())) if (!c.peers.some((p) => p.id === id)) await outbox.drop(id);
    this.fanOut = new PurgeFanOut({
      membership: this.membership,
      outbox,
      nodeId: this.config.nodeId,
      secret: c.secret,
      authNow: this.authNow,
      logger: this.deps.logger,
      ackTimeoutMs: c.purgeAckTimeoutMs,
      ...(this.deps.timers ? { timers: this.deps.timers } : {}),
    });
    await this.bus?.catchUp(Math.max(5_000, c.purgeAckTimeoutMs));
  }

  /** Once the node listens: health checks, DNS, and purges still owed to peers. */
  start(): void {
    this.membership.start();
    for (const id of Object.keys(this.outbox?.pendingCounts() ?? {})) this.fanOut?.kick(id);
  }

  /**
   * start(), then the wait before the node takes clients: until every peer said it owes
   * this node no purge (or, `downSettles`, its probe failed), bounded (start-wait.ts).
   */
  async startAndWait(opts: { downSettles: boolean }): Promise<void> {
    this.start();
    const maxMs = startWaitMs(this.config.cluster.healthCheckIntervalMs);
    await waitForPeers(() => this.membership.startView(), this.deps.logger, { maxMs, downSettles: opts.downSettles, signal: this.closing.signal });
  }

  /**
   * Carry a purge this node accepted to every other node (before it is applied
   * here: a fill from a peer that began before the peer purged is then superseded
   * by the local purge).
   */
  async distribute(selector: PurgeSelector, softAtMs: number | undefined): Promise<Distribution> {
    if (!this.outbox || !this.fanOut) return { peers: {}, via: 'not started' };
    const purge = { id: this.outbox.nextId(this.config.nodeId), from: this.config.nodeId, selector, ...(softAtMs === undefined ? {} : { softAtMs }) };
    if (this.bus) {
      let at: string;
      try {
        at = await this.bus.publish(purge);
      } catch (err) {
        const why = (err as Error).message;
        this.deps.logger.warn({ purgeBus: withoutPassword(this.config.cluster.purgeBus), err: why }, 'purge bus unreachable: purge sent by fan-out instead');
        return { peers: await this.fanOut.distribute(purge), via: `fan-out (purge bus unreachable: ${why})` };
      }
      const peers = this.membership.peers();
      const live = peers.filter((m) => this.membership.usable(m)).map((m) => m.id!);
      const out = await this.bus.acks(at, live, this.config.cluster.purgeAckTimeoutMs);
      for (const m of peers) if (!live.includes(m.id!)) out[m.id!] = `pending: peer is ${m.health.state()}; it replays the purge bus before serving again`;
      return { peers: out, via: 'bus' };
    }
    return { peers: await this.fanOut.distribute(purge), via: 'fan-out' };
  }

  /** `listener` 'admin': a health probe made for another id is a peer's too (checkPeer probeAnyId). */
  verify(method: string, target: string, headers: HeaderMap, listener: 'proxy' | 'admin' = 'proxy'): string | undefined {
    const r = checkPeer(this.config.cluster.secret, this.config.nodeId, method, target, headers, this.authNow(), this.seen, listener === 'admin');
    if (r.peer === undefined && r.forged) {
      this.forged++;
      if (r.why === 'replayed') {
        this.replayed++;
        this.deps.logger.warn({ method, url: target.slice(0, 200) }, 'peer proof already used (a replayed request); peer fields removed, served as a client request');
      } else this.deps.logger.warn({ method, url: target.slice(0, 200) }, 'request claims to come from a peer without a valid proof; peer fields removed, served as a client request');
    }
    return r.peer;
  }

  errorFields(headers: HeaderMap, code: string): string[] {
    const sig = headers[PEER_SIG];
    if (sig === undefined || !PEER_REPORTED_ERRORS.has(code)) return [];
    return [PEER_ERROR, code, PEER_ERROR_SIG, peerErrorSignature(this.config.cluster.secret, sig, code)];
  }

  peerMayJoin(key: string): boolean {
    return this.deps.workers !== undefined || this.membership.ownsNow(key);
  }

  request(req: PeerRequest, origin: OriginClient, fill: FillProgress): Promise<OriginResponse> {
    if (this.deps.workers) return this.deps.workers.fetch.request(req, origin, this.askWorker, fill);
    return this.fetcher.request(req, origin);
  }

  /** Worker `w`'s cached copy, or its fetch in flight joined (one function for every miss, not a closure each). */
  private readonly askWorker: AskWorker = (w, req, join) => this.fetcher.fromWorker(this.deps.workers!.peerId(w), req, join);

  /**
   * Worker `w` of this node answered its health checks once and fails them now: a
   * stopped or wedged process (its links stay open), whose key locks no worker waits on.
   */
  workerDown(w: number): boolean {
    const m = this.deps.workers ? this.membership.peer(this.deps.workers.peerId(w)) : undefined;
    return m !== undefined && m.answered && !m.health.available();
  }

  forPeer(req: PeerRequest, origin: OriginClient): Promise<OriginResponse> {
    return this.fetcher.forPeer(req, origin);
  }

  /** Each peer for /metrics: `purgesOwed`, what this node owes it. */
  peerFigures(): { id: string; available: boolean; purgesOwed: number }[] {
    const owed = this.outbox?.pendingCounts() ?? {};
    return this.membership.peers().map((m) => ({ id: m.id!, available: this.membership.usable(m), purgesOwed: owed[m.id!] ?? 0 }));
  }

  /** The listener peers fetch objects from is open: peers may ask this node from now on (/healthz no longer says `starting`). */
  serving(): void {
    this.takesPeers = true;
  }

  /**
   * What /healthz adds for the cluster: this process's start (a peer that sees it change
   * knows this node restarted), `starting` until serving(), and, to a peer asking
   * (`peer`, proven), how many purges this node still owes it. A peer that asks is up:
   * what it is owed goes now (a restarted node waits for it before it serves: start-wait.ts).
   */
  health(peer: string | undefined): { boot: string; starting?: true; owed?: number } {
    const base = { boot: this.boot, ...(this.takesPeers ? {} : { starting: true as const }) };
    if (peer === undefined || !this.outbox) return base;
    const owed = this.outbox.owedCount(peer);
    if (owed > 0) this.fanOut?.kick(peer);
    return { ...base, owed };
  }

  /** /stats `peers`. */
  stats(): Record<string, unknown> {
    return {
      clustered: true,
      node: this.config.nodeId,
      // One with purges queued for it is not asked for objects either (peer-fetch.ts): it may hold what was purged.
      members: this.membership.stats().map((m) => (m.available && m.id !== null && this.outbox?.hasPending(m.id) ? { ...m, out: 'purges queued for it: not asked for objects until they are delivered' } : m)),
      forgedPeerClaims: this.forged,
      replayedPeerProofs: this.replayed,
      // Signatures remembered to refuse replays: this node's peer requests over the last minute or so.
      peerProofsRemembered: this.seen.size(),
      ...this.fetcher.stats(),
      ...(this.deps.workers ? { workerMisses: this.deps.workers.fetch.stats() } : {}),
      purgesOwed: this.outbox?.pendingCounts() ?? {},
      ...(this.bus ? { purgeBus: this.bus.stats(), forgedBusEntries: this.forgedBusEntries } : {}),
    };
  }

  async close(): Promise<void> {
    // A start still waiting for its peers stops waiting (the node is stopping).
    this.closing.abort();
    this.fanOut?.close();
    await this.bus?.close();
    await this.outbox?.flush();
    await this.purgeTimes?.close();
    await this.membership.close();
  }
}
