// The request path, composed: receive checks → route (site, route, canary side)
// → edge guard (filters, rate limit, auth) → key → lookup → decide → deliver
// (hit, stale-while-revalidate) | on-miss: coalesce → fetch → fill → deliver
// (miss, validation; stale-if-error when the origin fails) | pass. The only
// module that knows this order; each step lives in its own module:
//
//   handle.ts      entry: request context, receive checks, routing (once per request), the guard, the access line
//   route-path.ts  one route side's path: its key, the hot path, decide, on-miss or pass, PURGE
//   guarded.ts     the edge guard's verdict: refusals answered, passes shaping the request
//   context.ts     what the steps share; settle(), the one place an outcome is recorded
//   on-miss.ts     a request the cache cannot answer alone, routed once: slices, whole, or pass
//   shared-fetch.ts  one fetch per key (join, lead, alone) and each client's answer from its outcome
//   fetch-and-store.ts  the origin fetch, and the store work that follows it
//   fetch-outcome.ts  what a fetch is asked, and its named result (failed, validated, storing, passing, sliceable)
//   slices.ts      large objects as fixed-size slices, presented as one stored entry
//   fill.ts        the one tier fill, for whole objects and slices: shared body → store, sealed at commit
//   pass.ts        requests passed through as they are
//   answer.ts      every write to a client (with deliver/)
//
// Invariants: each request's outcome is settled exactly once (context.ts), and
// Cache-Status, the access line and the outcome counters come from it. A memory
// hit of an unvaried entry is answered synchronously, without a promise. The
// router is asked once per request; everything after uses the route side it named
// (for a peer's request, the side the peer names).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraceWindows } from '../cache/decide.js';
import { CLIENT_GONE_STATUS, cacheStatusName } from '../cache/outcome.js';
import type { StoragePolicyOptions } from '../cache/storable.js';
import { TAG_FIELDS } from '../cache/tags.js';
import type { DeliverOptions } from '../deliver/respond.js';
import { StrataError } from '../errors.js';
import { PEER_ONLY_FIELDS, withoutConnectionNamed, type HeaderMap } from '../http/headers.js';
import { authorityAsHost, checkRequest } from '../server/request-guard.js';
import type { RouteSide } from '../routing/route-table.js';
import { createAnswers } from './answer.js';
import { settle, type CompressEnv, type NodeEnv, type ProxyDeps, type RequestContext } from './context.js';
import { PRODUCIBLE } from '../transform/codings.js';
import { Negotiator } from '../transform/negotiate.js';
import { createRoutePath } from './route-path.js';
import { addSetCookie } from './sticky-cookie.js';
import { createGuardStep, vouchedByPeer, withoutFields } from './guarded.js';
import { PEER_SIDE } from '../cluster/peer-auth.js';
import { heartbeatMs, keepPeerWaiting } from '../cluster/peer-heartbeat.js';
import type { Guard } from '../routing/guard/guard.js';
import type { Stats } from '../observability/stats.js';
import type { Refusal } from '../server/refusal.js';
import { recordRefusal, type InFlightRefusal, type InFlightRefusals } from './refused.js';

export type { ProxyDeps } from './context.js';

/** The options every step uses, derived from the config once. */
function nodeEnv(deps: ProxyDeps): NodeEnv {
  const { config } = deps;
  const via = `1.1 ${config.nodeId}`;
  const targeted = config.cache.targetedField.toLowerCase();
  const hidden = new Set<string>(config.cache.passTargetedFields ? [] : [targeted, 'cdn-cache-control']);
  if (!config.purge.passTagHeaders) for (const f of TAG_FIELDS) hidden.add(f);
  // Kept with a copy from a peer (cluster/peer-fetch.ts): between peers only.
  for (const f of PEER_ONLY_FIELDS) hidden.add(f);
  const baseHiddenFields: ReadonlySet<string> = new Set(hidden);
  for (const f of deps.guards?.node.hiddenResponseFields ?? config.edge.hideResponseFields) hidden.add(f);
  const deliver: DeliverOptions = { hiddenFields: hidden, via, headerCache: new WeakMap() };
  const policy: StoragePolicyOptions = {
    targetedField: targeted,
    storeSetCookie: config.cache.storeSetCookie,
    heuristicFraction: config.cache.heuristicFraction,
    heuristicMaxS: config.cache.heuristicMaxS,
    storeCookieHeuristic: config.cache.storeCookieHeuristic,
  };
  const grace: GraceWindows = {
    staleWhileRevalidateS: config.cache.staleWhileRevalidateS,
    staleIfErrorS: config.cache.staleIfErrorS,
    staleIfDisconnectedS: config.cache.staleIfDisconnectedS,
  };
  const droppedFields = new Set(config.origin.droppedRequestFields);
  const c = config.compress;
  const compress: CompressEnv | undefined = c.enabled
    ? { negotiator: new Negotiator(c.codings.filter((n) => PRODUCIBLE.includes(n))), rules: { types: c.types, minBytes: c.minBytes }, maxDecodedBytes: c.maxDecodedBytes }
    : undefined;
  // Answers to peers hide nothing: targeted fields and tags travel to the edge copy.
  // And their Age to the millisecond, written anew for each answer (a copy's own PEER_ONLY_FIELDS are hidden like any field):
  // the asking node checks the copy against its purges (cluster/purge-times.ts).
  const peerDeliver: DeliverOptions = { hiddenFields: new Set(PEER_ONLY_FIELDS), via, headerCache: new WeakMap(), peerAge: true };
  return { ...deps, nodeName: cacheStatusName(config.nodeId), via, deliver, baseHiddenFields, peerDeliver, policy, grace, droppedFields, forwardUnderscoreFields: config.origin.forwardUnderscoreFields, ...(compress ? { compress } : {}) };
}

/**
 * A peer's request names the canary side its client was given (proven: PEER_SIDE):
 * answered from that side's pool under that side's key, whatever this node would
 * choose (a draw, the peer's address, a cookie the forwarded request lacks). No
 * side named (a route without a canary there): the router's choice.
 */
function peerSide(to: RouteSide, side: string | undefined): RouteSide {
  if (side === 'canary') return to.route.canary ?? to;
  if (side === 'primary') return to.route.primary;
  return to;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Receive refusals after which the connection's framing is not trusted: closed with the answer. */
const CLOSING_REFUSALS: ReadonlySet<string> = new Set(['AMBIGUOUS_LENGTH', 'TRANSFER_CODING_NOT_IMPLEMENTED', 'EXPECTATION_FAILED']);

/**
 * The request path, entered from a client's connection (`client`) or from the
 * worker link (`link`: another worker of this node asking for what this one holds).
 * A link request is counted in `linkStats`, never in the node's requests, outcomes,
 * bytes or request metrics: the client's request is counted once, by the worker its
 * connection reached (workers/admin-view.ts adds the workers up).
 */
export function createProxyHandler(deps: ProxyDeps): { client: Handler; link: Handler; refused: (r: Refusal) => string[]; linkRefused: (r: Refusal) => string[] } {
  const env = nodeEnv(deps);
  const { config, router, logger, stats, access, metrics } = env;
  const linkStats = deps.linkStats ?? stats;
  // Strata's own answers before a route is known (bad input, 421).
  const answer = createAnswers(env);
  // The edge guard step per Guard: the node's (config group edge), or a route's own (route guard).
  const guardSteps = new Map<Guard, ReturnType<typeof createGuardStep>>();
  function guardStep(guard: Guard): ReturnType<typeof createGuardStep> {
    let step = guardSteps.get(guard);
    if (step === undefined) {
      // Another guard's identity fields, unless this route's own auth reads them from its clients; its own, always.
      const others = [...(deps.guards?.strippedFields ?? [])].filter((f) => !guard.readFields.has(f));
      const stripped = new Set([...guard.strippedFields, ...others]);
      guardSteps.set(guard, (step = createGuardStep(env, answer, guard, stripped)));
    }
    return step;
  }
  type Run = (ctx: RequestContext) => void | Promise<void>;
  // One path per route side (its key onwards) and its route's guard step, built on its first request; a reload's new routes get new ones.
  const paths = new WeakMap<RouteSide, { path: Run; guarded: Run | undefined }>();

  /** The route side's path, and the same behind its route's guard (the node's unless the route has rules of its own). */
  function pathOf(to: RouteSide): { path: Run; guarded: Run | undefined } {
    const guard = deps.guards?.forRoute(to.route);
    const path = createRoutePath(env, to, guard);
    if (guard?.active) {
      const step = guardStep(guard);
      return { path, guarded: (ctx) => step(ctx, () => path(ctx)) };
    }
    // No checks here, but fields another route's guard vouches for are still the edge's alone.
    const stripped = deps.guards?.strippedFields;
    if (stripped === undefined || stripped.size === 0) return { path, guarded: undefined };
    return {
      path,
      guarded: (ctx) => {
        ctx.headers = withoutFields(ctx.headers, stripped);
        return path(ctx);
      },
    };
  }
  // Listener refusals that answered a request being handled (./refused.ts), read when its response closes:
  // the node's map, as a reload between the request and its refusal records them in two generations.
  const inFlightRefusals: InFlightRefusals = deps.inFlightRefusals ?? new WeakMap();
  let seq = 0;
  const nextId = deps.nextRequestId ?? (() => ++seq);
  const peerHeartbeatMs = heartbeatMs(config.cluster.peerTimeoutMs);

  /** Ask the router once; the route side's path does the rest. */
  function routed(ctx: RequestContext): void | Promise<void> {
    const r = router.resolve(ctx.host, ctx.target, ctx.headers, ctx.req.socket);
    if (r.kind === 'misdirected') return answer.error(ctx, new StrataError('MISDIRECTED_REQUEST', `no site of this node serves Host ${JSON.stringify(ctx.host.slice(0, 200))}`));
    if (r.kind === 'no-route') return answer.error(ctx, new StrataError('NO_ROUTE', `site ${r.site} has no route for ${ctx.target.slice(0, 200)}`));
    let to = r.to;
    if (ctx.peer === undefined) {
      // A new sticky id for a canary split by cookie: kept out of anything stored, sent with this answer only.
      if (r.setCookie !== undefined) addSetCookie(ctx.res, r.setCookie);
    } else to = peerSide(to, ctx.headers[PEER_SIDE]);
    ctx.route = to;
    let run = paths.get(to);
    if (run === undefined) {
      run = pathOf(to);
      paths.set(to, run);
    }
    // The edge guard runs after routing and before the key and the look-up: a refused request never reaches the cache.
    // A peer's request was guarded on the node its client reached: not checked (nor counted) twice.
    return run.guarded && ctx.peer === undefined ? run.guarded(ctx) : run.path(ctx);
  }

  /** The end of every request: bytes counted, its metrics recorded and the access line written. */
  function finished(ctx: RequestContext): void {
    const ms = performance.now() - ctx.startMs;
    // Closed before an answer was chosen: the listener refused it (broken bytes in its body,
    // ./refused.ts), or else the client went away; either is the request's one outcome.
    let status = ctx.res.statusCode;
    let refused: InFlightRefusal | undefined;
    if (ctx.outcome === undefined) {
      refused = inFlightRefusals.get(ctx.res);
      if (refused !== undefined) {
        settle(env, ctx, refused.outcome);
        ctx.bytes += refused.bytes;
        status = refused.status;
      } else settle(env, ctx, { result: 'gone' });
    }
    ctx.counts.counters.bytesServed += ctx.bytes;
    const outcome = ctx.outcome!;
    // No status line was written: res.statusCode would say 200, which nobody was sent.
    if (outcome.result === 'gone') status = CLIENT_GONE_STATUS;
    if (ctx.counts === stats) metrics.finished(outcome, status, ms / 1000);
    access.record({
      id: ctx.id,
      method: ctx.method,
      url: ctx.target,
      host: ctx.host,
      status,
      bytes: ctx.bytes,
      cache: outcome.result,
      code: outcome.result === 'error' ? outcome.detail : undefined,
      upstream: ctx.upstream,
      route: ctx.route?.label,
      ms: Math.round(ms * 100) / 100,
      // A refusal the listener wrote for it went out whole, though its response never ended.
      aborted: refused === undefined && (!ctx.res.writableEnded || ctx.res.destroyed && !ctx.res.writableFinished),
      // Not a spread of a conditional object: one record shape, made without copying properties.
      http: ctx.req.httpVersionMajor === 2 ? '2' : undefined,
    });
  }

  /** finished() once the response closes; until then the request counts as this handler's work (a reload waits for it). */
  function finishedOnClose(ctx: RequestContext): void {
    const work = deps.work;
    work?.begin();
    ctx.res.once('close', () => {
      finished(ctx);
      work?.end();
    });
  }

  function handle(req: IncomingMessage, res: ServerResponse, counts: Stats): void {
    counts.counters.requests++;
    const ctx: RequestContext = {
      id: nextId(),
      req,
      res,
      method: req.method ?? 'GET',
      target: req.url ?? '/',
      host: '',
      // Node already joins repeated fields with ", " (Set-Cookie, the one array, is a
      // response field): the incoming map is a HeaderMap without copying it.
      headers: req.headers as HeaderMap,
      startMs: performance.now(),
      outcome: undefined,
      decision: undefined,
      key: undefined,
      bytes: 0,
      counts,
    };
    const accepted = checkRequest(req, config.limits);
    if (accepted instanceof StrataError) {
      finishedOnClose(ctx);
      counts.inc('badRequests');
      logger.warn({ id: ctx.id, code: accepted.code, method: ctx.method, url: ctx.target.slice(0, 200) }, accepted.message);
      // A body framed in a way Strata refused is not read, nor one the client may still be
      // holding back for an expectation refused: the connection goes with it.
      answer.error(ctx, accepted, 'bypass', CLOSING_REFUSALS.has(accepted.code));
      return;
    }
    ctx.target = accepted.target;
    ctx.host = accepted.host;
    // HTTP/2: :authority as the host field (RFC 9113 §8.3.1), in req.headers, which ctx.headers still is.
    authorityAsHost(req);
    ctx.headers = withoutConnectionNamed(ctx.headers);
    if (ctx.target === '*') {
      // OPTIONS * (RFC 9110 §9.3.7): this server's options, which are Strata's, not an origin's.
      finishedOnClose(ctx);
      answer.options(ctx, 'options-asterisk');
      return;
    }
    if (env.cluster) {
      // Before anything reads the request: a claim to be a peer without proof loses its peer fields.
      const peer = env.cluster.verify(ctx.method, req.url ?? '/', ctx.headers);
      if (peer !== undefined && ctx.method !== 'PURGE') {
        ctx.peer = peer;
        vouchedByPeer(ctx);
      }
    }
    try {
      const work = routed(ctx);
      if (!work && res.writableEnded) {
        // A memory hit answered synchronously: its whole answer is handed to the
        // socket already, so it is logged now, without a listener per request.
        finished(ctx);
        return;
      }
      finishedOnClose(ctx);
      if (work) {
        // Still working on a peer's request (its origin may be slow): it is told this node is alive.
        if (ctx.peer !== undefined && !res.headersSent) keepPeerWaiting(res, peerHeartbeatMs);
        work.catch((err: unknown) => answer.failed(ctx, err));
      }
    } catch (err) {
      finishedOnClose(ctx);
      answer.failed(ctx, err);
    }
  }

  return {
    client: (req, res) => handle(req, res, stats),
    link: (req, res) => handle(req, res, linkStats),
    /** A refusal the client listener answered itself (server/refusal.ts), recorded as its request's outcome (./refused.ts). */
    refused: (r: Refusal) => recordRefusal(env, stats, nextId, r, inFlightRefusals),
    /** The same on the worker link: counted in `linkStats`. */
    linkRefused: (r: Refusal) => recordRefusal(env, linkStats, nextId, r, inFlightRefusals),
  };
}
