// What every step of the request path shares: the per-request context (what the
// access line reports) and the per-handler environment (components and the
// options derived once from the config). Also the one place a request's outcome
// is recorded: settle().
//
// Invariant: settle() runs at most once per request, before the first byte of
// its answer is written; Cache-Status is formatted from the outcome it records
// and the outcome counters are counted from it there (observability/stats.ts).
// A request whose response closes with nothing settled (its client went away
// first) is settled `gone` then, and an answer chosen after that records nothing.

import type { StrataError } from '../errors.js';
import type { RequestBodyBudget } from '../server/request-body-budget.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { GraceWindows } from '../cache/decide.js';
import { formatCacheStatus, type CacheOutcome } from '../cache/outcome.js';
import type { StoragePolicyOptions } from '../cache/storable.js';
import type { Coalescer } from '../coalesce/coalescer.js';
import type { DeliverOptions } from '../deliver/respond.js';
import type { HeaderMap } from '../http/headers.js';
import type { AccessLog } from '../observability/access-log.js';
import type { NotStoredLog } from '../observability/not-stored.js';
import type { RequestMetrics } from '../observability/metrics.js';
import { countOutcome, countsAsMiss, type Stats } from '../observability/stats.js';
import type { TopMisses } from '../observability/top-misses.js';
import type { RouteGuards } from '../routing/guard/guard-set.js';
import type { OriginClient, OriginRequest, OriginResponse } from '../origin/client.js';
import type { Router } from '../routing/router.js';
import type { RouteSide } from '../routing/route-table.js';
import type { CacheStore } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import type { InFlight } from '../util/in-flight.js';
import type { InFlightRefusals } from './refused.js';
import type { FetchOutcome } from './fetch-outcome.js';
import type { Interest } from './fetch-interest.js';
import { clientScheme } from '../server/request-guard.js';
import { forwardHeaders } from './forward-headers.js';
import { KEY_SCHEME, normaliseAuthority } from '../cache/key.js';
import type { Negotiator } from '../transform/negotiate.js';
import type { Recompressor } from '../transform/recompress.js';
import type { CompressRules } from '../transform/rules.js';
import { planFor, type Plan } from '../transform/select.js';
import type { EntryMeta } from '../entry.js';


/** The node's flights: one fetch per key in flight, each with the clients waiting on it (fetch-interest.ts). */
export type MissFlights = Coalescer<FetchOutcome, Interest>;
export interface ProxyDeps {
  config: Readonly<Config>;
  access: AccessLog;
  store: CacheStore;
  /** Sites and routes: each request's route side, whose pool answers it. */
  router: Router;
  logger: Logger;
  stats: Stats;
  /**
   * Where requests from the worker link (another worker of this node) are counted:
   * received, outcomes, bytes (absent: with the rest, in `stats`).
   */
  linkStats?: Stats;
  /** Requests by outcome and status class, and their durations: recorded once, when a request is over. */
  metrics: RequestMetrics;
  clock: Clock;
  /** Origin fetches in flight, shared by the requests for one key. */
  coalescer: MissFlights;
  /** Refusals to store, remembered per URL for `GET /explain` (absent: not remembered). */
  notStored?: NotStoredLog;
  /** Primary keys that missed, for the dashboard's top missed URLs (absent: not tracked). */
  topMisses?: TopMisses;
  /** The cluster (absent: a lone node): peer proofs, ownership, peer fetches (src/cluster/). */
  cluster?: ClusterPath;
  /** Background recompression of made variants at the best level (absent: none). */
  recompressor?: Recompressor;
  /** The next request id (the node's, so ids go on across reloads; absent: this handler counts from 1). */
  nextRequestId?: () => number;
  /**
   * PURGE on the main listener: `refusal` says why a request may not purge (its outcome is
   * then that error); `run` answers `PURGE <target>` for the primary key given; `extra`: raw
   * fields to add to the answer; `tally`: where its answer's body bytes are counted (the request context).
   */
  purge: {
    refusal(req: IncomingMessage): StrataError | undefined;
    /** Answers a refusal as the purge API answers its own (JSON, WWW-Authenticate on a 401). */
    refuse(res: ServerResponse, refused: StrataError, extra: string[], tally?: { bytes: number }): void;
    run(req: IncomingMessage, res: ServerResponse, key: string, extra: string[], suffixed?: boolean, tally?: { bytes: number }): Promise<void>;
  };
  /** The edge guards (filters, rate limits, auth) run before the cache: the node's, or a route's own; absent or inactive: none. */
  guards?: RouteGuards;
  /** The node-wide bounds on request bodies held in memory and spooled (server/request-body-budget.ts). */
  requestBodies: RequestBodyBudget;
  /**
   * This handler's requests still running, and the background fetches they started
   * (absent: not counted): a reload closes the pools it retired once they are over.
   */
  work?: InFlight;
  /**
   * Listener refusals that answered a request in flight (./refused.ts): the node's, one map for
   * every generation, since a refusal is recorded by the generation current when it is answered
   * and the request by the one it arrived in (absent: this handler's own).
   */
  inFlightRefusals?: InFlightRefusals;
}

/**
 * A fetch through the cluster: by primary key; `side`, on a route with a canary,
 * the side this node's client was given (a peer asked answers from that side).
 */
export type ClusterRequest = OriginRequest & { key: string; side?: 'primary' | 'canary' };

/**
 * What a fetch's response came to, told once each (a worker holding the key's lock
 * follows it: workers/worker-fetch.ts). `streaming`: once the response is known,
 * whether it is being stored by a fill whose body streams to whoever joins the
 * fetch's flight; `stored`: once the store work is over, whether it was stored.
 */
export interface FillProgress {
  streaming: Promise<boolean>;
  stored: Promise<boolean>;
}

/** What the request path asks of the cluster (src/cluster/cluster.ts). */
export interface ClusterPath {
  /** The peer a request proves it comes from; a claim without proof has its peer fields removed (undefined). */
  verify(method: string, target: string, headers: HeaderMap): string | undefined;
  /**
   * The fields of this node's error answer to a proven peer request (`headers`, as
   * verified) saying its origin fetch failed with `code` (cluster/peer-auth.ts
   * PEER_ERROR): the asker's own stale rules then decide. None for other codes.
   */
  errorFields(headers: HeaderMap, code: string): string[];
  /**
   * May a peer's request join this node's fetch in flight for the primary key, one
   * that goes through the cluster? Only when that fetch cannot come back to the
   * peer (no loop): between nodes, when this node owns the key (it fetches from the
   * origin); between workers, always (a worker's fetch goes to the origin or to
   * another worker's cache, never waiting on a worker's flight).
   */
  peerMayJoin(key: string): boolean;
  /**
   * The object from its owner, the next node in ownership order, or the origin
   * (cluster/peer-fetch.ts); `fill`: what the response came to.
   */
  request(req: ClusterRequest, origin: OriginClient, fill: FillProgress): Promise<OriginResponse>;
  /** A peer's request this node fetches: the origin, or (an owner within its handoff window) the previous owner only-if-cached first. */
  forPeer(req: ClusterRequest, origin: OriginClient): Promise<OriginResponse>;
  /** Which tiers keep copies of objects another node owns. */
  readonly edgeCopies: 'memory' | 'memory-and-disk' | 'none';
}

/** The handler's components and the options derived from the config once. */
export interface NodeEnv extends ProxyDeps {
  /** This node's name in Cache-Status (an sf-token or sf-string). */
  nodeName: string;
  /** This node's Via member. */
  via: string;
  deliver: DeliverOptions;
  /** Response fields hidden whatever the guard (targeted and tag fields); a route's own hideResponseFields adds to these. */
  baseHiddenFields: ReadonlySet<string>;
  /** For answers to peers: nothing hidden (targeted fields and tags travel to the edge copy). */
  peerDeliver: DeliverOptions;
  policy: StoragePolicyOptions;
  grace: GraceWindows;
  /** Request fields never sent to the origin (origin.droppedRequestFields). */
  droppedFields: ReadonlySet<string>;
  /** Send fields whose name has "_" (origin.forwardUnderscoreFields); never the "_" spellings of those Strata removes or sets. */
  forwardUnderscoreFields: boolean;
  /** The compression stage (compress.*); absent when it is off. */
  compress?: CompressEnv;
}

export interface CompressEnv {
  negotiator: Negotiator;
  rules: CompressRules;
  maxDecodedBytes: number;
}

/** One route side's environment (route-path.ts): its upstream pool, and the route's rules in policy and grace. */
export interface PathEnv extends NodeEnv {
  origin: OriginClient;
  /**
   * The target a fetch that may fill the cache asks the origin for (route-path.ts fillTarget):
   * the client's without the query parameters the route leaves out of the key.
   */
  fillTarget: (target: string) => string;
}

/** Per-request state: what the access line reports. */
export interface RequestContext {
  id: number;
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  target: string;
  host: string;
  headers: HeaderMap;
  startMs: number;
  /** Set once, by settle(). */
  outcome: CacheOutcome | undefined;
  /** The cache decision made for the request, carried into its outcome. */
  decision: CacheOutcome['decision'];
  /** The primary key, once computed (cacheable methods). */
  key: string | undefined;
  upstream?: string;
  /** The route side the router chose (absent before routing, and for Strata's own early answers). */
  route?: RouteSide;
  /**
   * Body bytes handed to the client so far: counted by the writer as it writes
   * (streamed answers chunk by chunk), so the access line written at the
   * response's close has them whatever the order of close and the writer's promise.
   */
  bytes: number;
  /** Where this request's arrival, outcome and bytes are counted: the node's stats, or the worker link's. */
  counts: Stats;
  /** Request fields for the origin only, kept out of the cache's view (edge-checked credentials under edge.publicAfterAuth). */
  originOnly?: HeaderMap;
  /** The peer this request proved it comes from (cluster): answered here, never sent to another peer. */
  peer?: string;
  /** A peer's request: its deliver options (deliverFor), made once. */
  peerDeliver?: DeliverOptions;
}

/** The deliver options for this request's answers. */
export function deliverFor(env: NodeEnv, ctx: RequestContext): DeliverOptions {
  if (ctx.peer === undefined) return env.deliver;
  // A peer is told its copy's age as of when its request arrived (deliver/respond.ts peerAgeValue).
  return (ctx.peerDeliver ??= { ...env.peerDeliver, peerAskedAtMs: env.clock.now() - (performance.now() - ctx.startMs) });
}

/**
 * Record the request's outcome (once) and count it; returns the Cache-Status
 * value the answer carries. `o` is a fresh object owned by the request.
 */
export function settle(env: NodeEnv, ctx: RequestContext, o: CacheOutcome): string {
  if (ctx.outcome) {
    // Its client went away before this answer was chosen (a follower whose fetch answered
    // later): the request is over and recorded as gone; what is written now reaches no one.
    if (ctx.outcome.result === 'gone') return formatCacheStatus(env.nodeName, o);
    throw new Error(`outcome of request ${ctx.id} settled twice (${ctx.outcome.result}, then ${o.result})`);
  }
  if (ctx.decision !== undefined) o.decision = ctx.decision;
  ctx.outcome = o;
  countOutcome(ctx.counts, o);
  // The top missed URLs count what `misses` counts: a URL refetched every time because it is never stored is what an operator looks for there.
  if (countsAsMiss(o) && ctx.key !== undefined && ctx.counts === env.stats) env.topMisses?.record(ctx.key);
  return formatCacheStatus(env.nodeName, o);
}

/** The request fields for the origin. */
export function originHeaders(env: PathEnv, ctx: RequestContext): HeaderMap {
  const h = forwardHeaders(ctx.headers, {
    clientAddress: ctx.req.socket.remoteAddress ?? '',
    // The authority as the cache key has it (lower case, no default port, no trailing dot):
    // an origin that builds URLs from X-Forwarded-Host must build them from what the key
    // says, or `Host: LOCALHOST.` or `:80` over TLS would store its own URLs for everyone.
    clientHost: ctx.host && normaliseAuthority(KEY_SCHEME, ctx.host),
    clientProto: clientScheme(ctx.req),
    originHost: env.origin.host,
    via: env.via,
    droppedFields: env.droppedFields,
    forwardUnderscoreFields: env.forwardUnderscoreFields,
  });
  return ctx.originOnly ? Object.assign(h, ctx.originOnly) : h;
}

/** What the client needs made from `meta` of `bytes` (transform/select.ts); undefined: its bytes as they are. */
export function planOf(env: Pick<NodeEnv, 'compress'>, ctx: RequestContext, meta: EntryMeta, bytes: number): Plan {
  const c = env.compress;
  return c && planFor(meta, bytes, ctx.method, c.negotiator.forRequest(ctx.headers), c.rules);
}
