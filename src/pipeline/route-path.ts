// The request path of one route side, after routing: key (the route's key
// options) → lookup → decide → deliver | on-miss | pass, against the side's
// upstream pool, with the route's cache rules (TTL for responses without
// freshness, stale windows, bypass). handle.ts builds one per route side (on its
// first request) and hands it each request the router sent there.
//
// Invariant: a route with no key options and no canary keys exactly as a node
// without sites: primaryKey(scheme, host, target), nothing added.

import type { HeaderMap } from '../http/headers.js';
import { decide, requestFacts } from '../cache/decide.js';
import { isCacheableMethod, keySuffix, keyedTarget, KEY_SCHEME, primaryKey, PLAIN_KEY, type KeyOptions } from '../cache/key.js';
import { chooseVariant, codingOnlyKey } from '../transform/select.js';
import { normaliseVaryValue, ABSENT } from '../cache/vary.js';
import { cookieOccurrences } from '../http/cookies.js';
import { keySuffixed, type RouteSide } from '../routing/route-table.js';
import type { StoredEntry } from '../store/types.js';
import type { DeliverOptions } from '../deliver/respond.js';
import type { Guard } from '../routing/guard/guard.js';
import { createAnswers } from './answer.js';
import { settle, type ClusterPath, type NodeEnv, type PathEnv, type RequestContext } from './context.js';
import type { Side } from '../routing/shifting.js';
import { createFetcher } from './fetch-and-store.js';
import { SharedMeta } from './shared-meta.js';
import { lendAgainWhenSent, lookup, type Choose, type Lookup } from './lookup.js';
import { createOnMiss } from './on-miss.js';
import { createPass } from './pass.js';
import { createSharedFetch } from './shared-fetch.js';
import { createSlicer } from './slices.js';

/** The environment of one route side: its pool, and the route's rules over the node's. */
export function routeEnv(node: NodeEnv, to: RouteSide, guard?: Guard): PathEnv {
  const c = to.route.cache;
  const policy = c.defaultTtlS === undefined ? node.policy : { ...node.policy, defaultTtlS: c.defaultTtlS };
  const grace = {
    staleWhileRevalidateS: c.staleWhileRevalidateS ?? node.grace.staleWhileRevalidateS,
    staleIfErrorS: c.staleIfErrorS ?? node.grace.staleIfErrorS,
    staleIfDisconnectedS: c.staleIfDisconnectedS ?? node.grace.staleIfDisconnectedS,
  };
  return { ...node, origin: to.pool, policy, grace, deliver: deliverOptions(node, guard), fillTarget: fillTarget(to.route.key) };
}

/**
 * The target a fill asks the origin for: the client's, without the query parameters
 * `key` leaves out (ignoreQuery; their order kept, as sorting is for the key alone).
 * The key says the answer does not depend on them: sent on, an origin that echoes
 * one (a campaign in a sign-up form, a share link) made the answer every client of
 * the key is served from one client's value (`?utm_source="><script>…`).
 */
function fillTarget(key: KeyOptions): (target: string) => string {
  if (key.ignoreQuery.length === 0) return (target) => target;
  const ignoring: KeyOptions = { ...PLAIN_KEY, ignoreQuery: key.ignoreQuery };
  return (target) => keyedTarget(target, ignoring);
}

/**
 * The node's deliver options, or the route's own when its guard hides other
 * response fields: deliver's header cache is keyed by stored entry, so a
 * different hidden list needs a cache of its own.
 */
function deliverOptions(node: NodeEnv, guard: Guard | undefined): DeliverOptions {
  if (guard === undefined || guard === node.guards?.node) return node.deliver;
  const hidden = new Set(node.baseHiddenFields);
  for (const f of guard.hiddenResponseFields) hidden.add(f);
  if (hidden.size === node.deliver.hiddenFields.size && [...hidden].every((f) => node.deliver.hiddenFields.has(f))) return node.deliver;
  return { ...node.deliver, hiddenFields: hidden, headerCache: new WeakMap() };
}

/**
 * The cluster as one side of a route with a canary sees it: every fetch names the
 * side, so the node asked (the owner, the next in order, a worker) answers from
 * this side's pool under this side's key instead of choosing a side itself.
 */
function sided(cluster: ClusterPath, side: Side): Pick<ClusterPath, 'request' | 'forPeer'> {
  return {
    request: (req, origin, fill) => cluster.request({ ...req, side }, origin, fill),
    forPeer: (req, origin) => cluster.forPeer({ ...req, side }, origin),
  };
}

export function createRoutePath(node: NodeEnv, to: RouteSide, guard?: Guard): (ctx: RequestContext) => void | Promise<void> {
  const env = routeEnv(node, to, guard);
  const { config, store, origin, logger, stats, clock, coalescer } = env;
  const route = to.route;
  const common = { store, origin, clock, logger, stats, policy: env.policy, windowBytes: config.coalesce.windowBytes, sharedMeta: new SharedMeta() };
  const bounds = { maxUrlBytes: config.cache.maxStoredUrlBytes, maxHeaderBytes: config.cache.maxStoredHeaderBytes, maxVariants: config.cache.maxVariants };
  // The cluster: objects another node owns come through it; copies kept where cluster.edgeCopies says.
  const edgeCopy = env.cluster ? { tiers: env.cluster.edgeCopies, memoryMaxObjectBytes: config.cache.memoryMaxObjectBytes } : undefined;
  const cluster = env.cluster && route.canary !== undefined ? sided(env.cluster, to.side) : env.cluster;
  const fetchAndStore = createFetcher({ ...common, passWindowBytes: Math.min(config.limits.passBufferBytes, config.coalesce.windowBytes), sliceThresholdBytes: config.slices.thresholdBytes, bounds, notStored: env.notStored, ...(env.compress ? { compress: env.compress } : {}), cluster, edgeCopy });
  const slicer = createSlicer({ ...common, coalescer, grace: env.grace, storeWhole: fetchAndStore, thresholdBytes: config.slices.thresholdBytes, sliceBytes: config.slices.sliceBytes, cluster, edgeCopy });
  const answer = createAnswers(env);
  const pass = createPass(env, answer);
  const shared = createSharedFetch(env, answer, fetchAndStore);
  const onMiss = createOnMiss(env, answer, shared, pass, slicer);
  const compress = env.compress;
  // With compression, Accept-Encoding selects by negotiated coding (transform/select.ts).
  const choose: Choose | undefined = compress && ((variants, req) => chooseVariant(variants, req, compress.negotiator.forRequest(req)));
  const sideApart = route.keyApart && to.side === 'canary' ? to.side : undefined;
  const plainKey = route.key === PLAIN_KEY && sideApart === undefined;

  // The key's scheme and authority for the Host most recently seen: a route's requests nearly all name the same one.
  let lastHost = '';
  let lastPrefix = '';

  /** The primary key: the route's key options applied, then its side, headers and cookies added. */
  function keyOf(ctx: RequestContext): string {
    const host = ctx.host || origin.host;
    if (plainKey) {
      if (host !== lastHost) {
        lastPrefix = primaryKey(KEY_SCHEME, host, '');
        lastHost = host;
      }
      return lastPrefix + ctx.target;
    }
    const members: [string, string | undefined][] = [];
    for (const h of route.key.headers) {
      // As the client sent it, even when publicAfterAuth took the field out of the cache's view.
      const v = normaliseVaryValue(h, ctx.originOnly?.[h] ?? ctx.headers[h]);
      members.push([`h.${h}`, v === ABSENT ? undefined : v]);
    }
    // The cookies as the client sent them, even when publicAfterAuth took Cookie out of the cache's view.
    // Each occurrence, quotes kept (http/cookies.ts): `lang=en; lang=fr` and `lang="fr"` are their own
    // entries, since an origin may read the last one or keep the quotes; a repeat never keys like one.
    // So is each one spelt otherwise that some origin reads as the cookie (`lang.code` is PHP's
    // lang_code; `lang ` is lang to most, lang_ to PHP), keyed with its spelling: never like its absence.
    const cookies = ctx.originOnly?.['cookie'] ?? ctx.headers['cookie'];
    for (const c of route.key.cookies) {
      const found = cookieOccurrences(cookies, c);
      if (!found.some((o) => o.spelling === undefined)) members.push([`c.${c}`, undefined]);
      // "(" is in no keyed name (a token): where a spelling begins is never in doubt.
      for (const o of found) members.push([o.spelling === undefined ? `c.${c}` : `c.${c}(${encodeURIComponent(o.spelling)})`, o.value]);
    }
    return primaryKey(KEY_SCHEME, host, keyedTarget(ctx.target, route.key)) + keySuffix(sideApart, members);
  }

  /**
   * A URL with a single unvaried entry in memory is answered without a promise
   * in sight (the hot path); everything else goes through the full look-up.
   */
  function handleCacheable(ctx: RequestContext): void | Promise<void> {
    const key = keyOf(ctx);
    ctx.key = key;
    const hot = store.peek(key);
    if (hot && hot.meta.varyNames.length === 0) return serve(ctx, key, hot, 'uri-miss');
    if (compress) {
      // A URL keyed by coding alone: the variant in the client's coding, straight from memory (not one
      // Strata made, for a request with no-transform: the look-up below finds the origin's bytes).
      const acc = compress.negotiator.forRequest(ctx.headers);
      const coded = store.peek(codingOnlyKey(key, acc.chosen));
      if (coded && coded.meta.byCoding && coded.meta.varyNames.length === 1 && (acc.mayTransform || coded.meta.transform === undefined)) return serve(ctx, key, coded, 'uri-miss');
    }
    // A disk entry that varies on nothing, metadata in RAM and body read at once: no choice among variants to make.
    let unvaried: StoredEntry | undefined;
    try {
      // Memory was asked above: a varied memory entry goes to the look-up.
      unvaried = hot === undefined ? store.findUnvaried?.(key) : undefined;
    } catch {
      unvaried = undefined; // the look-up below meets the same failure and degrades it
    }
    if (unvaried) return serve(ctx, key, unvaried, 'uri-miss');
    // A store failure degrades to a miss.
    const failed = (err: unknown) => {
      logger.warn({ id: ctx.id, err: (err as Error).message }, 'store lookup failed; treated as a miss');
      return serve(ctx, key, undefined, 'uri-miss');
    };
    let l: Lookup | Promise<Lookup>;
    // Taken before a look-up that may await a disk read: a purge meanwhile keeps a variant made
    // from the entry found (its metadata as it was read) out of the store.
    const purgeMark = store.purgeMark();
    try {
      l = lookup(store, key, ctx.headers, choose);
    } catch (err) {
      return failed(err);
    }
    // A variant in memory, or a disk hit with its metadata in RAM, is answered without a promise too.
    if (!(l instanceof Promise)) return serve(ctx, key, l.found, l.found ? 'uri-miss' : l.miss);
    return l.then((f) => serve(ctx, key, f.found, f.found ? 'uri-miss' : f.miss, purgeMark), failed);
  }

  /** Decide once, then act on the Decision. `purgeMark`: taken before an awaited look-up (answer.stored). */
  function serve(ctx: RequestContext, key: string, found: StoredEntry | undefined, miss: 'uri-miss' | 'vary-miss', purgeMark?: number): void | Promise<void> {
    // A variant selected by a credential the edge took out of view (publicAfterAuth) is not this client's.
    if (found !== undefined && ctx.originOnly !== undefined && variesOnAny(found.meta.varyNames, ctx.originOnly)) {
      found = undefined;
      miss = 'vary-miss';
    }
    const d = decide({ request: requestFacts(ctx.headers), stored: found?.meta, miss, nowMs: clock.now(), grace: env.grace });
    ctx.decision = d.kind;
    switch (d.kind) {
      case 'hit':
        // An unread request body is discarded by Node when the response finishes, before
        // the connection is reused (no smuggling through a body a hit never reads).
        // A body in a lent buffer (a disk hit) is this answer's alone: lent again once sent.
        return lendAgainWhenSent(ctx.res, found!, answer.stored(ctx, found!, d.ageS, { result: 'hit', ttlS: d.ttlS }, purgeMark));
      case 'hit-stale':
        return lendAgainWhenSent(ctx.res, found!, answer.stored(ctx, found!, d.ageS, { result: 'stale-hit', ttlS: d.ttlS, detail: 'max-stale' }, purgeMark));
      case 'stale-while-revalidate':
        shared.revalidateInBackground(ctx, key, found!);
        return answer.stored(ctx, found!, d.ageS, { result: 'stale-hit', ttlS: d.ttlS, detail: 'stale-while-revalidate' }, purgeMark);
      case 'refuse':
        // The object stored in slices: no whole entry, but every slice asked for may be here.
        if (!found && slicer.holds(key, ctx.headers)) return onMiss.fromStoredSlices(ctx, key);
        return answer.onlyIfCached(ctx);
      case 'revalidate':
      case 'fetch':
        return onMiss(ctx, key, d, found);
    }
  }

  /**
   * PURGE (Varnish's and nginx's habit): handled by the purge module, never
   * forwarded. The URL as the route keys it, with every version keyed after "#".
   */
  function handlePurge(ctx: RequestContext): void | Promise<void> {
    // A refused PURGE (no token configured, not authorised, no tag named) is that request's
    // error, in its access line, Cache-Status and counters: nothing was purged.
    const refused = env.purge.refusal(ctx.req);
    if (refused) {
      const status = settle(env, ctx, { result: 'error', fwd: 'bypass', detail: refused.code.toLowerCase() });
      return env.purge.refuse(ctx.res, refused, ['cache-status', status, 'via', env.via], ctx);
    }
    const cacheStatus = settle(env, ctx, { result: 'bypass', fwd: 'bypass', detail: 'purge' });
    const key = primaryKey(KEY_SCHEME, ctx.host || origin.host, keyedTarget(ctx.target, route.key));
    return env.purge.run(ctx.req, ctx.res, key, ['cache-status', cacheStatus, 'via', env.via], keySuffixed(route), ctx);
  }

  return function run(ctx: RequestContext): void | Promise<void> {
    if (ctx.method === 'PURGE') return handlePurge(ctx);
    // A bypass route is a plain reverse proxy: nothing looked up, nothing stored.
    if (route.cache.bypass) return pass(ctx, 'bypass', 'route-bypass');
    return isCacheableMethod(ctx.method) ? handleCacheable(ctx) : pass(ctx, 'bypass');
  };
}

function variesOnAny(varyNames: readonly string[], fields: HeaderMap): boolean {
  for (const n of varyNames) if (fields[n] !== undefined) return true;
  return false;
}
