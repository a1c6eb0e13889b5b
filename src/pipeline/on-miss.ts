// A cacheable request the cache cannot answer by itself (decide → fetch or
// revalidate), routed once: from slices (a range that missed, or an object stored
// in slices: pipeline/slices.ts), as a whole object (shared-fetch.ts), or passed through
// (a range of an object Strata does not slice). The route changes at most once,
// and only forward: slices found impossible → whole or pass; a whole response the
// fetch names "sliceable" → slices, else whole without slicing; a slice's range
// the origin answered with its whole 200 → answered from that response (fromWhole).
// No step calls back into the one before it.

import { REQUEST_SPECIFIC_REASONS, type NotStoredReason } from '../cache/storable.js';
import type { Decision } from '../cache/decide.js';
import type { FwdReason } from '../cache/outcome.js';
import { StrataError } from '../errors.js';
import { answeredNotModified } from '../deliver/respond.js';
import { asksForRanges, firstRequestedByte } from '../http/range.js';
import { noSlicesKey } from '../cache/slicing.js';
import type { StoredEntry } from '../store/types.js';
import type { Answers } from './answer.js';
import { originHeaders, type PathEnv, type RequestContext } from './context.js';
import { refetchFlight, type SharedFetch } from './shared-fetch.js';
import { forFill, identityFromOrigin } from './forward-headers.js';
import type { Pass } from './pass.js';
import type { Slicer } from './slices.js';
import { newsOfObject, type WholeAnswer } from './slice-parts.js';

/**
 * The Range field a request asks for byte ranges with, as Strata reads it: a GET's (range
 * handling is defined for GET only, RFC 9110 §14.2), one it would not ignore on any
 * representation (asksForRanges). Any other is a full request, on a miss as on a hit.
 */
function askedRange(ctx: RequestContext): string | undefined {
  const range = ctx.headers['range'];
  return ctx.method === 'GET' && asksForRanges(range) ? range : undefined;
}

/** How many times a client that could not use a fetched answer fetches again, alone. */
const MAX_ALONE_FETCHES = 2;

type SliceResult = 'answered' | 'unsliced';

export function createOnMiss(env: PathEnv, answer: Answers, shared: SharedFetch, pass: Pass, slicer: Slicer) {
  const { coalescer } = env;


  /**
   * The object as slices, or "unsliced" (nothing written) when Strata does not slice it.
   * `cachedOnly`: an only-if-cached request, answered from stored slices or 504.
   */
  async function fromSlices(ctx: RequestContext, key: string, fwd: FwdReason, cachedOnly = false): Promise<SliceResult> {
    const range = askedRange(ctx) !== undefined;
    if (coalescer.passing(noSlicesKey(key))) return 'unsliced';
    // The whole object is being fetched and stored already: no second copy in slices.
    if (range && coalescer.has(key) && !slicer.knows(key)) return 'unsliced';
    const viaCluster = env.cluster !== undefined && ctx.peer === undefined;
    const o = await slicer.open({ id: ctx.id, key, target: env.fillTarget(ctx.target), requestHeaders: ctx.headers, vouched: ctx.originOnly === undefined ? undefined : Object.keys(ctx.originOnly), originHeaders: identityFromOrigin(forFill(originHeaders(env, ctx)), true), viaCluster, cachedOnly }, firstRequestedByte(askedRange(ctx)));
    if (o.kind === 'failed') {
      if (cachedOnly) answer.onlyIfCached(ctx);
      else answer.error(ctx, o.error, fwd);
      return 'answered';
    }
    if (o.kind === 'whole') return fromWhole(ctx, key, fwd, o.outcome, o.collapsed);
    if (o.kind === 'unsliceable') {
      // A refusal that is this request's own (its no-store, its credentials) says nothing of the object,
      // nor does an origin error: remembered, one 503 would send every request for a sliced object to the origin.
      if ((o.why !== 'unsatisfiable' || !range) && o.why !== 'origin-error' && !REQUEST_SPECIFIC_REASONS.has(o.why as NotStoredReason)) coalescer.markPass(noSlicesKey(key));
      // A small object asked for by range: stored whole alongside, so the next request is a hit.
      if (o.why === 'small' && range) shared.fillInBackground(ctx, key);
      return 'unsliced';
    }
    if (o.upstream) ctx.upstream = o.upstream;
    const ttlS = o.entry.meta.freshnessLifetimeS - o.ageS;
    // A hit only when no slice the answer reads comes from the origin, judged before the head
    // goes out (Cache-Status is in it): the first slice was in the cache, and the answer reads no
    // other (HEAD, 304) or every other one it reads is stored and fresh (slicer.holds). One
    // evicted between this check and its read is fetched under the hit already announced.
    const hit = o.fromCache && (ctx.method === 'HEAD' || answeredNotModified(ctx.headers, o.entry.meta) || slicer.holds(key, ctx.headers));
    // Collapsed: the slice fetched for its head was another request's fetch (later slices are not known yet).
    const outcome = o.stale
      ? { result: 'stale-hit' as const, fwd: 'stale' as const, ttlS, detail: o.stale }
      : hit
        ? { result: 'hit' as const, ttlS, detail: 'slices' }
        : { result: 'miss' as const, fwd, fwdStatus: 206, stored: true, ...(o.collapsed ? { collapsed: true } : {}), ttlS, detail: 'slices' };
    try {
      await answer.stored(ctx, o.entry, o.ageS, outcome);
    } finally {
      o.release();
    }
    return 'answered';
  }

  /**
   * The origin ignored the range a slice asked for and answered the whole object (RFC
   * 9110 §14.2 lets it): the client is answered from that response, never fetched a
   * second time, as a full fetch's clients are (answer.ts shared: a small one being
   * stored is answered once stored, the range cut from it; anything else is passed on as
   * it arrives). Not answered ('alone': a body that fell short): the range goes to the origin.
   */
  async function fromWhole(ctx: RequestContext, key: string, fwd: FwdReason, o: WholeAnswer, collapsed: boolean): Promise<SliceResult> {
    // Not storable: no probe per request while that lasts (a storable one is a hit from now on). Unless the
    // refusal says nothing of the object (this request's own: its credentials, its no-store), as for a slice's.
    if (o.kind === 'passing' && !collapsed && newsOfObject(o)) coalescer.markPass(noSlicesKey(key));
    return (await shared.answer(ctx, key, fwd, undefined, o, collapsed)) === 'answered' ? 'answered' : 'unsliced';
  }

  /** The whole object: fetched (shared when it may be), then answered from the fetch's outcome. */
  async function whole(ctx: RequestContext, key: string, fwd: FwdReason, found: StoredEntry | undefined, alone: boolean, maySlice: boolean): Promise<void> {
    let f = await shared.fetch(ctx, key, found, { alone, maySlice });
    if (f.outcome.kind === 'sliceable' && maySlice) {
      // Stopped unread because it is worth slicing: answered from slices, else fetched whole once more.
      ctx.upstream = f.outcome.upstream;
      if ((await fromSlices(ctx, key, fwd)) === 'answered') return;
      f = await shared.fetch(ctx, key, found, { alone, maySlice: false });
    }
    let refetched = false;
    for (let fetches = 0; ; fetches++) {
      const o = f.outcome;
      // "sliceable" for a request that does not slice (a flight another request led): its own fetch, whole.
      const r = o.kind === 'sliceable' ? 'alone' : await shared.answer(ctx, key, fwd, found, o, f.collapsed);
      if (r === 'answered') return;
      if (fetches === MAX_ALONE_FETCHES) return answer.error(ctx, new StrataError('ORIGIN_BAD_RESPONSE', 'origin response body failed before it could be sent'), fwd);
      // A client that cannot use the shared answer fetches its own: once shared with the others of
      // its variant (shared-fetch.ts refetchFlight), then uncollapsed.
      const flightKey = f.collapsed && !refetched ? refetchFlight(ctx, key, o) : undefined;
      refetched = true;
      f = await shared.fetch(ctx, key, found, flightKey === undefined ? { alone: true, maySlice: false } : { alone: false, maySlice: false, flightKey });
    }
  }

  /** Serve a cacheable request that needs the origin: a miss (`found` undefined) or a stored entry to validate. */
  async function onMiss(ctx: RequestContext, key: string, d: Extract<Decision, { kind: 'fetch' | 'revalidate' }>, found: StoredEntry | undefined): Promise<void> {
    const range = askedRange(ctx) !== undefined;
    if (!found && (range || slicer.knows(key))) {
      if ((await fromSlices(ctx, key, d.fwd)) === 'answered') return;
      // An object Strata does not slice is answered as before: a range passed through, a full request fetched whole.
      if (range) return pass(ctx, 'bypass', 'range');
      return whole(ctx, key, d.fwd, found, d.alone, false);
    }
    return whole(ctx, key, d.fwd, found, d.alone, !found && !coalescer.passing(noSlicesKey(key)));
  }

  /**
   * An only-if-cached request for an object stored in slices (a worker asking the
   * worker that stored a slice, or any client): answered from the slices, or 504.
   */
  async function fromStoredSlices(ctx: RequestContext, key: string): Promise<void> {
    if ((await fromSlices(ctx, key, 'uri-miss', true)) === 'unsliced') answer.onlyIfCached(ctx);
  }

  return Object.assign(onMiss, { fromStoredSlices });
}

export type OnMiss = ReturnType<typeof createOnMiss>;
