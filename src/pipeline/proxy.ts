// The request path, composed: guard → key → lookup → decide → deliver (hit) |
// revalidate → deliver | fetch → store → deliver (miss). The only module that
// knows this order; each step lives in its own module.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { StrataError } from '../errors.js';
import { isCacheableMethod, primaryKey, urlOfKey } from '../cache/key.js';
import { invalidatedKeys } from '../cache/invalidation.js';
import { cacheStatusName, formatCacheStatus, type CacheOutcome } from '../cache/outcome.js';
import { decideReuse, currentAge, requestDirectives } from '../cache/reuse.js';
import { canValidate, mergeNotModified, notModifiedMatches, validatorHeaders } from '../cache/revalidate.js';
import { newEntryMeta } from '../cache/entry.js';
import { assessStorage, REQUEST_SPECIFIC_REASONS, type StoragePolicyOptions } from '../cache/storable.js';
import { selectingValues, variantKey } from '../cache/vary.js';
import { deliverError, deliverStored, type DeliverOptions } from '../deliver/respond.js';
import { isNotModified } from '../http/conditionals.js';
import { toRawPairs, withoutHopByHop, type HeaderMap } from '../http/headers.js';
import type { AccessLog } from '../observability/access-log.js';
import type { Stats } from '../observability/stats.js';
import type { OriginClient, OriginResponse } from '../origin/client.js';
import { checkRequest } from '../server/request-guard.js';
import type { EntryMeta, Store, StoredEntry } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import { forFill, forwardHeaders } from './forward-headers.js';
import { lookup } from './lookup.js';
import { tee } from './tee.js';

export interface ProxyDeps {
  config: Readonly<Config>;
  access: AccessLog;
  store: Store;
  origin: OriginClient;
  logger: Logger;
  stats: Stats;
  clock: Clock;
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
  const { config, store, origin, logger, stats, clock, access } = deps;
  const nodeName = cacheStatusName(config.nodeId);
  const via = `1.1 ${config.nodeId}`;
  const targeted = config.cache.targetedField.toLowerCase();
  const hidden = new Set<string>(config.cache.passTargetedFields ? [] : [targeted, 'cdn-cache-control']);
  const deliverOpts: DeliverOptions = { hiddenFields: hidden, via, headerCache: new WeakMap() };
  const policyOpts: StoragePolicyOptions = {
    targetedField: targeted,
    storeSetCookie: config.cache.storeSetCookie,
    heuristicFraction: config.cache.heuristicFraction,
    heuristicMaxS: config.cache.heuristicMaxS,
  };
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

  /** Response fields for the client from an origin response (hop-by-hop and hidden fields removed). */
  function passHeaders(res: OriginResponse, outcome: CacheOutcome): string[] {
    const h = withoutHopByHop(res.headers);
    for (const f of hidden) delete h[f];
    h['via'] = h['via'] ? `${h['via']}, ${via}` : via;
    h['cache-status'] = status(outcome);
    return toRawPairs(h);
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
    const rd = requestDirectives(ctx.headers);
    if (found) {
      const d = decideReuse(rd, found.meta, clock.now());
      if (d.reuse) {
        ctx.outcome = { result: d.stale ? 'stale-hit' : 'hit', ttlS: d.ttlS, ...(d.stale ? { detail: 'max-stale' } : {}) };
        stats.counters.hits++;
        // An unread request body is discarded by Node when the response finishes, before
        // the connection is reused (no smuggling through a body a hit never reads).
        return answerStored(ctx, found, d.ageS);
      }
      if (rd.onlyIfCached) return onlyIfCached(ctx);
      const fwd = d.why === 'stale' || d.why === 'no-cache' ? 'stale' : 'request';
      stats.inc('stale');
      return fetchFromOrigin(ctx, key, fwd, canValidate(found.meta) ? found : undefined);
    }
    if (rd.onlyIfCached) return onlyIfCached(ctx);
    stats.inc('misses');
    return fetchFromOrigin(ctx, key, miss, undefined);
  }

  function onlyIfCached(ctx: RequestContext): void {
    ctx.outcome = { result: 'only-if-cached', fwd: 'miss', detail: 'only-if-cached' };
    deliverError(ctx.res, new StrataError('ONLY_IF_CACHED_MISS'), status(ctx.outcome), via);
  }

  /** Fetch from the origin for a cacheable request: a miss, or a validation of `stored`. */
  async function fetchFromOrigin(ctx: RequestContext, key: string, fwd: CacheOutcome['fwd'], stored: StoredEntry | undefined): Promise<void> {
    // A range on a miss is passed through (the media work fetches slices instead).
    const fill = ctx.headers['range'] === undefined || stored !== undefined;
    const headers = originHeaders(ctx);
    if (fill) forFill(headers);
    if (stored) Object.assign(headers, validatorHeaders(stored.meta));
    const requestTimeMs = clock.now();
    let res: OriginResponse;
    try {
      res = await origin.request({ method: fill ? 'GET' : ctx.method, target: ctx.target, headers });
    } catch (err) {
      ctx.outcome = { result: 'error', fwd };
      return fail(ctx, err as StrataError);
    }
    ctx.upstream = res.upstream;
    const responseTimeMs = clock.now();

    if (stored && res.status === 304) {
      res.body.resume();
      if (notModifiedMatches(stored.meta, res.headers)) {
        stats.inc('revalidated');
        // A request's no-store forbids storing anything from this exchange: the
        // validated entry is served but not refreshed.
        if (requestDirectives(ctx.headers).cc.has('no-store')) {
          ctx.outcome = { result: 'revalidated', fwd, fwdStatus: 304, detail: 'request-no-store' };
          return answerStored(ctx, stored, currentAge(stored.meta, clock.now()));
        }
        const merged = mergeNotModified({ meta: stored.meta, responseHeaders: res.headers, requestTimeMs, responseTimeMs }, policyOpts);
        if (merged) {
          await store.update(merged).catch((err: unknown) => logger.warn({ id: ctx.id, err: (err as Error).message }, 'metadata update failed'));
          ctx.outcome = { result: 'revalidated', fwd, fwdStatus: 304, stored: true, ttlS: merged.freshnessLifetimeS - currentAge(merged, responseTimeMs) };
          return answerStored(ctx, { meta: merged, body: stored.body }, currentAge(merged, clock.now()));
        }
        await deleteKeys([stored.meta.key]);
        ctx.outcome = { result: 'revalidated', fwd, fwdStatus: 304, detail: 'no-longer-storable' };
        return answerStored(ctx, stored, currentAge(stored.meta, clock.now()));
      }
      // A 304 for another representation: fetch the whole response instead.
      return fetchFromOrigin(ctx, key, fwd, undefined);
    }

    const verdict = fill ? assessStorage({ method: 'GET', url: urlOfKey(key), requestHeaders: ctx.headers, status: res.status, responseHeaders: res.headers, requestTimeMs, responseTimeMs }, policyOpts) : undefined;
    const clientWantsBody = ctx.method !== 'HEAD';
    let writer;
    if (verdict?.store) {
      const d = verdict.decision;
      const varyValues = selectingValues(d.varyNames, ctx.headers);
      const cl = res.headers['content-length'];
      const meta = newEntryMeta(d, {
        key: variantKey(key, d.varyNames, varyValues),
        primaryKey: key,
        url: urlOfKey(key),
        status: res.status,
        varyValues,
        requestTimeMs,
        responseTimeMs,
        bodySize: res.status === 204 ? 0 : cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : -1,
      });
      writer = store.open(meta);
      ctx.outcome = { result: stored ? 'refreshed' : 'miss', fwd, fwdStatus: res.status, stored: true, ttlS: d.freshnessLifetimeS - d.initialAgeS };
      // The client's own conditional request is answered here; the full body still fills the cache.
      if (res.status === 200 && isNotModified(ctx.headers, res.headers)) {
        return streamMiss(ctx, res, writer, meta, 304);
      }
      return streamMiss(ctx, res, writer, meta, clientWantsBody ? res.status : 0);
    }
    // The new response replaces the stored one unless the refusal is this request's own.
    const reason = verdict && !verdict.store ? verdict.reason : undefined;
    if (stored && res.status >= 200 && res.status < 400 && !(reason && REQUEST_SPECIFIC_REASONS.has(reason))) await deleteKeys([stored.meta.key]);
    ctx.outcome = { result: 'bypass', fwd: fill ? fwd : 'bypass', fwdStatus: res.status, detail: reason ?? (fill ? undefined : 'range') };
    stats.inc('bypass');
    ctx.res.writeHead(res.status, passHeaders(res, ctx.outcome));
    if (!clientWantsBody) {
      // A HEAD owes no body and nothing is being stored: stop the origin transfer.
      res.body.destroy();
      ctx.res.end();
      return;
    }
    const r = await tee(res.body, ctx.res, undefined, true);
    ctx.bytes = r.sent;
  }

  /** Stream a storable origin response; `answer` 0 means headers only (HEAD), 304 a Not Modified. */
  async function streamMiss(ctx: RequestContext, res: OriginResponse, writer: ReturnType<Store['open']>, meta: EntryMeta, answer: number): Promise<void> {
    if (answer === 304) {
      const raw = passHeaders(res, ctx.outcome);
      ctx.res.writeHead(304, stripBodyFields(raw));
    } else {
      ctx.res.writeHead(res.status, passHeaders(res, ctx.outcome));
    }
    // A HEAD or a 304 is complete with its headers: answer now; the fill goes on alone.
    if (answer === 0 || answer === 304) ctx.res.end();
    const r = await tee(res.body, ctx.res, writer, answer !== 0 && answer !== 304, async () => {
      try {
        await writer.commit();
        stats.inc('stored');
        await dropOtherVaryShapes(meta);
      } catch (err) {
        logger.warn({ id: ctx.id, err: (err as Error).message, url: meta.url }, 'response not stored');
      }
    }, meta.bodySize);
    ctx.bytes = r.sent;
    if (r.error) logger.warn({ id: ctx.id, err: r.error.message, url: meta.url }, 'origin body failed mid-transfer; nothing stored, client connection cut');
  }

  /** Variants stored under another Vary field list are outdated by this response. */
  async function dropOtherVaryShapes(meta: EntryMeta): Promise<void> {
    const shape = meta.varyNames.join(',');
    const stale = store.variants(meta.primaryKey).filter((m) => m.key !== meta.key && m.varyNames.join(',') !== shape);
    if (stale.length) await deleteKeys(stale.map((m) => m.key));
  }

  async function deleteKeys(keys: string[]): Promise<void> {
    await Promise.all(keys.map((k) => store.delete(k).catch(() => false)));
  }

  async function invalidate(ctx: RequestContext, res: OriginResponse): Promise<void> {
    const keys = invalidatedKeys(ctx.method, res.status, 'http', ctx.host || origin.host, ctx.target, res.headers);
    for (const pk of keys) stats.inc('invalidations', await store.deleteVariants(pk).catch(() => 0));
  }

  async function handleUncacheable(ctx: RequestContext): Promise<void> {
    ctx.outcome = { result: 'bypass', fwd: 'bypass' };
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
    ctx.res.writeHead(res.status, passHeaders(res, ctx.outcome));
    const r = await tee(res.body, ctx.res, undefined, true);
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
      const work = isCacheableMethod(ctx.method) ? handleCacheable(ctx) : handleUncacheable(ctx);
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
