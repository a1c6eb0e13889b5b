// A fetch for a cacheable request and the answer each client gets from it. One
// fetch per key in flight (coalesce/): a request joins the fetch in flight, or
// leads a new one, or fetches alone when its answer is its own (Authorization,
// no-store) or the key is in hit-for-pass. The fetch's outcome (fetch-outcome.ts)
// is shared; each client collapsed onto it switches on it here. Also the fetches
// no client waits for: background revalidation (stale-while-revalidate) and fill.
// When the fetch fails, each client's stale entry may answer instead, as
// cache/decide.ts staleOnFailure rules (stale-if-error; stale-if-disconnected
// when no response came at all).
//
// Invariant: a client that cannot use the shared answer (another variant, a
// response that is not its to share, a body it joined too late to read from its
// start) is told "alone" before anything is written or settled for it, and then
// fetches once more: shared with the others of its variant when the answer was a
// stored one (refetchFlight), else on its own, uncollapsed.

import { isOriginError, requestFacts, staleIfErrorCovers, staleOnFailure, type OriginFailure, type StaleOnFailure } from '../cache/decide.js';
import { StrataError } from '../errors.js';
import type { FwdReason } from '../cache/outcome.js';
import { currentAge, ttlOf } from '../cache/reuse.js';
import { mergeNotModified, notModifiedMatches } from '../cache/revalidate.js';
import { selectingValues, variantKey, varyMatches } from '../cache/vary.js';
import type { HeaderMap } from '../http/headers.js';
import { ACCEPT_ENCODING } from '../transform/rules.js';
import { isCodingKeyed } from '../transform/select.js';
import type { EntryMeta, StoredEntry } from '../store/types.js';
import type { Answers } from './answer.js';
import { originHeaders, planOf, type PathEnv, type RequestContext } from './context.js';
import { type FetchOutcome, type FetchRequest, type FetchWork } from './fetch-outcome.js';
import { forFill, identityFromOrigin } from './forward-headers.js';
import { failureOf } from './fetch-source.js';
import { fetchInterest, type Interest } from './fetch-interest.js';
import type { Flight } from '../coalesce/coalescer.js';
import { madeByStrata } from '../transform/codings.js';

/** What a client does after a fetch outcome: answered, or fetch again alone. */
export type FillAnswer = 'answered' | 'alone';

type Validated = Extract<FetchOutcome, { kind: 'validated' }>;

export function createSharedFetch(env: PathEnv, answer: Answers, fetchAndStore: (req: FetchRequest) => FetchWork) {
  const { coalescer, clock, stats, logger } = env;

  function fetchRequest(ctx: RequestContext, key: string, found: StoredEntry | undefined, maySlice: boolean): FetchRequest {
    return {
      id: ctx.id,
      key,
      requestHeaders: ctx.headers,
      vouched: ctx.originOnly === undefined ? undefined : Object.keys(ctx.originOnly),
      // With compression on, Strata makes every coding from one identity body.
      originHeaders: identityFromOrigin(forFill(originHeaders(env, ctx)), env.compress !== undefined),
      target: env.fillTarget(ctx.target),
      stored: found,
      // The entry's own facts, not this client's directives: a reload's error must not replace what others may still get.
      keepStaleOnError: found !== undefined && staleIfErrorCovers(found.meta, clock.now(), env.grace),
      maySlice,
      // A peer's request is answered here, from the origin: never sent on to another peer.
      viaCluster: env.cluster !== undefined && ctx.peer === undefined,
      onInterim: (status, headers) => answer.interim(ctx, status, headers),
    };
  }

  /** Why `found` may answer, now, because the origin failed this way (cache/decide.ts). */
  function staleOnFailureOf(ctx: RequestContext, found: StoredEntry | undefined, failure: OriginFailure): StaleOnFailure | undefined {
    return found === undefined ? undefined : staleOnFailure(requestFacts(ctx.headers), found.meta, clock.now(), env.grace, failure);
  }

  /** Whether this client may use an entry stored for the fetch's request (same variant). */
  function sameVariant(ctx: RequestContext, meta: EntryMeta): boolean {
    // A body Strata made (decoded for the fetch's client) is never a no-transform request's (RFC 9110 §7.7).
    if (meta.transform !== undefined && env.compress !== undefined && !env.compress.negotiator.forRequest(ctx.headers).mayTransform) return false;
    // Keyed by coding: any client of the same other Vary values; its coding is made for it (pipeline/variants.ts).
    if (isCodingKeyed(meta)) return varyMatches(meta.varyNames, meta.varyValues, ctx.headers, new Map(), ACCEPT_ENCODING);
    return meta.varyNames.length === 0 || variantKey(meta.primaryKey, meta.varyNames, selectingValues(meta.varyNames, ctx.headers)) === meta.key;
  }

  /**
   * What a collapsed client is answered with after a 304 validated the fetch's entry, and whether a
   * variant made for it from that entry may be stored. Keyed by coding, any client of the same other
   * Vary values may use it (as a hit would, its coding made for it), except that a copy decoded from
   * a variant Strata encoded must not be stored: under the client's coding's key it would take the
   * place of the origin's own body (identity decoded from a made br, with a weak ETag of its own).
   * Such a client gets its own stored variant when the 304 validates it too (RFC 9111 §4.3.4: the
   * same strong validator, the same response in another coding), refreshed as the validated one was;
   * else the validated entry decoded for it alone, not stored. Either way, no fetch of its own.
   */
  function validatedFor(ctx: RequestContext, o: Validated, found: StoredEntry | undefined): { entry: StoredEntry; storeMade: boolean } {
    const entry = o.entry;
    const plan = isCodingKeyed(entry.meta) ? planOf(env, ctx, entry.meta, entry.body.size) : undefined;
    const encodedByStrata = madeByStrata(entry.meta);
    if (plan?.op !== 'decode' || !encodedByStrata) return { entry, storeMade: true };
    if (!found || found.meta.key === entry.meta.key || !validatedToo(found.meta, entry.meta, o.notModified.responseHeaders)) return { entry, storeMade: false };
    // Refreshed in the store with the validated one, by the fetch (refresh-codings.ts): its merge is
    // reused. A 304 that refreshed nothing (a no-store request's) stores nothing here either, a
    // variant made from it included: the client's own merge only.
    const refreshed = o.refreshed ? o.otherCodings?.get(found.meta.key) : undefined;
    if (refreshed) return { entry: { meta: refreshed, body: found.body }, storeMade: true };
    const merged = mergeNotModified({ meta: found.meta, ...o.notModified }, env.policy);
    return merged ? { entry: { meta: merged, body: found.body }, storeMade: false } : { entry, storeMade: false };
  }

  function answerStaleOnError(ctx: RequestContext, found: StoredEntry, fwd: FwdReason, why: StaleOnFailure, fwdStatus?: number): void | Promise<void> {
    const now = clock.now();
    return answer.stored(ctx, found, currentAge(found.meta, now), { result: 'stale-hit', fwd, ...(fwdStatus ? { fwdStatus } : {}), ttlS: ttlOf(found.meta, now), detail: why });
  }

  return {
    /** One revalidation per stale entry, whoever asks; the stale entry answers meanwhile (RFC 5861 §3). */
    revalidateInBackground(ctx: RequestContext, key: string, found: StoredEntry): void {
      if (coalescer.has(key)) return;
      stats.inc('backgroundRevalidations');
      const flight = coalescer.lead(key, () => fetchAndStore(fetchRequest(ctx, key, found, false)));
      // Outlives its request: the pool it was routed to stays open until its origin answered.
      env.work?.hold(flight.outcome);
      void flight.outcome.then((o) => {
        if (o.kind === 'failed') logger.warn({ id: ctx.id, url: found.meta.url, err: o.error.message }, 'background revalidation failed; the stale entry is kept');
      });
    },

    /** One whole-object fill with no client attached (it shares the key's flight with any full request). */
    fillInBackground(ctx: RequestContext, key: string): void {
      if (coalescer.has(key)) return;
      const flight = coalescer.lead(key, () => fetchAndStore(fetchRequest(ctx, key, undefined, false)));
      env.work?.hold(flight.outcome);
      void flight.outcome.then((o) => {
        if (o.kind === 'failed') logger.warn({ id: ctx.id, url: ctx.target, err: o.error.message }, 'background fill failed');
      });
    },

    /**
     * The fetch for this request: the one in flight for the key when the request
     * may share it, else a new one (listed for others to join unless `alone`).
     */
    async fetch(ctx: RequestContext, key: string, found: StoredEntry | undefined, opts: { alone: boolean; maySlice: boolean; flightKey?: string }): Promise<{ outcome: FetchOutcome; collapsed: boolean }> {
      const alone = opts.alone || coalescer.passing(key);
      // Listed under the key, or under a refetch's own flight (refetchFlight).
      const flightKey = opts.flightKey ?? key;
      // A peer's request joins only a flight that cannot come back to it (no loops): one
      // that goes to the origin (context.ts peerMayJoin).
      const joined = alone ? undefined : coalescer.join(flightKey, ctx.peer === undefined ? undefined : (f) => f.route !== 'cluster' || env.cluster!.peerMayJoin(key));
      // Counted as collapsed only if answered from it (its outcome says so): a client that cannot use it fetches alone.
      if (joined) {
        stats.inc('joined');
        joined.waiting?.watch(ctx.res);
        return { outcome: await joined.outcome, collapsed: true };
      }
      // Gone already (reset while the guard or the look-up ran): no fetch, and none listed for others to join.
      if (ctx.res.destroyed) return { outcome: { kind: 'failed', error: new StrataError('CLIENT_GONE', 'the client went away before its fetch began') }, collapsed: false };
      const request = fetchRequest(ctx, key, found, opts.maySlice);
      let flight: Flight<FetchOutcome, Interest> | undefined;
      // The last waiting client to leave before the origin answers cancels the fetch (./fetch-interest.ts).
      const interest = fetchInterest(() => {
        stats.inc('fetchesCancelled');
        if (flight) coalescer.unlist(flight);
      });
      request.signal = interest.signal;
      const work = () => fetchAndStore(request);
      interest.watch(ctx.res);
      let outcome: Promise<FetchOutcome>;
      // Joined by peers only when it goes to the origin (see above).
      if (alone || (ctx.peer !== undefined && coalescer.has(flightKey))) outcome = work().outcome;
      else {
        flight = coalescer.lead(flightKey, work, request.viaCluster ? 'cluster' : 'origin');
        flight.waiting = interest;
        outcome = flight.outcome;
      }
      try {
        return { outcome: await outcome, collapsed: false };
      } finally {
        interest.settle();
      }
    },

    /** Answer one client from a fetch's outcome ("sliceable" is the caller's to route). */
    async answer(ctx: RequestContext, key: string, fwd: FwdReason, found: StoredEntry | undefined, o: Exclude<FetchOutcome, { kind: 'sliceable' }>, collapsed: boolean): Promise<FillAnswer> {
      const joined = collapsed ? { collapsed: true } : {};
      // Gone before the origin answered (the fetch may have been cancelled for it): nobody to answer, nothing to log.
      if (o.kind === 'failed' && ctx.res.destroyed) return 'answered';
      if (o.kind === 'failed') {
        const why = staleOnFailureOf(ctx, found, failureOf(o.error));
        if (why) await answerStaleOnError(ctx, found!, fwd, why);
        else answer.error(ctx, o.error, fwd);
        return 'answered';
      }
      if (o.kind === 'validated') {
        if (collapsed && (o.own === true || !sameVariant(ctx, o.entry.meta))) return 'alone';
        // The leader gets the 304's own fields (its Set-Cookie) where storing dropped some: nothing made from them is stored.
        const use = collapsed ? validatedFor(ctx, o, found) : o.leaderMeta ? { entry: { meta: o.leaderMeta, body: o.entry.body }, storeMade: false } : { entry: o.entry, storeMade: true };
        const meta = use.entry.meta;
        ctx.upstream = o.upstream;
        const now = clock.now();
        const outcome = { result: 'revalidated' as const, fwd, fwdStatus: 304, ...joined, ...(o.refreshed ? { stored: true, ttlS: ttlOf(meta, now) } : {}), ...(o.detail ? { detail: o.detail } : {}) };
        await answer.stored(ctx, use.entry, currentAge(meta, now), outcome, o.purgeMark, use.storeMade);
        return 'answered';
      }
      const why = isOriginError(o.status) ? staleOnFailureOf(ctx, found, 'error') : undefined;
      if (why) {
        ctx.upstream = o.upstream;
        await answerStaleOnError(ctx, found!, fwd, why, o.status);
        return 'answered';
      }
      if (o.kind === 'storing') {
        if (collapsed && !sameVariant(ctx, o.stored)) return 'alone';
        coalescer.clearPass(key);
        ctx.upstream = o.upstream;
        const outcome = { result: found ? ('refreshed' as const) : ('miss' as const), fwd, fwdStatus: o.status, stored: true, ...joined, ttlS: ttlOf(o.stored, clock.now()) };
        return (await answer.shared(ctx, o, outcome)) ?? 'answered';
      }
      // Not storable: shared only when it is the same answer for everyone (an origin error).
      if (collapsed && !o.shareable) return 'alone';
      if (!collapsed && o.hitForPass) coalescer.markPass(key);
      ctx.upstream = o.upstream;
      return (await answer.shared(ctx, o, { result: 'bypass', fwd, fwdStatus: o.status, ...joined, detail: o.reason })) ?? 'answered';
    },
  };
}

export type SharedFetch = ReturnType<typeof createSharedFetch>;

/**
 * Where a client that joined a fetch and could not use its answer fetches again (FillAnswer
 * "alone"): when that answer was a stored or validated response, on a flight of its own for
 * the client's variant (its values of the answer's Vary fields), so the others of that variant
 * share its fetch — another variant than the leader's, or a body being stored whose start was
 * released before they could read it — instead of each going to the origin. Never the flight it
 * came from (a "\n" no request target holds; coalescer.ts lists it as derived from the URI's
 * key). Undefined when the answer was not the client's to share (passing, or a 304 that answered
 * its request's credentials): it fetches alone.
 */
export function refetchFlight(ctx: RequestContext, key: string, o: FetchOutcome): string | undefined {
  const meta = o.kind === 'storing' ? o.stored : o.kind === 'validated' && o.own !== true ? o.entry.meta : undefined;
  if (meta === undefined) return undefined;
  const names = meta.varyNames;
  return names.length === 0 ? `${key}\n` : variantKey(key, names, selectingValues(names, ctx.headers));
}

/**
 * Whether a 304 to the request that validated `validated` validates `other` too (RFC 9111 §4.3.4):
 * both stored with the same strong ETag (the one the request sent), and the 304 names no other.
 */
function validatedToo(other: EntryMeta, validated: EntryMeta, notModified: HeaderMap): boolean {
  const tag = other.headers['etag'];
  return tag !== undefined && !tag.trim().startsWith('W/') && tag === validated.headers['etag'] && notModifiedMatches(other, notModified);
}

