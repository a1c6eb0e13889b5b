// Who is in the cluster, and who of them can be asked now. Members come from the
// static list (cluster.peers: NAME=URL) and from DNS (cluster.dns: HOST:PORT,
// every A/AAAA record a node, re-resolved on an interval). This node (its node id)
// is always a member. A member's identity is its node id: a DNS-found address
// becomes a member once its admin /healthz has answered with its id (the address
// that answers our own id with our process start is us, and is left out; with
// another start it is a second node given our id: refused, warned, shown in /stats).
//
// Health is the upstreams' machinery (origin/health.ts): passive evidence from
// peer fetches (recordFailure / recordSuccess) and active probes of the peer's
// admin /healthz every cluster.healthCheckIntervalMs, each with its own
// ActiveHealthChecker so members can come and go.
//
// A member is asked for objects only once its /healthz has answered, and not while
// that answer says `starting` (its admin listener is open but the listener peers
// fetch from is not yet: a node waiting for its peers' purges, start-wait.ts).
// Purges are delivered to it meanwhile (reachable()). For a start's wait, each
// member's last probe is kept: not probed yet, answered, or failed (startView()).
//
// Invariant: every node that sees the same healthy set ranks a key's members in
// the same order (ownership.ts); `changedAtMs` moves whenever the set this node
// sees changes (handoff, peer-fetch.ts).

import type { Logger } from 'pino';
import { Agent, request } from 'undici';
import type { ClusterConfig, PassiveHealthConfig } from '../config/types.js';
import type { PeerSpec } from '../config/schema/index.js';
import { ActiveHealthChecker, realTimers, UpstreamHealth, type ActiveThresholds, type ProbeOutcome, type Timers } from '../origin/health.js';
import { readHealthz } from './healthz-answer.js';
import { addressKey, adminOf, base, lookupAll } from './member-address.js';
import type { Clock } from '../util/clock.js';
import { memberReport, type MemberReport } from './member-report.js';
import { rank } from './ownership.js';
import { peerProof } from './peer-auth.js';
import type { PeerAtStart } from './start-wait.js';

export { addressKey, isAddressKey } from './member-address.js';

export interface Member {
  /** Node id; undefined for a DNS-found address that has not answered yet. */
  id: string | undefined;
  /** Proxy listener base URL. */
  url: string;
  /** Admin listener base URL. */
  adminUrl: string;
  self: boolean;
  source: 'static' | 'dns' | 'self';
  health: UpstreamHealth;
  /** Connections to this member (proxy and admin listeners). */
  agent: Agent | undefined;
  checker: ActiveHealthChecker | undefined;
  /** DNS: when the address stopped being listed (0: listed). */
  unlistedSinceMs: number;
  /** Its admin /healthz has answered once: until then it is not asked (a node still starting). */
  answered: boolean;
  /** The process start its /healthz last named (a new one: it restarted). */
  boot: string | undefined;
  /** Purges it said (its last /healthz answer) it still owes this node; undefined: it did not say. */
  owesUs: number | undefined;
  /** Its last /healthz answer said it does not take peers' requests yet (start-wait.ts). */
  starting: boolean;
  /** Its last probe: undefined before the first one ends. */
  lastProbe: 'answered' | 'failed' | undefined;
  /** Why its last probe failed (shown in /stats); undefined once one answered. */
  probeFailure: string | undefined;
  /** The identity conflict last logged for it (warned once, not every probe). */
  conflict: string | undefined;
}

export interface MembershipDeps {
  nodeId: string;
  /** This process's start as its /healthz names it: our id answered with another start is a second node sharing the id. */
  boot?: string;
  logger: Logger;
  /** Health state times (ejections). */
  clock: Clock;
  /** Wall clock for peer proofs. */
  authNow: () => number;
  passive: PassiveHealthConfig;
  thresholds: ActiveThresholds;
  /** Origin body timeout, reused for peer bodies. */
  bodyTimeoutMs: number;
  /** DNS look-up of cluster.dns's host (tests inject one). */
  resolve?: (host: string) => Promise<string[]>;
  timers?: Timers;
  /**
   * A member became available (health moved to healthy, or it was found), or it
   * restarted (its /healthz names another process start: a restart quicker than its
   * health checks notice leaves it "healthy" throughout).
   */
  onAvailable?: (id: string) => void;
  /**
   * A member left the set for good (its id no longer configured, or no longer listed
   * by DNS for FORGET_AFTER_MS): nothing more is owed to `key`, its node id, or
   * addressKey(url) for an address that never said who it is. Not called when only
   * a member's address changed: what is owed to its id stays owed.
   */
  onForgotten?: (key: string) => void;
  /**
   * A DNS-found address said who it is: `id`, or undefined when it is this node.
   * What was owed to addressKey(url) until then is owed to that id now.
   */
  onIdentified?: (url: string, id: string | undefined) => void;
}

/** A DNS-found member that stays unlisted this long is forgotten (its queued purges dropped). */
export const FORGET_AFTER_MS = 3_600_000;

export class Membership {
  private readonly members = new Map<string, Member>();
  private readonly selfMember: Member;
  private dnsTimer: unknown;
  /** cluster.dns has been looked up once (answered or failed): the members it lists are known. */
  private dnsLooked = false;
  private closed = false;
  private signature = '';
  /** When the set of available members last changed (handoff window). */
  changedAtMs = 0;

  constructor(
    private readonly cfg: Readonly<ClusterConfig>,
    private readonly deps: MembershipDeps,
  ) {
    this.selfMember = this.member({ id: deps.nodeId, url: '', adminUrl: '', source: 'self' });
    this.selfMember.self = true;
    for (const p of cfg.peers) if (p.id !== deps.nodeId) this.add(p);
  }

  /** A cluster has peers configured or discovered (a lone node with no peers list is not clustered). */
  get clustered(): boolean {
    return this.cfg.peers.length > 0 || this.cfg.dns !== '';
  }

  start(): void {
    for (const m of this.members.values()) this.watch(m);
    if (this.cfg.dns !== '') void this.resolveLoop();
  }

  private member(init: Pick<Member, 'id' | 'url' | 'adminUrl' | 'source'>): Member {
    const m: Member = {
      ...init,
      self: false,
      agent: undefined,
      checker: undefined,
      unlistedSinceMs: 0,
      answered: false,
      boot: undefined,
      owesUs: undefined,
      starting: false,
      lastProbe: undefined,
      probeFailure: undefined,
      conflict: undefined,
      health: undefined as unknown as UpstreamHealth,
    };
    m.health = new UpstreamHealth(this.deps.passive, this.deps.thresholds, this.deps.clock, (t) => {
      // A peer that never answered yet (still starting, like this node) is no news.
      const level = (t.to === 'ejected' || t.to === 'unhealthy') && m.answered ? 'warn' : 'info';
      this.deps.logger[level]({ peer: m.id ?? m.url, from: t.from, to: t.to, reason: t.reason }, `peer ${t.to}`);
      if ((t.to === 'healthy' || t.to === 'probation') && m.id !== undefined) this.deps.onAvailable?.(m.id);
    });
    return m;
  }

  private add(p: PeerSpec): void {
    const m = this.member({ id: p.id, url: p.url, adminUrl: adminOf(p.url, p.adminPort ?? this.cfg.peerAdminPort), source: 'static' });
    this.members.set(p.url, m);
  }

  /** Start probing a member (and open its connection pool). */
  private watch(m: Member): void {
    m.agent = new Agent({
      connect: { timeout: this.cfg.peerConnectTimeoutMs },
      headersTimeout: this.cfg.peerTimeoutMs,
      bodyTimeout: this.deps.bodyTimeoutMs,
      keepAliveTimeout: 4_000,
      connections: 128,
    });
    const probe = async (): Promise<ProbeOutcome> => {
      const r = await this.probe(m).catch((err: unknown): ProbeOutcome => ({ ok: false, detail: (err as Error).message }));
      m.lastProbe = r.ok ? 'answered' : 'failed';
      m.probeFailure = r.ok ? undefined : r.detail;
      if (r.ok) m.conflict = undefined;
      return r;
    };
    m.checker = new ActiveHealthChecker([{ health: m.health, probe }], this.cfg.healthCheckIntervalMs, this.deps.timers ?? realTimers);
    m.checker.start();
  }

  private async probe(m: Member): Promise<ProbeOutcome> {
    if (this.closed || !m.agent) return { ok: false, detail: 'closed' };
    // The Host named and signed: a proof is bound to the node it was made for.
    const fields = { host: new URL(m.adminUrl).host };
    const res = await request(`${m.adminUrl}/healthz`, {
      method: 'GET',
      headers: { ...fields, ...peerProof(this.cfg.secret, this.deps.nodeId, m.id ?? '', 'GET', '/healthz', this.deps.authNow(), fields) },
      dispatcher: m.agent,
      headersTimeout: Math.max(1000, this.cfg.peerConnectTimeoutMs),
      bodyTimeout: Math.max(1000, this.cfg.peerConnectTimeoutMs),
    });
    const answer = readHealthz(res.statusCode, await res.body.text());
    if (!answer.ok) return answer;
    const node = answer.node;
    if (m.id === undefined) {
      // Our id from another process: two nodes were given one id, and each would take the other for itself.
      if (node === this.deps.nodeId && answer.boot !== undefined && this.deps.boot !== undefined && answer.boot !== this.deps.boot) {
        return this.conflicting(m, `answers with this node's own id ${node} from another process: two nodes share the node id (give each its own --node-id); not asked`);
      }
      if (node === this.deps.nodeId) {
        // Our own address in the DNS answer: not a peer.
        m.self = true;
        m.checker?.stop();
        this.deps.onIdentified?.(m.url, undefined);
        return { ok: false, detail: 'this node' };
      }
      const before = [...this.members.entries()].find(([, o]) => o !== m && o.id === node && !o.self);
      if (before) {
        const [oldUrl, old] = before;
        // The node moved (DNS no longer lists its old address): the new address replaces
        // it, and what is owed to its id stays owed. Both listed: which one is it? Neither yet.
        if (old.source !== 'dns' || old.unlistedSinceMs === 0) return this.conflicting(m, `node id ${node} already known at another address (${old.url}): two nodes may share the id; not asked`);
        this.forget(oldUrl, old, `moved to ${m.url}`, true);
      }
      m.id = node;
      this.deps.logger.info({ peer: node, url: m.url }, 'peer found by DNS');
      this.deps.onIdentified?.(m.url, node);
    } else if (node !== m.id) {
      return this.conflicting(m, `answers as ${node}, expected ${m.id}`);
    }
    m.owesUs = answer.owed;
    m.starting = answer.starting;
    const restarted = m.boot !== undefined && answer.boot !== m.boot;
    m.boot = answer.boot;
    if (!m.answered) {
      m.answered = true;
      this.deps.onAvailable?.(node);
    } else if (restarted) {
      // What it is owed goes now, not when a back-off timer fires: it may already be serving.
      this.deps.logger.info({ peer: node }, 'peer restarted');
      this.deps.onAvailable?.(node);
    }
    return { ok: true, detail: 'status 200' };
  }

  /** A probe refused for who the address says it is: warned once per conflict (the health transition logs only the first failure). */
  private conflicting(m: Member, detail: string): ProbeOutcome {
    if (m.conflict !== detail) this.deps.logger.warn({ peer: m.id ?? m.url, url: m.url, why: detail }, `peer ${m.url} ${detail}`);
    m.conflict = detail;
    return { ok: false, detail };
  }

  private async resolveLoop(): Promise<void> {
    if (this.closed) return;
    const [host, portText] = [this.cfg.dns.slice(0, this.cfg.dns.lastIndexOf(':')), this.cfg.dns.slice(this.cfg.dns.lastIndexOf(':') + 1)];
    const port = Number(portText);
    try {
      const addresses = await (this.deps.resolve ?? lookupAll)(host);
      if (this.closed) return;
      const listed = new Set(addresses.map((a) => base(a, port)));
      for (const url of listed) {
        const known = this.members.get(url);
        if (known) {
          known.unlistedSinceMs = 0;
          continue;
        }
        const m = this.member({ id: undefined, url, adminUrl: adminOf(url, this.cfg.peerAdminPort), source: 'dns' });
        this.members.set(url, m);
        this.watch(m);
      }
      const now = this.deps.clock.now();
      for (const [url, m] of this.members) {
        if (m.source !== 'dns' || listed.has(url)) continue;
        if (m.unlistedSinceMs === 0) m.unlistedSinceMs = now;
        // Owed purges go with it unless its id is still a member at another address.
        else if (now - m.unlistedSinceMs >= FORGET_AFTER_MS) this.forget(url, m, undefined, [...this.members.values()].some((o) => o !== m && m.id !== undefined && o.id === m.id));
      }
    } catch (err) {
      this.deps.logger.warn({ dns: this.cfg.dns, err: (err as Error).message }, 'cluster DNS look-up failed; keeping the members known');
    }
    this.dnsLooked = true;
    if (this.closed) return;
    const t = this.deps.timers ?? realTimers;
    this.dnsTimer = t.setTimeout(() => void this.resolveLoop(), this.cfg.dnsIntervalMs);
  }

  /**
   * A reload's peer list (cluster.peers): peers new to it are probed before they get
   * traffic, as at start; listed peers keep their health and connections; a peer no
   * longer listed (or listed under another name or admin port) is forgotten, with the
   * purges still owed to it unless its id is still listed (at another address or admin
   * port: it moved, and is owed them there). Members found by DNS are left to the DNS loop.
   */
  setPeers(peers: readonly PeerSpec[]): void {
    const wanted = new Map(peers.filter((p) => p.id !== this.deps.nodeId).map((p) => [p.url, p]));
    const ids = new Set(peers.map((p) => p.id));
    for (const [url, m] of this.members) {
      if (m.source !== 'static') continue;
      const p = wanted.get(url);
      if (p === undefined || p.id !== m.id || adminOf(p.url, p.adminPort ?? this.cfg.peerAdminPort) !== m.adminUrl) {
        const moved = m.id !== undefined && ids.has(m.id);
        this.forget(url, m, moved ? 'listed at another address in cluster.peers' : 'no longer listed in cluster.peers', moved);
      }
    }
    for (const [url, p] of wanted) {
      if (this.members.has(url)) continue;
      this.add(p);
      if (!this.closed) this.watch(this.members.get(url)!);
    }
  }

  /** Drop a member; `keepOwed`: its id is still a member elsewhere, so what it is owed stays owed. */
  private forget(url: string, m: Member, why = 'no longer listed by DNS', keepOwed = false): void {
    this.members.delete(url);
    m.checker?.stop();
    void m.agent?.close();
    if (m.self) return;
    if (m.id === undefined) {
      this.deps.onForgotten?.(addressKey(url));
      return;
    }
    this.deps.logger.info({ peer: m.id, url, why, purgesKept: keepOwed }, `peer ${why}; forgotten at ${url}`);
    if (!keepOwed) this.deps.onForgotten?.(m.id);
  }

  /** Peers with a known id (not this node), whatever their health. */
  peers(): Member[] {
    return [...this.members.values()].filter((m) => m.id !== undefined && !m.self);
  }

  /** DNS-found addresses still listed that have not said who they are (no /healthz answer yet). */
  unidentified(): Member[] {
    return [...this.members.values()].filter((m) => m.id === undefined && !m.self && m.unlistedSinceMs === 0);
  }

  /** The peer named `id`, if known. */
  peer(id: string): Member | undefined {
    return this.peers().find((m) => m.id === id);
  }

  /** May a purge be delivered to `m` now (it answered, listed, healthy or on probation; starting or not)? */
  reachable(m: Member): boolean {
    return m.id !== undefined && !m.self && m.answered && m.unlistedSinceMs === 0 && m.health.available();
  }

  /** May `m` be asked for objects now (reachable, and not starting)? */
  usable(m: Member): boolean {
    return m.self || (this.reachable(m) && !m.starting);
  }

  /**
   * Every other member as a start waits on it: the listed peers, DNS-found addresses
   * that have not said their id included; undefined while cluster.dns has not been
   * looked up yet (who the members are is not known).
   */
  startView(): PeerAtStart[] | undefined {
    if (this.cfg.dns !== '' && !this.dnsLooked) return undefined;
    return [...this.members.values()]
      .filter((m) => !m.self && m.unlistedSinceMs === 0)
      .map((m) => ({ name: m.id ?? m.url, answered: m.lastProbe === 'answered' && this.reachable(m), owesUs: m.owesUs, unreachable: m.lastProbe === 'failed' }));
  }

  /** This node and every peer that may be asked now. */
  available(): Member[] {
    const list = [this.selfMember, ...this.peers().filter((m) => this.usable(m))];
    const sig = list.map((m) => m.id).sort().join(',');
    if (sig !== this.signature) {
      if (this.signature !== '') this.deps.logger.info({ members: sig }, 'cluster membership changed');
      this.signature = sig;
      this.changedAtMs = this.deps.clock.now();
    }
    return list;
  }

  /** The available members ranked for `key`: the owner first, then the order to fall back in. */
  order(key: string): Member[] {
    return rank(key, this.available() as (Member & { id: string })[]);
  }

  /** Is this node the owner of `key` now? */
  ownsNow(key: string): boolean {
    return this.order(key)[0]!.self;
  }

  /** /stats `members`: every peer, and every DNS-listed address not identified yet, with why it is not asked. */
  stats(): MemberReport[] {
    return [...this.peers(), ...this.unidentified()].map((m) => memberReport(m, this.usable(m)));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.dnsTimer !== undefined) (this.deps.timers ?? realTimers).clearTimeout(this.dnsTimer);
    await Promise.all([...this.members.values()].map(async (m) => {
      m.checker?.stop();
      await m.agent?.destroy();
    }));
  }
}
