// The request path, composed: guard → key → lookup → decide → deliver (hit,
// stale-while-revalidate) | coalesce → fetch → store → deliver (miss, validation;
// stale-if-error when the origin fails). The only module that knows this order;
// each step lives in its own module. A fetch belongs to no client: every client
// collapsed onto it (the first one included) is answered from its shared outcome.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { StrataError } from '../errors.js';
import { isCacheableMethod, primaryKey, urlOfKey } from '../cache/key.js';
import { invalidatedKeys } from '../cache/invalidation.js';
import { cacheStatusName, formatCacheStatus, type CacheOutcome, type FwdReason } from '../cache/outcome.js';
import { decide, requestFacts, staleIfErrorAllows, type GraceWindows } from '../cache/decide.js';
import { currentAge, requestDirectives } from '../cache/reuse.js';
import { REQUEST_SPECIFIC_REASONS, type StoragePolicyOptions } from '../cache/storable.js';
import type { Coalescer } from '../coalesce/coalescer.js';
import { TAG_FIELDS } from '../cache/tags.js';
import { selectingValues, variantKey } from '../cache/vary.js';
import { advertiseRanges, deliverError, deliverStored, type DeliverOptions } from '../deliver/respond.js';
import { isNotModified } from '../http/conditionals.js';
import { firstRequestedByte } from '../http/range.js';
import { toRawPairs, withoutHopByHop, type HeaderMap } from '../http/headers.js';
import type { AccessLog } from '../observability/access-log.js';
import type { Stats } from '../observability/stats.js';
import type { OriginClient, OriginResponse } from '../origin/client.js';
import { checkRequest } from '../server/request-guard.js';
import type { EntryMeta, Store, StoredEntry } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import { createFetcher, ttlOf, type FetchOutcome, type FetchRequest } from './fetch-and-store.js';
import { forFill, forwardHeaders } from './forward-headers.js';
import { lookup } from './lookup.js';
import { resumeFromStore } from './resume-from-store.js';
import { createSlicer } from './slices.js';
import { sendBody } from './send-body.js';

export interface ProxyDeps {
  config: Readonly<Config>;
  access: AccessLog;
  store: Store;
  origin: OriginClient;
  logger: Logger;
  stats: Stats;
  clock: Clock;
  /** Origin fetches in flight, shared by the requests for one key. */
  coalescer: Coalescer<FetchOutcome>;
  /** Answers `PURGE <target>` for the primary key given; `extra`: raw fields to add to the answer. */
  purge: (req: IncomingMessage, res: ServerResponse, key: string, extra: string[]) => Promise<void>;
}

/** Per-request state: what the access line reports. */
interface RequestContext {
  id: number;
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  target: string;
  host: string;
  headers: HeaderMap;
  startMs: number;
  outcome: CacheOutcome;
  upstream?: string;
  bytes: number;
}

export function createProxyHandler(deps: ProxyDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, store, origin, logger, stats, clock, access, coalescer } = deps;
  const nodeName = cacheStatusName(config.nodeId);
  const via = `1.1 ${config.nodeId}`;
  const targeted = config.cache.targetedField.toLowerCase();
  const hidden = new Set<string>(config.cache.passTargetedFields ? [] : [targeted, 'cdn-cache-control']);
  if (!config.purge.passTagHeaders) for (const f of TAG_FIELDS) hidden.add(f);
  const deliverOpts: DeliverOptions = { hiddenFields: hidden, via, headerCache: new WeakMap() };
  const policyOpts: StoragePolicyOptions = {
    targetedField: targeted,
    storeSetCookie: config.cache.storeSetCookie,
    heuristicFraction: config.cache.heuristicFraction,
    heuristicMaxS: config.cache.heuristicMaxS,
  };
  const fetchAndStore = createFetcher({ store, origin, clock, logger, stats, policy: policyOpts, windowBytes: config.coalesce.windowBytes });
  const slicer = createSlicer({
    store, origin, coalescer, clock, logger, stats, policy: policyOpts,
    windowBytes: config.coalesce.windowBytes, thresholdBytes: config.slices.thresholdBytes, sliceBytes: config.slices.sliceBytes,
  });
  const grace: GraceWindows = { staleWhileRevalidateS: config.cache.staleWhileRevalidateS, staleIfErrorS: config.cache.staleIfErrorS };
  const sharedHeads = new WeakMap<FetchOutcome, string[]>();
  let seq = 0;

  const status = (o: CacheOutcome) => formatCacheStatus(nodeName, o);

  function accessLog(ctx: RequestContext): void {
    const ms = performance.now() - ctx.startMs;
    access.record({
      id: ctx.id,
      method: ctx.method,
      url: ctx.target,
      host: ctx.host,
      status: ctx.res.statusCode,
      bytes: ctx.bytes,
      cache: ctx.outcome.result,
      upstream: ctx.upstream,
      ms: Math.round(ms * 100) / 100,
      aborted: !ctx.res.writableEnded || ctx.res.destroyed && !ctx.res.writableFinished,
    });
  }

  function fail(ctx: RequestContext, err: StrataError, close = false): void {
    ctx.outcome = { result: 'error', fwd: ctx.outcome.fwd ?? 'bypass', detail: err.code.toLowerCase() };
    stats.inc('errors');
    deliverError(ctx.res, err, status(ctx.outcome), via, close);
  }

  function originHeaders(ctx: RequestContext): HeaderMap {
    return forwardHeaders(ctx.headers, {
      clientAddress: ctx.req.socket.remoteAddress ?? '',
      clientHost: ctx.host,
      originHost: origin.host,
      via,
    });
  }

  /** Response fields for the client from an origin response (hop-by-hop and hidden fields removed, Via added). */
  function clientHead(headers: HeaderMap): string[] {
    const h = withoutHopByHop(headers);
    for (const f of hidden) delete h[f];
    h['via'] = h['via'] ? `${h['via']}, ${via}` : via;
    return toRawPairs(h);
  }

  /**
   * The response fields every client of one shared outcome gets, built once per
   * outcome (a herd of followers would otherwise rebuild the same list each);
   * Cache-Status is added per client.
   */
  function sharedHead(o: FetchOutcome & { kind: 'response' }, storing: boolean): string[] {
    let base = sharedHeads.get(o);
    if (!base) {
      base = clientHead(o.headers);
      if (storing && o.status === 200) base = advertiseRanges(base);
      sharedHeads.set(o, base);
    }
    return base;
  }

  function passHeaders(headers: HeaderMap, outcome: CacheOutcome): string[] {
    return clientHead(headers).concat('cache-status', status(outcome));
  }

  /** Synchronous for bodies held in memory (the common hit), a promise when streamed. */
  function answerStored(ctx: RequestContext, entry: StoredEntry, ageS: number): void | Promise<void> {
    const r = deliverStored(ctx, ctx.res, entry, ageS, status(ctx.outcome), deliverOpts);
    if (r instanceof Promise) {
      return r.then((a) => {
        ctx.bytes = a.bodyBytes;
      });
    }
    ctx.bytes = r.bodyBytes;
  }

  /**
   * A URL with a single unvaried entry in memory is answered without a promise
   * in sight (the hot path); everything else goes through the full look-up.
   */
  function handleCacheable(ctx: RequestContext): void | Promise<void> {
    const key = primaryKey('http', ctx.host || origin.host, ctx.target);
    const hot = store.peek(key);
    if (hot && hot.meta.varyNames.length === 0) return serve(ctx, key, hot, 'uri-miss');
    return lookup(store, key, ctx.headers).then(
      (l) => serve(ctx, key, l.found, l.found ? 'uri-miss' : l.miss),
      (err: unknown) => {
        // A store failure degrades to a miss.
        logger.warn({ id: ctx.id, err: (err as Error).message }, 'store lookup failed; treated as a miss');
        return serve(ctx, key, undefined, 'uri-miss');
      },
    );
  }

  function serve(ctx: RequestContext, key: string, found: StoredEntry | undefined, miss: 'uri-miss' | 'vary-miss'): void | Promise<void> {
    const d = decide({ request: requestFacts(ctx.headers), stored: found?.meta, miss, nowMs: clock.now(), grace });
    switch (d.kind) {
      case 'hit':
      case 'hit-stale':
        ctx.outcome = { result: d.kind === 'hit-stale' ? 'stale-hit' : 'hit', ttlS: d.ttlS, ...(d.kind === 'hit-stale' ? { detail: 'max-stale' } : {}) };
        stats.counters.hits++;
        // An unread request body is discarded by Node when the response finishes, before
        // the connection is reused (no smuggling through a body a hit never reads).
        return answerStored(ctx, found!, d.ageS);
      case 'refuse':
        return onlyIfCached(ctx);
      case 'stale-while-revalidate':
        ctx.outcome = { result: 'stale-hit', ttlS: d.ttlS, detail: 'stale-while-revalidate' };
        stats.inc('staleWhileRevalidate');
        revalidateInBackground(ctx, key, found!);
        return answerStored(ctx, found!, d.ageS);
      case 'revalidate':
        stats.inc('stale');
        return fetchFromOrigin(ctx, key, d.fwd, found);
      case 'fetch':
        stats.inc('misses');
        return fetchFromOrigin(ctx, key, d.fwd, undefined);
    }
  }

  function onlyIfCached(ctx: RequestContext): void {
    ctx.outcome = { result: 'only-if-cached', fwd: 'miss', detail: 'only-if-cached' };
    deliverError(ctx.res, new StrataError('ONLY_IF_CACHED_MISS'), status(ctx.outcome), via);
  }

  function fetchRequest(ctx: RequestContext, key: string, found: StoredEntry | undefined): FetchRequest {
    const headers = originHeaders(ctx);
    forFill(headers);
    return { id: ctx.id, key, requestHeaders: ctx.headers, originHeaders: headers, target: ctx.target, stored: found, keepStaleOnError: staleIfError(ctx, found) };
  }

  /** One revalidation per stale entry, whoever asks; the stale entry answers meanwhile. */
  function revalidateInBackground(ctx: RequestContext, key: string, found: StoredEntry): void {
    if (coalescer.has(key)) return;
    stats.inc('backgroundRevalidations');
    const flight = coalescer.lead(key, () => fetchAndStore(fetchRequest(ctx, key, found)));
    void flight.outcome.then((o) => {
      if (o.kind === 'failed') logger.warn({ id: ctx.id, url: found.meta.url, err: o.error.message }, 'background revalidation failed; the stale entry is kept');
    });
  }

  /** One whole-object fill with no client attached (it shares the key's flight with any full request). */
  function fillInBackground(ctx: RequestContext, key: string): void {
    if (coalescer.has(key)) return;
    const flight = coalescer.lead(key, () => fetchAndStore(fetchRequest(ctx, key, undefined)));
    void flight.outcome.then((o) => {
      if (o.kind === 'failed') logger.warn({ id: ctx.id, url: ctx.target, err: o.error.message }, 'background fill failed');
    });
  }

  /**
   * Fetch from the origin for a cacheable request: a miss, or a stale `found`.
   * Concurrent requests for one key share one fetch, unless the key is in
   * hit-for-pass or the request carries what makes its answer its own.
   */
  async function fetchFromOrigin(ctx: RequestContext, key: string, fwd: FwdReason, found: StoredEntry | undefined, trySlices = true): Promise<void> {
    if (!found && trySlices && (ctx.headers['range'] !== undefined || slicer.knows(key))) return serveSliced(ctx, key, fwd);
    const solo = ctx.headers['authorization'] !== undefined || requestDirectives(ctx.headers).cc.has('no-store') || coalescer.passing(key);
    const joined = solo ? undefined : coalescer.join(key);
    if (joined) {
      stats.inc('collapsed');
      return respondFromFetch(ctx, key, fwd, found, await joined.outcome, true);
    }
    const work = () => fetchAndStore(fetchRequest(ctx, key, found));
    const outcome = solo ? work().outcome : coalescer.lead(key, work).outcome;
    return respondFromFetch(ctx, key, fwd, found, await outcome, false);
  }

  /**
   * A range request on a miss, or any request for an object stored in slices
   * (pipeline/slices.ts). An object Strata does not slice is answered as before: a
   * range passed through, a full request fetched whole.
   */
  async function serveSliced(ctx: RequestContext, key: string, fwd: FwdReason): Promise<void> {
    const unsliced = () => (ctx.headers['range'] !== undefined ? forward(ctx, 'bypass', 'range') : fetchFromOrigin(ctx, key, fwd, undefined, false));
    // Remembered like hit-for-pass, so a small or unrangeable object costs no probe per request.
    const passKey = `${key} slices`;
    if (coalescer.passing(passKey)) return unsliced();
    // The whole object is being fetched and stored already: no second copy in slices.
    if (ctx.headers['range'] !== undefined && coalescer.has(key) && !slicer.knows(key)) return unsliced();
    const o = await slicer.open({ id: ctx.id, key, target: ctx.target, requestHeaders: ctx.headers, originHeaders: forFill(originHeaders(ctx)) }, firstRequestedByte(ctx.headers['range']));
    if (o.kind === 'failed') {
      ctx.outcome = { result: 'error', fwd };
      return fail(ctx, o.error);
    }
    if (o.kind === 'unsliceable') {
      if (o.why !== 'unsatisfiable' || ctx.headers['range'] === undefined) coalescer.markPass(passKey);
      // A small object asked for by range: stored whole alongside, so the next request is a hit.
      if (o.why === 'small' && ctx.headers['range'] !== undefined) fillInBackground(ctx, key);
      return unsliced();
    }
    if (o.upstream) ctx.upstream = o.upstream;
    if (o.fromCache) {
      // serve() counted a miss: the primary key has no whole entry, but its slices answer.
      stats.counters.misses--;
      stats.counters.hits++;
    }
    const ttlS = o.entry.meta.freshnessLifetimeS - o.ageS;
    ctx.outcome = o.fromCache ? { result: 'hit', ttlS, detail: 'slices' } : { result: 'miss', fwd, fwdStatus: 206, stored: true, ttlS, detail: 'slices' };
    try {
      await answerStored(ctx, o.entry, o.ageS);
    } finally {
      o.release();
    }
  }

  /** A collapsed request that cannot use the shared answer fetches its own, uncollapsed. */
  async function fetchAlone(ctx: RequestContext, key: string, fwd: FwdReason, found: StoredEntry | undefined): Promise<void> {
    return respondFromFetch(ctx, key, fwd, found, await fetchAndStore(fetchRequest(ctx, key, found)).outcome, false);
  }

  /** Whether this client may use an entry stored for the fetch's request (same variant). */
  function sameVariant(ctx: RequestContext, meta: EntryMeta): boolean {
    return meta.varyNames.length === 0 || variantKey(meta.primaryKey, meta.varyNames, selectingValues(meta.varyNames, ctx.headers)) === meta.key;
  }

  /** RFC 5861 §4: may `found` answer because the origin failed? */
  function staleIfError(ctx: RequestContext, found: StoredEntry | undefined): boolean {
    return found !== undefined && staleIfErrorAllows(requestFacts(ctx.headers), found.meta, clock.now(), grace);
  }

  function answerStaleOnError(ctx: RequestContext, found: StoredEntry, fwd: FwdReason, fwdStatus?: number): void | Promise<void> {
    const ageS = currentAge(found.meta, clock.now());
    ctx.outcome = { result: 'stale-hit', fwd, ...(fwdStatus ? { fwdStatus } : {}), ttlS: ttlOf(found.meta, clock.now()), detail: 'stale-if-error' };
    stats.inc('staleIfError');
    return answerStored(ctx, found, ageS);
  }

  async function respondFromFetch(ctx: RequestContext, key: string, fwd: FwdReason, found: StoredEntry | undefined, o: FetchOutcome, collapsed: boolean): Promise<void> {
    const joined = collapsed ? { collapsed: true } : {};
    if (o.kind === 'failed') {
      if (staleIfError(ctx, found)) return answerStaleOnError(ctx, found!, fwd);
      ctx.outcome = { result: 'error', fwd, ...joined };
      return fail(ctx, o.error);
    }
    ctx.upstream = o.upstream;
    if (o.kind === 'validated') {
      if (collapsed && !sameVariant(ctx, o.entry.meta)) return fetchAlone(ctx, key, fwd, found);
      const meta = o.entry.meta;
      ctx.outcome = { result: 'revalidated', fwd, fwdStatus: 304, ...joined, ...(o.refreshed ? { stored: true, ttlS: ttlOf(meta, clock.now()) } : {}), ...(o.detail ? { detail: o.detail } : {}) };
      return answerStored(ctx, o.entry, currentAge(meta, clock.now()));
    }
    if (o.status >= 500 && staleIfError(ctx, found)) return answerStaleOnError(ctx, found!, fwd, o.status);
    // A large object whose origin offers ranges is stored in slices, not whole: the whole
    // transfer is stopped before anything of it is sent (unless a client already reads it).
    if (o.stored && !found && slicer.worthSlicing(o.status, o.headers) && !coalescer.passing(`${key} slices`) && o.body.abandon('stored in slices instead')) {
      return serveSliced(ctx, key, fwd);
    }
    if (o.stored) {
      if (collapsed && !sameVariant(ctx, o.stored)) return fetchAlone(ctx, key, fwd, found);
      coalescer.clearPass(key);
      ctx.outcome = { result: found ? 'refreshed' : 'miss', fwd, fwdStatus: o.status, stored: true, ...joined, ttlS: ttlOf(o.stored, clock.now()) };
      return streamShared(ctx, o, true, () => fetchAlone(ctx, key, fwd, found));
    }
    // Not storable. An origin error is the same for everyone waiting: shared, not multiplied.
    if (collapsed && !(o.status >= 500 && (o.reason === 'status' || o.reason === 'not-reusable'))) return fetchAlone(ctx, key, fwd, found);
    if (!collapsed && o.status < 500 && o.reason && !REQUEST_SPECIFIC_REASONS.has(o.reason)) coalescer.markPass(key);
    ctx.outcome = { result: 'bypass', fwd, fwdStatus: o.status, ...joined, ...(o.reason ? { detail: o.reason } : {}) };
    stats.inc('bypass');
    return streamShared(ctx, o, false, () => fetchAlone(ctx, key, fwd, found));
  }

  /**
   * Answer one client from a shared origin response. `instead` runs when the body
   * can no longer be read from its start (a late client past the window).
   */
  async function streamShared(ctx: RequestContext, o: FetchOutcome & { kind: 'response' }, storing: boolean, instead: () => Promise<void>): Promise<void> {
    // The client's own conditional request is answered here; the full body still fills the cache.
    if (storing && o.status === 200 && isNotModified(ctx.headers, o.headers)) {
      ctx.res.writeHead(304, stripBodyFields(passHeaders(o.headers, ctx.outcome)));
      ctx.res.end();
      return;
    }
    const head = sharedHead(o, storing).concat('cache-status', status(ctx.outcome));
    if (ctx.method === 'HEAD') {
      // A HEAD is complete with its headers; a fill goes on alone, and an unstored body is dropped.
      ctx.res.writeHead(o.status, head);
      ctx.res.end();
      return;
    }
    if (!o.body.available) return instead();
    ctx.res.writeHead(o.status, head);
    const r = await o.body.sendTo(ctx.res, storing)!;
    ctx.bytes = r.sent;
    // Too slow to keep pace with the shared body: continued from the stored copy.
    if (r.lagged && o.stored) {
      ctx.bytes += (await resumeFromStore(store, o.stored, o.body.sealedAt, ctx.res, r.sent)).sent;
      return;
    }
    if (r.error) logger.warn({ id: ctx.id, err: r.error.message, url: ctx.target }, 'origin body failed mid-transfer; nothing stored, client connection cut');
  }

  async function invalidate(ctx: RequestContext, res: OriginResponse): Promise<void> {
    const keys = invalidatedKeys(ctx.method, res.status, 'http', ctx.host || origin.host, ctx.target, res.headers);
    for (const pk of keys) stats.inc('invalidations', await store.deleteVariants(pk).catch(() => 0));
  }

  /** PURGE (Varnish's and nginx's habit): handled by the purge module, never forwarded. */
  function handlePurge(ctx: RequestContext): Promise<void> {
    ctx.outcome = { result: 'bypass', fwd: 'bypass', detail: 'purge' };
    const key = primaryKey('http', ctx.host || origin.host, ctx.target);
    return deps.purge(ctx.req, ctx.res, key, ['cache-status', status(ctx.outcome), 'via', via]);
  }

  /** Pass a request through as it is, nothing stored: uncacheable methods, ranges on a miss. */
  async function forward(ctx: RequestContext, fwd: FwdReason, detail?: string): Promise<void> {
    ctx.outcome = { result: 'bypass', fwd, ...(detail ? { detail } : {}) };
    stats.inc('bypass');
    const hasBody = ctx.req.headers['content-length'] !== undefined || ctx.req.headers['transfer-encoding'] !== undefined;
    let res: OriginResponse;
    try {
      res = await origin.request({ method: ctx.method, target: ctx.target, headers: originHeaders(ctx), body: hasBody ? ctx.req : null });
    } catch (err) {
      return fail(ctx, err as StrataError);
    }
    ctx.upstream = res.upstream;
    ctx.outcome.fwdStatus = res.status;
    await invalidate(ctx, res);
    ctx.res.writeHead(res.status, passHeaders(res.headers, ctx.outcome));
    const r = await sendBody(res.body, ctx.res);
    ctx.bytes = r.sent;
  }

  /** The end of every request: bytes counted and the access line written. */
  function finished(ctx: RequestContext): void {
    stats.counters.bytesServed += ctx.bytes;
    accessLog(ctx);
  }

  function failed(ctx: RequestContext, err: unknown): void {
    logger.error({ id: ctx.id, err }, 'request failed');
    fail(ctx, err instanceof StrataError ? err : new StrataError('INTERNAL'));
  }

  return function handle(req: IncomingMessage, res: ServerResponse): void {
    stats.counters.requests++;
    const ctx: RequestContext = {
      id: ++seq,
      req,
      res,
      method: req.method ?? 'GET',
      target: req.url ?? '/',
      host: '',
      // Node already joins repeated fields with ", " (Set-Cookie, the one array, is a
      // response field): the incoming map is a HeaderMap without copying it.
      headers: req.headers as HeaderMap,
      startMs: performance.now(),
      outcome: { result: 'bypass', fwd: 'bypass' },
      bytes: 0,
    };
    const accepted = checkRequest(req, config.limits);
    if (accepted instanceof StrataError) {
      res.once('close', () => finished(ctx));
      stats.inc('badRequests');
      logger.warn({ id: ctx.id, code: accepted.code, method: ctx.method, url: ctx.target.slice(0, 200) }, accepted.message);
      fail(ctx, accepted, accepted.code === 'AMBIGUOUS_LENGTH');
      return;
    }
    ctx.target = accepted.target;
    ctx.host = accepted.host;
    try {
      const work = isCacheableMethod(ctx.method) ? handleCacheable(ctx) : ctx.method === 'PURGE' ? handlePurge(ctx) : forward(ctx, 'bypass');
      if (!work && res.writableEnded) {
        // A memory hit answered synchronously: its whole answer is handed to the
        // socket already, so it is logged now, without a listener per request.
        finished(ctx);
        return;
      }
      res.once('close', () => finished(ctx));
      if (work) work.catch((err: unknown) => failed(ctx, err));
    } catch (err) {
      res.once('close', () => finished(ctx));
      failed(ctx, err);
    }
  };
}

/** A 304 carries no body: drop the fields that describe one. */
function stripBodyFields(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n === 'content-length' || n === 'content-type' || n === 'content-encoding') continue;
    out.push(n, raw[i + 1]!);
  }
  return out;
}
