// Purge everywhere, the embedded default: a purge this node accepted is queued in
// the durable outbox for every known peer, then POSTed to each peer's admin
// /purge with a peer proof. The answer waits for the acknowledgements at most
// cluster.purgeAckTimeoutMs; a peer that is down, refuses or is too slow stays in
// the outbox and is retried with a back-off (500 ms doubling to 60 s), at once
// when its health checks see it back. Deliveries to one peer are in order and
// one at a time.

import type { Logger } from 'pino';
import { request } from 'undici';
import type { Timers } from '../origin/health.js';
import { realTimers } from '../origin/health.js';
import { addressKey, isAddressKey, type Membership } from './membership.js';
import type { PurgeOutbox } from './outbox.js';
import { peerProof } from './peer-auth.js';
import type { WirePurge } from './purge-wire.js';

export const RETRY_FIRST_MS = 500;
export const RETRY_MAX_MS = 60_000;

export interface FanOutDeps {
  membership: Membership;
  outbox: PurgeOutbox;
  nodeId: string;
  secret: string;
  authNow: () => number;
  logger: Logger;
  ackTimeoutMs: number;
  timers?: Timers;
}

type Delivery = { ok: true } | { ok: false; why: string };

export class PurgeFanOut {
  private readonly backoff = new Map<string, { timer: unknown; delayMs: number }>();
  private readonly draining = new Map<string, Promise<void>>();
  private closed = false;

  constructor(private readonly deps: FanOutDeps) {}

  private get timers(): Timers {
    return this.deps.timers ?? realTimers;
  }

  /**
   * Queue `purge` for every known peer and deliver it; each peer's state once
   * acknowledged or the wait is over. A DNS-found address that has not said its id
   * yet (down since this node started) is owed it under its address, handed to its
   * id once it answers (membership.ts addressKey).
   */
  async distribute(purge: WirePurge): Promise<Record<string, string>> {
    const { membership, outbox, ackTimeoutMs } = this.deps;
    const peers = membership.peers();
    const unknown = membership.unidentified().map((m) => addressKey(m.url));
    await outbox.add(purge, [...peers.map((m) => m.id!), ...unknown]);
    const results: Record<string, string> = {};
    for (const key of unknown) results[key] = 'pending: this address has not said its node id yet (its /healthz has not answered); queued, delivered once it does';
    await Promise.all(
      peers.map(async (m) => {
        const id = m.id!;
        // A peer still starting is delivered to: it waits for what it is owed before it serves.
        if (!membership.reachable(m)) {
          results[id] = `pending: peer is ${m.health.state()}; queued, delivered when it is back`;
          this.schedule(id);
          return;
        }
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), ackTimeoutMs)));
        const delivered = this.drain(id).then(() => (outbox.owes(id, purge.id) ? 'failed' : 'acked'));
        const r = await Promise.race([delivered, late]);
        clearTimeout(timer);
        if (r === 'acked') results[id] = 'acked';
        else if (r === 'late') results[id] = `pending: no acknowledgement within ${ackTimeoutMs}ms; retrying`;
        else results[id] = `pending: ${this.lastFailure.get(id) ?? 'delivery failed'}; retrying`;
      }),
    );
    return results;
  }

  private readonly lastFailure = new Map<string, string>();

  /** A peer is back: deliver what it is owed now. */
  kick(peer: string): void {
    // An address not yet identified is delivered to once it says its id (outbox reassign).
    if (!isAddressKey(peer) && this.deps.outbox.hasPending(peer)) void this.drain(peer);
  }

  /** Deliver everything owed to `peer`, oldest first; the first failure schedules a retry. */
  private drain(peer: string): Promise<void> {
    const running = this.draining.get(peer);
    if (running) return running.then(() => (this.deps.outbox.hasPending(peer) && !this.backoff.get(peer)?.timer ? this.drain(peer) : undefined));
    const run = (async () => {
      for (const p of this.deps.outbox.owed(peer)) {
        if (this.closed) return;
        const r = await this.deliver(peer, p);
        if (!r.ok) {
          this.lastFailure.set(peer, r.why);
          this.schedule(peer);
          return;
        }
      }
      this.lastFailure.delete(peer);
      const b = this.backoff.get(peer);
      if (b?.timer !== undefined) this.timers.clearTimeout(b.timer);
      this.backoff.delete(peer);
    })().finally(() => this.draining.delete(peer));
    this.draining.set(peer, run);
    return run;
  }

  private schedule(peer: string): void {
    if (this.closed) return;
    const b = this.backoff.get(peer) ?? { timer: undefined, delayMs: RETRY_FIRST_MS / 2 };
    if (b.timer !== undefined) return;
    b.delayMs = Math.min(RETRY_MAX_MS, b.delayMs * 2);
    b.timer = this.timers.setTimeout(() => {
      b.timer = undefined;
      void this.drain(peer);
    }, b.delayMs);
    this.backoff.set(peer, b);
  }

  private async deliver(peer: string, purge: WirePurge): Promise<Delivery> {
    const m = this.deps.membership.peer(peer);
    if (!m?.agent) return { ok: false, why: 'peer unknown' };
    const body = JSON.stringify(purge);
    // Each delivery (a retry too) is a new proof: a proof is accepted once.
    const fields = { host: new URL(m.adminUrl).host, 'content-type': 'application/json' };
    try {
      const res = await request(`${m.adminUrl}/purge`, {
        method: 'POST',
        headers: { ...fields, ...peerProof(this.deps.secret, this.deps.nodeId, peer, 'POST', '/purge', this.deps.authNow(), fields, body) },
        body,
        dispatcher: m.agent,
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) return { ok: false, why: `answered ${res.statusCode} ${text.slice(0, 200).trim()}` };
      // Not awaited: the next purge of a backlog goes out while this acknowledgement is
      // written with the others (one append). A lost one only repeats an idempotent
      // purge after a restart.
      this.deps.outbox.ack(purge.id, peer).catch(() => undefined);
      return { ok: true };
    } catch (err) {
      const e = err as { code?: string; message?: string };
      return { ok: false, why: `unreachable (${e.code ?? e.message})` };
    }
  }

  close(): void {
    this.closed = true;
    for (const b of this.backoff.values()) if (b.timer !== undefined) this.timers.clearTimeout(b.timer);
    this.backoff.clear();
  }
}
