// The fetch of an object this node may not own: ask the owner (rendezvous order
// over the available members), else the next in that order, else the origin.
// Streamed: the peer's body is handed on as it arrives, like an origin's.
//
// Rules (each one a reason):
// - a member that fails before answering (connect error, reset, no headers within
//   cluster.peerTimeoutMs of the request, however long it queued for one of the
//   peer's sockets, nor of its last sign of life: peer-heartbeat.ts) counts against
//   its health and the next is asked; an
//   answer, even a 5xx, is the answer (asking others would multiply a failing
//   origin's load);
// - when this node is the owner of what its own client asked (cluster.successorCopy),
//   the next member in order (the object's owner should this node die) is asked: it
//   answers from its cache when it holds the object, else fetches the origin for us
//   and keeps a copy where cluster.edgeCopies says. So an owner's death costs the
//   origin nothing for what it held, and a node that returns takes its objects back
//   from whoever held them meanwhile. That member answers itself (a peer's request);
//   if it fails before answering, the origin is asked;
// - otherwise the owner asks the origin, except within cluster.handoffMs of a change
//   of the healthy set: then the previous owner (the next member in order) is asked
//   first with only-if-cached (the same return without a successor copy);
// - a peer's request for an object this node does not own (the owner fetching
//   through us, or views that differ for a moment) is answered from the origin and
//   kept as a copy of another node's object (cluster.edgeCopies);
// - peers with purges still queued for them (outbox.ts) are skipped: they may
//   hold what was purged;
// - a peer whose own origin fetch failed (it answers Strata's own 502/504, signed
//   as such: peer-auth.ts PEER_ERROR) has not answered: its failure is this node's,
//   of the same kind (ORIGIN_UNREACHABLE stays a disconnection), so this node's own
//   stale rules decide (stale-if-error, stale-if-disconnected), for an owner asking
//   its successor as for any node asking the owner. Nobody else is asked: the origin
//   was, and failed;
// - a peer's answer's Cache-Status and Via are cut after this node's own last member
//   (hop-chain.ts): stored or passed on, they never name this node twice;
// - a request whose header section would not fit the peer's limit once the hop's
//   fields are added (hop-size.ts) is not sent to a peer (its 431 would be final): this
//   node asks the origin itself, as for a peer that failed before answering;
// - an answer whose content may have left the origin before a purge this node
//   applied that matches it (purge-times.ts: the peer has not applied that purge
//   yet) is not taken: the peer is asked once more with no-cache (it revalidates
//   with the origin), and if that answer is no newer, this node asks the origin;
// - a request is sent to a peer with a proof (peer-auth.ts) over every field sent;
//   the peer answers it itself and never forwards it to another peer
//   (pipeline/shared-fetch.ts);
// - on a route with a canary, the side this node's client was given travels with
//   it (PEER_SIDE): the peer answers from that side, never choosing one itself.

import type { Logger } from 'pino';
import { errors as undiciErrors, request } from 'undici';
import { urlOfKey } from '../cache/key.js';
import { tagsOf } from '../cache/tags.js';
import { cacheStatusName } from '../cache/outcome.js';
import { cutAtSelf } from './hop-chain.js';
import { peerHeadBytes } from './hop-size.js';
import { hasNoContent } from '../http/no-content.js';
import { fromUndici, PEER_AGE, PEER_SOFT_PURGED, type HeaderMap } from '../http/headers.js';
import { failedBeforeResponse, failureReason, healthByBody, originError, type OriginClient, type OriginRequest, type OriginResponse } from '../origin/client.js';
import { StrataError, type ErrorCode } from '../errors.js';
import type { Clock } from '../util/clock.js';
import type { Member, Membership } from './membership.js';
import { PEER_ERROR, PEER_ERROR_SIG, PEER_SIDE, PEER_SIG, PEER_VOUCHED, peerErrorOf, peerProof } from './peer-auth.js';
import type { CopyFacts } from './purge-times.js';
import { Canceller, undiciSignal } from '../util/cancel-signal.js';

/**
 * A request for an object by its primary key; `side`: the canary side of a route with one (sent to the owner, proven);
 * `vouched`: request fields the edge's guard checked under edge.publicAfterAuth (sent to the owner, proven: PEER_VOUCHED);
 * `validatedTags`: the purge tags of the stored copy the request validates (a 304 carries none of its own).
 */
export type PeerRequest = OriginRequest & { key: string; side?: string; vouched?: readonly string[] | undefined; validatedTags?: readonly string[] };

export interface PeerFetchDeps {
  membership: Membership;
  nodeId: string;
  secret: string;
  authNow: () => number;
  clock: Clock;
  logger: Logger;
  handoffMs: number;
  /**
   * cluster.peerTimeoutMs: a peer's time to send its answer's headers, counted from the request (queued or not),
   * or its next sign of life (a 1xx: peer-heartbeat.ts) when it has sent one.
   */
  peerTimeoutMs: number;
  /** The longest a peer sending signs of life is waited for, from the request (origin.headersTimeoutMs + peerTimeoutMs). */
  peerWaitMaxMs?: () => number;
  /** A peer with purges queued for it is not asked. */
  hasPendingPurges: (peerId: string) => boolean;
  /** The owner's own misses go through the next member in order (cluster.successorCopy). */
  successorCopy: boolean;
  /** Peers' limit on a request's header section (limits.maxHeaderBytes, the same on every node); read per request (reloads). */
  maxHeaderBytes?: () => number;
  /** Has a purge applied here after `sinceMs` (this node's clock) matched such a copy (purge-times.ts)? */
  purgedSince?: (copy: CopyFacts, sinceMs: number) => boolean;
}

/** How a request asks a peer: normally, from its cache only, or revalidated with the origin. */
type Asking = 'normal' | 'only-if-cached' | 'no-cache';

/** A peer's answer not taken: its content may predate a purge this node applied. */
const PREDATES = Symbol('predates a purge');

/**
 * Clock readings are whole milliseconds, on both nodes: a content's real departure
 * from the origin may be this much earlier than its age says.
 */
export const READING_SLACK_MS = 2;

/** The largest member of a list of numbers (a field sent twice is joined with ", "); undefined when none. */
function largest(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  let out: number | undefined;
  for (const v of value.split(',')) {
    const t = v.trim();
    if (/^\d+$/.test(t)) out = Math.max(out ?? 0, Number(t));
  }
  return out;
}

/**
 * The earliest instant, on this node's clock, at which the content of a peer's answer
 * may have left the origin: the instant this node asked, less the answer's age (it was
 * measured on the peer's clock, after this node asked: a duration, so the two clocks
 * need not agree). Undefined when the answer says no age: fetched for this request.
 */
export function leftOriginAfter(headers: HeaderMap, askedAtMs: number): number | undefined {
  const precise = largest(headers[PEER_AGE]);
  if (precise !== undefined) return askedAtMs - precise - READING_SLACK_MS;
  // Whole seconds, rounded down by whoever wrote it.
  const age = largest(headers['age']);
  return age === undefined ? undefined : askedAtMs - (age + 1) * 1000 - READING_SLACK_MS;
}

/**
 * The tags of what a peer's answer hands this node: a 304 validates the copy this node
 * stored, whose tags it does not repeat (RFC 9110 §15.4.5 lists the fields it carries), so
 * a tag purge applied here would not match it and the peer's unpurged copy would refresh it.
 */
function copyTags(res: OriginResponse, req: PeerRequest): string[] {
  const own = tagsOf(res.headers);
  if (res.status !== 304 || req.validatedTags === undefined || req.validatedTags.length === 0) return own;
  return [...new Set([...own, ...req.validatedTags])];
}

/** A peer answer's soft purge, for an answer kept as this node's own copy. */
function softPurgedOf(res: OriginResponse): { softPurgedAtMs?: number } {
  return res.softPurgedAtMs === undefined ? {} : { softPurgedAtMs: res.softPurgedAtMs };
}

/** Failed before any response: the next member may be asked. */
function askNext(err: unknown): boolean {
  return failedBeforeResponse(err) || err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.ConnectTimeoutError;
}

export class PeerFetch {
  private peerFetches = 0;
  private peerFailures = 0;
  private handoffHits = 0;
  private successorFetches = 0;
  /** Peer answers not taken because they may predate a purge applied here. */
  private predatingAnswers = 0;

  constructor(private readonly deps: PeerFetchDeps) {}

  /** An object by its primary key `req.key`: from its owner, the next in order, or the origin. */
  async request(req: PeerRequest, origin: OriginClient): Promise<OriginResponse> {
    const order = this.deps.membership.order(req.key).filter((m) => m.self || !this.deps.hasPendingPurges(m.id!));
    for (let i = 0; i < order.length; i++) {
      const m = order[i]!;
      if (m.self) return this.asOwner(req, order.slice(i + 1), origin, this.deps.successorCopy);
      if (!this.fits(m, req)) return this.forOwner(order[0]!, req, origin);
      let res: OriginResponse | undefined;
      try {
        res = await this.unpurged(m, req, 'normal');
      } catch (err) {
        if (!askNext(err)) throw originError(err, `peer ${m.id}`);
        this.deps.logger.info({ peer: m.id, err: failureReason(err), url: req.target }, 'peer failed before answering; asking the next node in ownership order');
        continue;
      }
      // Refused twice (it may predate a purge): the next member may hold the same copy, the origin does not.
      return res ?? this.forOwner(order[0]!, req, origin);
    }
    return origin.request(req);
  }

  /**
   * The origin's answer for an object `owner` owns, asked here instead of a peer (the
   * request would not fit a peer's header limit, or a peer's copy may predate a purge):
   * kept where cluster.edgeCopies says, as a copy from that peer would be, not in every
   * tier as this node's own.
   */
  private async forOwner(owner: Member, req: PeerRequest, origin: OriginClient): Promise<OriginResponse> {
    const res = await origin.request(req);
    return owner.self ? res : { ...res, peer: owner.id! };
  }

  /**
   * A peer's request (never sent on to another peer as such): the origin, except
   * that an owner within its handoff window first asks the previous owner
   * only-if-cached, as for its own clients (an only-if-cached request is answered
   * from a cache alone, so this cannot loop).
   */
  async forPeer(req: PeerRequest, origin: OriginClient): Promise<OriginResponse> {
    const order = this.deps.membership.order(req.key).filter((m) => m.self || !this.deps.hasPendingPurges(m.id!));
    const owner = order[0];
    if (owner !== undefined && !owner.self) {
      // Another node's object (its owner fetching through us): our copy is an edge copy.
      return { ...(await origin.request(req)), peer: owner.id! };
    }
    return this.asOwner(req, order.slice(1), origin, false);
  }

  /** This node owns the object: through the next member (`throughNext`), else the origin, with the handoff rule. */
  private async asOwner(req: PeerRequest, rest: Member[], origin: OriginClient, throughNext: boolean): Promise<OriginResponse> {
    const previous = rest[0];
    if (previous && throughNext && this.fits(previous, req)) {
      try {
        const res = await this.unpurged(previous, req, 'normal');
        if (res) {
          this.successorFetches++;
          // This node owns it: stored here as the owner's copy (every tier); the next member keeps its own.
          return { status: res.status, headers: res.headers, body: res.body, upstream: `peer ${previous.id} (next owner)`, ...softPurgedOf(res) };
        }
      } catch (err) {
        if (!askNext(err)) throw originError(err, `peer ${previous.id}`);
        this.deps.logger.info({ peer: previous.id, err: failureReason(err), url: req.target }, 'next node in ownership order failed before answering; asking the origin');
      }
      return origin.request(req);
    }
    const handoff = this.deps.handoffMs > 0 && this.deps.clock.now() - this.deps.membership.changedAtMs < this.deps.handoffMs;
    if (previous && handoff && this.fits(previous, req)) {
      try {
        const res = await this.fromPeer(previous, req, 'only-if-cached');
        // What it holds may predate a purge applied here: this owner asks the origin, as without it.
        if (res !== PREDATES && res.status !== 504) {
          this.handoffHits++;
          // This node owns it: what the previous owner held is stored here as the owner's copy, not an edge copy.
          return { status: res.status, headers: res.headers, body: res.body, upstream: `handoff from peer ${previous.id}`, ...softPurgedOf(res) };
        }
        if (res !== PREDATES) res.body.resume();
      } catch (err) {
        if (!askNext(err)) throw originError(err, `peer ${previous.id}`);
      }
    }
    return origin.request(req);
  }

  /**
   * Another worker of this node (workers/worker-fetch.ts): its cache only, or (`join`)
   * its fetch in flight for the object, joined by its request path (the bytes stream
   * as they arrive). Undefined when it does not hold the object (504), is not
   * available, or fails before answering. A copy that may predate a purge applied
   * here is revalidated by that worker (no-cache).
   */
  async fromWorker(id: string, req: PeerRequest, join: boolean): Promise<OriginResponse | undefined> {
    const m = this.deps.membership.peer(id);
    // One with purges queued for it may hold what was purged.
    if (!m || !this.deps.membership.usable(m) || this.deps.hasPendingPurges(id) || !this.fits(m, req)) return undefined;
    try {
      const res = await this.unpurged(m, req, join ? 'normal' : 'only-if-cached');
      if (res === undefined || res.status !== 504) return res;
      res.body.resume();
      return undefined;
    } catch (err) {
      if (!askNext(err)) throw originError(err, `peer ${m.id}`);
      return undefined;
    }
  }

  /** Would `req`, with the hop's fields, fit peer `m`'s header limit? Logged when not. */
  private fits(m: Member, req: PeerRequest): boolean {
    const limit = this.deps.maxHeaderBytes?.();
    if (limit === undefined) return true;
    const bytes = peerHeadBytes(req.method, req.target, req.headers, this.deps.nodeId, m.id ?? '', new URL(urlOfKey(req.key)).host);
    if (bytes <= limit) return true;
    this.deps.logger.info({ peer: m.id, bytes, limit, url: req.target.slice(0, 200) }, "request's header section would not fit the peer's limit with the hop's fields; not asking the peer");
    return false;
  }

  /**
   * Peer `m`'s answer, unless its content may have left the origin before a purge
   * this node applied that matches it (the peer has not applied it yet): then `m` is
   * asked once more with no-cache, so it revalidates with the origin. Undefined when
   * that answer may predate the purge too (e.g. it joined a fetch begun before it).
   */
  private async unpurged(m: Member, req: PeerRequest, asking: Asking): Promise<OriginResponse | undefined> {
    const first = await this.fromPeer(m, req, asking);
    if (first !== PREDATES) return first;
    const again = await this.fromPeer(m, req, 'no-cache');
    if (again !== PREDATES) return again;
    this.deps.logger.info({ peer: m.id, url: req.target }, "peer's copy may predate a purge applied here, even revalidated; asking the origin");
    return undefined;
  }

  /** One request to a peer's proxy listener, with proof; PREDATES: an answer this node does not take. */
  private async fromPeer(m: Member, req: PeerRequest, asking: Asking): Promise<OriginResponse | typeof PREDATES> {
    this.peerFetches++;
    const headers: Record<string, string> = { ...req.headers };
    // The owner computes the same primary key from the same Host.
    headers['host'] = new URL(urlOfKey(req.key)).host;
    if (asking !== 'normal') headers['cache-control'] = headers['cache-control'] ? `${headers['cache-control']}, ${asking}` : asking;
    // The owner answers from the side this node's client was given, not one it would choose itself.
    if (req.side !== undefined) headers[PEER_SIDE] = req.side;
    // Credentials the edge checked are the origin's alone at the owner too: they do not make the answer this client's.
    if (req.vouched !== undefined && req.vouched.length > 0) headers[PEER_VOUCHED] = req.vouched.join(',');
    // Every field sent is signed (the Host too): a captured request cannot be sent again, nor changed.
    const proof = peerProof(this.deps.secret, this.deps.nodeId, m.id ?? '', req.method, req.target, this.deps.authNow(), headers);
    Object.assign(headers, proof);
    const askedAtMs = this.deps.clock.now();
    let res: OriginResponse;
    // The peer's time to answer counts from now, not from when a socket of its pool takes the
    // request: behind a stalled peer's busy sockets a queued request would wait round after round.
    const deadline = new Canceller().follow(req.signal);
    const waitMs = this.deps.peerTimeoutMs;
    // Timers' time (monotonic, as setTimeout's), not the clock ages are read from.
    const latest = performance.now() + Math.max(waitMs, this.deps.peerWaitMaxMs?.() ?? waitMs);
    const expire = () => deadline.abort(new undiciErrors.HeadersTimeoutError(`peer ${m.id} sent no headers nor sign of life within cluster.peerTimeoutMs (${waitMs} ms)`));
    let timer = setTimeout(expire, waitMs);
    // A sign of life (peer-heartbeat.ts): it is working on it (its origin is slow), so its time starts again, up to `latest`.
    const onInfo = (): void => {
      clearTimeout(timer);
      timer = setTimeout(expire, Math.max(0, Math.min(waitMs, latest - performance.now())));
    };
    // Outcomes of requests sent before the peer's latest ejection do not decide its health (health.ts era).
    const era = m.health.era();
    try {
      const r = await request(m.url + req.target, { method: req.method as 'GET', headers, dispatcher: m.agent, signal: undiciSignal(deadline), onInfo }).finally(() => clearTimeout(timer));
      healthByBody(r.body, hasNoContent(req.method, r.statusCode), {
        success: () => m.health.recordSuccess(era),
        failure: (reason) => {
          this.peerFailures++;
          m.health.recordFailure(reason, era);
        },
      });
      res = { status: r.statusCode, headers: fromUndici(r.headers), body: r.body, upstream: `peer ${m.id}`, peer: m.id! };
    } catch (err) {
      this.peerFailures++;
      if (askNext(err)) m.health.recordFailure(failureReason(err), era);
      throw err;
    }
    if (res.headers[PEER_ERROR] !== undefined) {
      const code = res.status >= 500 ? peerErrorOf(this.deps.secret, proof[PEER_SIG]!, res.headers) : undefined;
      if (code !== undefined) {
        // Its origin fetch failed: this node's fetch failed the same way (its stale rules decide).
        res.body.resume();
        const err = new StrataError(code as ErrorCode, `peer ${m.id} could not fetch from the origin (${code}) for ${req.target.slice(0, 200)}`);
        err.upstream = `peer ${m.id}`;
        throw err;
      }
      // Not signed for this request: an ordinary answer (not kept with a copy).
      delete res.headers[PEER_ERROR];
      delete res.headers[PEER_ERROR_SIG];
    }
    // A copy that has passed through this node before: its chains start again from here (hop-chain.ts).
    cutAtSelf(res.headers, cacheStatusName(this.deps.nodeId), this.deps.nodeId);
    const softPurged = largest(res.headers[PEER_SOFT_PURGED]);
    if (res.headers[PEER_SOFT_PURGED] !== undefined) delete res.headers[PEER_SOFT_PURGED];
    // Its copy was soft-purged there: stale there, so here too (counted from when this node asked: never later).
    if (softPurged !== undefined) res.softPurgedAtMs = askedAtMs - softPurged;
    const since = leftOriginAfter(res.headers, askedAtMs);
    // Kept with the copy (hidden from clients): its answers to peers count from there (deliver/respond.ts).
    if (since === undefined) delete res.headers[PEER_AGE];
    else res.headers[PEER_AGE] = String(askedAtMs - since);
    if (since !== undefined && this.deps.purgedSince?.({ primaryKey: req.key, url: urlOfKey(req.key), tags: copyTags(res, req) }, since)) {
      this.predatingAnswers++;
      // Not read: the connection goes (undici reports its own abort as an error, expected here).
      res.body.on('error', () => undefined).destroy();
      return PREDATES;
    }
    return res;
  }

  stats(): { peerFetches: number; peerFailures: number; handoffHits: number; successorFetches: number; peerAnswersPredatingPurges: number } {
    return { peerFetches: this.peerFetches, peerFailures: this.peerFailures, handoffHits: this.handoffHits, successorFetches: this.successorFetches, peerAnswersPredatingPurges: this.predatingAnswers };
  }
}
