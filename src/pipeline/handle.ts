// The request path, composed: receive checks → edge guard (filters, rate limit,
// auth) → key → lookup → decide → deliver (hit, stale-while-revalidate) |
// on-miss: coalesce → fetch → fill → deliver (miss, validation; stale-if-error
// when the origin fails) | pass. The only module that
// knows this order; each step lives in its own module:
//
//   handle.ts      entry: request context, routing by method, the hot path, decide, the access line
//   guarded.ts     the edge guard's verdict: refusals answered, passes shaping the request
//   context.ts     what the steps share; settle(), the one place an outcome is recorded
//   on-miss.ts     a request the cache cannot answer alone, routed once: slices, whole, or pass
//   shared-fetch.ts  one fetch per key (join, lead, alone) and each client's answer from its outcome
//   fetch-and-store.ts  the origin fetch and its named result (failed, validated, storing, passing, sliceable)
//   slices.ts      large objects as fixed-size slices, presented as one stored entry
//   fill.ts        the one tier fill, for whole objects and slices: shared body → store, sealed at commit
//   pass.ts        requests passed through as they are
//   answer.ts      every write to a client (with deliver/)
//
// Invariants: each request's outcome is settled exactly once (context.ts), and
// Cache-Status, the access line and the outcome counters come from it. A memory
// hit of an unvaried entry is answered synchronously, without a promise.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { decide, requestFacts, type GraceWindows } from '../cache/decide.js';
import { isCacheableMethod, primaryKey } from '../cache/key.js';
import { cacheStatusName } from '../cache/outcome.js';
import type { StoragePolicyOptions } from '../cache/storable.js';
import { TAG_FIELDS } from '../cache/tags.js';
import type { DeliverOptions } from '../deliver/respond.js';
import { StrataError } from '../errors.js';
import type { HeaderMap } from '../http/headers.js';
import { checkRequest } from '../server/request-guard.js';
import type { StoredEntry } from '../store/types.js';
import { createAnswers } from './answer.js';
import { settle, type CompressEnv, type PathEnv, type ProxyDeps, type RequestContext } from './context.js';
import { PRODUCIBLE } from '../transform/codings.js';
import { Negotiator } from '../transform/negotiate.js';
import { chooseVariant, codingOnlyKey } from '../transform/select.js';
import { createFetcher } from './fetch-and-store.js';
import { createSharedFetch } from './shared-fetch.js';
import { lookup, pick, type Choose, type Picked } from './lookup.js';
import { createOnMiss } from './on-miss.js';
import { createGuardStep } from './guarded.js';
import { createPass } from './pass.js';
import { createSlicer } from './slices.js';

export type { ProxyDeps } from './context.js';

/** The options every step uses, derived from the config once. */
function pathEnv(deps: ProxyDeps): PathEnv {
  const { config } = deps;
  const via = `1.1 ${config.nodeId}`;
  const targeted = config.cache.targetedField.toLowerCase();
  const hidden = new Set<string>(config.cache.passTargetedFields ? [] : [targeted, 'cdn-cache-control']);
  if (!config.purge.passTagHeaders) for (const f of TAG_FIELDS) hidden.add(f);
  for (const f of deps.guard?.hiddenResponseFields ?? config.edge.hideResponseFields) hidden.add(f);
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
  return { ...deps, nodeName: cacheStatusName(config.nodeId), via, deliver, policy, grace, droppedFields, ...(compress ? { compress } : {}) };
}

export function createProxyHandler(deps: ProxyDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const env = pathEnv(deps);
  const { config, store, origin, logger, stats, clock, access, coalescer, metrics } = env;
  const common = { store, origin, clock, logger, stats, policy: env.policy, windowBytes: config.coalesce.windowBytes };
  const bounds = { maxUrlBytes: config.cache.maxStoredUrlBytes, maxHeaderBytes: config.cache.maxStoredHeaderBytes, maxVariants: config.cache.maxVariants };
  const fetchAndStore = createFetcher({
    ...common,
    passWindowBytes: Math.min(config.limits.passBufferBytes, config.coalesce.windowBytes),
    sliceThresholdBytes: config.slices.thresholdBytes,
    bounds,
    notStored: env.notStored,
    ...(env.compress ? { compress: env.compress } : {}),
  });
  const slicer = createSlicer({ ...common, coalescer, thresholdBytes: config.slices.thresholdBytes, sliceBytes: config.slices.sliceBytes });
  const answer = createAnswers(env);
  const pass = createPass(env, answer);
  const shared = createSharedFetch(env, answer, fetchAndStore);
  const onMiss = createOnMiss(env, answer, shared, pass, slicer);
  const guarded = deps.guard?.active ? createGuardStep(env, answer, deps.guard) : undefined;
  const compress = env.compress;
  // With compression, Accept-Encoding selects by negotiated coding (transform/select.ts).
  const choose: Choose | undefined = compress && ((variants, req) => chooseVariant(variants, req, compress.negotiator.acceptance(req['accept-encoding'])));
  let seq = 0;
  const nextId = deps.nextRequestId ?? (() => ++seq);

  /**
   * A URL with a single unvaried entry in memory is answered without a promise
   * in sight (the hot path); everything else goes through the full look-up.
   */
  function handleCacheable(ctx: RequestContext): void | Promise<void> {
    const key = primaryKey('http', ctx.host || origin.host, ctx.target);
    ctx.key = key;
    const hot = store.peek(key);
    if (hot && hot.meta.varyNames.length === 0) return serve(ctx, key, hot, 'uri-miss');
    if (compress) {
      // A URL keyed by coding alone: the variant in the client's coding, straight from memory.
      const coded = store.peek(codingOnlyKey(key, compress.negotiator.choose(ctx.headers['accept-encoding'])));
      if (coded && coded.meta.byCoding && coded.meta.varyNames.length === 1) return serve(ctx, key, coded, 'uri-miss');
    }
    // A variant held in memory is answered without a promise too (a store failure: the look-up below degrades it).
    let picked: Picked | undefined;
    try {
      picked = pick(store, key, ctx.headers, choose);
    } catch {
      picked = undefined;
    }
    const inMemory = picked?.meta && store.peek(picked.meta.key);
    if (inMemory) return serve(ctx, key, inMemory, 'uri-miss');
    return lookup(store, key, ctx.headers, choose, picked).then(
      (l) => serve(ctx, key, l.found, l.found ? 'uri-miss' : l.miss),
      (err: unknown) => {
        // A store failure degrades to a miss.
        logger.warn({ id: ctx.id, err: (err as Error).message }, 'store lookup failed; treated as a miss');
        return serve(ctx, key, undefined, 'uri-miss');
      },
    );
  }

  /** Decide once, then act on the Decision. */
  function serve(ctx: RequestContext, key: string, found: StoredEntry | undefined, miss: 'uri-miss' | 'vary-miss'): void | Promise<void> {
    const d = decide({ request: requestFacts(ctx.headers), stored: found?.meta, miss, nowMs: clock.now(), grace: env.grace });
    ctx.decision = d.kind;
    switch (d.kind) {
      case 'hit':
        // An unread request body is discarded by Node when the response finishes, before
        // the connection is reused (no smuggling through a body a hit never reads).
        return answer.stored(ctx, found!, d.ageS, { result: 'hit', ttlS: d.ttlS });
      case 'hit-stale':
        return answer.stored(ctx, found!, d.ageS, { result: 'stale-hit', ttlS: d.ttlS, detail: 'max-stale' });
      case 'stale-while-revalidate':
        shared.revalidateInBackground(ctx, key, found!);
        return answer.stored(ctx, found!, d.ageS, { result: 'stale-hit', ttlS: d.ttlS, detail: 'stale-while-revalidate' });
      case 'refuse':
        return answer.onlyIfCached(ctx);
      case 'revalidate':
      case 'fetch':
        return onMiss(ctx, key, d, found);
    }
  }

  /** A request past receive (and the edge guard), by method. */
  function route(ctx: RequestContext): void | Promise<void> {
    return isCacheableMethod(ctx.method) ? handleCacheable(ctx) : ctx.method === 'PURGE' ? handlePurge(ctx) : pass(ctx, 'bypass');
  }

  /** PURGE (Varnish's and nginx's habit): handled by the purge module, never forwarded. */
  function handlePurge(ctx: RequestContext): Promise<void> {
    const cacheStatus = settle(env, ctx, { result: 'bypass', fwd: 'bypass', detail: 'purge' });
    const key = primaryKey('http', ctx.host || origin.host, ctx.target);
    return deps.purge(ctx.req, ctx.res, key, ['cache-status', cacheStatus, 'via', env.via]);
  }

  /** The end of every request: bytes counted, its metrics recorded and the access line written. */
  function finished(ctx: RequestContext): void {
    stats.counters.bytesServed += ctx.bytes;
    const ms = performance.now() - ctx.startMs;
    metrics.finished(ctx.outcome, ctx.res.statusCode, ms / 1000);
    access.record({
      id: ctx.id,
      method: ctx.method,
      url: ctx.target,
      host: ctx.host,
      status: ctx.res.statusCode,
      bytes: ctx.bytes,
      // A client that went away before its answer was chosen.
      cache: ctx.outcome?.result ?? 'bypass',
      upstream: ctx.upstream,
      ms: Math.round(ms * 100) / 100,
      aborted: !ctx.res.writableEnded || ctx.res.destroyed && !ctx.res.writableFinished,
      ...(ctx.req.httpVersionMajor === 2 ? { http: '2' } : {}),
    });
  }

  return function handle(req: IncomingMessage, res: ServerResponse): void {
    stats.counters.requests++;
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
    };
    const accepted = checkRequest(req, config.limits);
    if (accepted instanceof StrataError) {
      res.once('close', () => finished(ctx));
      stats.inc('badRequests');
      logger.warn({ id: ctx.id, code: accepted.code, method: ctx.method, url: ctx.target.slice(0, 200) }, accepted.message);
      answer.error(ctx, accepted, 'bypass', accepted.code === 'AMBIGUOUS_LENGTH');
      return;
    }
    ctx.target = accepted.target;
    ctx.host = accepted.host;
    try {
      // The edge guard runs before the key and the look-up: a refused request never reaches the cache.
      const work = guarded ? guarded(ctx, () => route(ctx)) : route(ctx);
      if (!work && res.writableEnded) {
        // A memory hit answered synchronously: its whole answer is handed to the
        // socket already, so it is logged now, without a listener per request.
        finished(ctx);
        return;
      }
      res.once('close', () => finished(ctx));
      if (work) work.catch((err: unknown) => answer.failed(ctx, err));
    } catch (err) {
      res.once('close', () => finished(ctx));
      answer.failed(ctx, err);
    }
  };
}
