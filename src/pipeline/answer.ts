// Every write to a client on the request path goes through here: stored entries
// and the 304 rule (deliver/respond.ts), responses shared while they are fetched
// (and stored), responses passed through, and Strata's own errors. Steps decide;
// this module writes.
//
// Invariants: an answer's outcome is settled right before its status line is
// written, never earlier (an answer that cannot go ahead records nothing) and
// never twice; a body that fails mid-way cuts the connection, never ends cleanly.

import { currentAge, ttlOf } from '../cache/reuse.js';
import type { CacheOutcome, FwdReason } from '../cache/outcome.js';
import { advertiseRanges, ageFields, deliverError, deliverNotModified, deliverStored, originFields } from '../deliver/respond.js';
import { earlyHintFields } from '../deliver/early-hints.js';
import { clientMessageOf, StrataError, type ErrorCode } from '../errors.js';
import { isNotModified } from '../http/conditionals.js';
import type { HeaderMap } from '../http/headers.js';
import { asksForRanges } from '../http/range.js';
import { ALLOWED_METHODS } from '../http/max-forwards.js';
import type { OriginResponse } from '../origin/client.js';
import type { StoredEntry } from '../store/types.js';
import { deliverFor, planOf, settle, type NodeEnv, type RequestContext } from './context.js';
import type { FetchOutcome } from './fetch-outcome.js';
import { resumeFromStore, resumingReader, storedCopy } from './resume-from-store.js';
import { sendBody } from './send-body.js';
import { createVariants } from './variants.js';
import { isBadCoding } from '../transform/codings.js';
import { sharedFields } from '../cache/storable.js';

/** A fetch outcome that carries a response body clients can share. */
export type SharedResponse = Extract<FetchOutcome, { kind: 'storing' | 'passing' }>;

export function createAnswers(env: NodeEnv) {
  const { store, logger } = env;
  /**
   * The response fields every client of one shared outcome gets, built once per outcome
   * (a herd of followers would otherwise rebuild the same list each) and kept on it
   * (o.heads); Cache-Status is added per client. `collapsed`: the client joined another's
   * fetch, and gets only what a hit would carry (no Set-Cookie, no private="..." field).
   */
  function sharedHead(o: SharedResponse, ctx: RequestContext, collapsed: boolean): string[] {
    // One list per kind of client: a client or a peer, the fetch's leader or a follower.
    const heads = (o.heads ??= []);
    const kind = (ctx.peer === undefined ? 0 : 1) + (collapsed ? 2 : 0);
    let base = heads[kind];
    if (!base) {
      base = originFields(collapsed ? sharedFields(o.headers, env.policy.targetedField) : o.headers, deliverFor(env, ctx), o.status);
      if (o.kind === 'storing') {
        // Its Age is each client's own (ageField), as a hit's is: not the origin's as it came
        // (the age a peer's copy came with, PEER_AGE, is a hidden field: written anew to a peer).
        base = withoutField(base, 'age');
        // A stored 200 is answered with ranges from now on, so its first answer says so too.
        if (o.status === 200) base = advertiseRanges(base);
      }
      heads[kind] = base;
    }
    return base;
  }

  /** The Age of a response being stored, for a client answered now (RFC 9111 §5.1, §4.2.3): the leader and every follower alike. */
  function ageField(o: SharedResponse, ctx: RequestContext): string[] {
    return o.kind === 'storing' ? ageFields(o.stored, currentAge(o.stored, env.clock.now()), deliverFor(env, ctx)) : [];
  }

  const variants = createVariants(env);

  /**
   * Strata's own error answer; `fwd` says how far the request had gone. An origin-side
   * failure's details (upstream, address, cause) go to this log line and the access
   * line's upstream; the client's body says only what kind of failure it was.
   */
  function error(ctx: RequestContext, err: StrataError, fwd: FwdReason = 'bypass', close = false, logged = false): void {
    if (err.source === 'origin') {
      if (err.upstream !== undefined) ctx.upstream ??= err.upstream;
      logger.warn({ id: ctx.id, code: err.code, upstream: err.upstream, url: ctx.target.slice(0, 200) }, err.message);
    } else if (!logged && (err.source === 'store' || err.source === 'internal')) {
      // The client is told only the catalog's line (clientMessage): the cause is here.
      logger.error({ id: ctx.id, code: err.code, url: ctx.target.slice(0, 200) }, err.message);
    }
    // To a peer: whether its origin fetch failed, signed, so the peer's own stale rules decide (cluster/peer-fetch.ts).
    const peerFields = ctx.peer !== undefined && err.source === 'origin' && env.cluster ? env.cluster.errorFields(ctx.headers, err.code) : undefined;
    ctx.bytes += deliverError(ctx.res, err, settle(env, ctx, { result: 'error', fwd, detail: err.code.toLowerCase() }), env.via, close, peerFields);
  }

  /**
   * Synchronous for bodies held in memory (the common hit), a promise when streamed.
   * `purgeMark`: taken before `entry` was looked up or validated (a variant made from it
   * is kept out of the store by a purge since); absent: now, when nothing was awaited since.
   * `storeMade` false: a variant made from it is streamed to this client, never stored.
   */
  function stored(ctx: RequestContext, entry: StoredEntry, ageS: number, outcome: CacheOutcome, purgeMark?: number, storeMade = true): void | Promise<void> {
    const plan = planOf(env, ctx, entry.meta, entry.body.size);
    if (plan) {
      const src = { meta: entry.meta, bytes: entry.body.size, read: () => entry.body.stream(), purgeMark, ...(storeMade ? {} : { storable: false }) };
      return variants.answer(ctx, src, plan, ageS, outcome).then(() => undefined);
    }
    // ctx.bytes is counted by deliverStored as it writes (a streamed body's close can come before its promise settles).
    const r = deliverStored(ctx, ctx.res, entry, ageS, settle(env, ctx, outcome), deliverFor(env, ctx));
    if (r instanceof Promise) return r.then(() => undefined);
  }

  /**
   * Whether a GET's Range waits for the 200 being stored to be whole and is cut from the
   * stored copy (a 206, as a hit's): when its announced length is no more than
   * slices.thresholdBytes. A larger one goes as it arrives, its 200 (a range near the end
   * would otherwise wait for all before it); ranges are never cut from bytes not yet
   * checked against their length.
   */
  function rangeAwaitsStore(ctx: RequestContext, o: Extract<SharedResponse, { kind: 'storing' }>): boolean {
    return o.status === 200 && ctx.method === 'GET' && asksForRanges(ctx.headers['range']) && o.stored.bodySize >= 0 && o.stored.bodySize <= env.config.slices.thresholdBytes;
  }

  return {
    stored,

    /**
     * Answer one client from a shared origin response. "alone" (nothing written,
     * nothing settled): the body can no longer be read from its start (a late
     * client past the window), the client must fetch its own.
     */
    async shared(ctx: RequestContext, o: SharedResponse, outcome: CacheOutcome): Promise<'alone' | undefined> {
      // A variant made for this client answers its conditional request by the variant's own ETag.
      const plan = o.kind === 'storing' ? planOf(env, ctx, o.stored, o.stored.bodySize) : undefined;
      if (plan && o.kind === 'storing') {
        // Read as a client of a stored response is: shed when it falls behind, continued from the stored copy.
        const src = { meta: o.stored, bytes: o.stored.bodySize, read: () => resumingReader(store, o.body, o.stored), purgeMark: o.purgeMark };
        return variants.answer(ctx, src, plan, currentAge(o.stored, env.clock.now()), outcome);
      }
      // The client's own conditional request is answered here; the full body still fills the cache.
      if (o.kind === 'storing' && o.status === 200 && isNotModified(ctx.headers, o.headers)) {
        deliverNotModified(ctx.res, o.stored, currentAge(o.stored, env.clock.now()), settle(env, ctx, outcome), deliverFor(env, ctx));
        return undefined;
      }
      // A range of a small response being stored (a miss whose origin ignored Range, a revalidation that brought a new 200).
      if (o.kind === 'storing' && rangeAwaitsStore(ctx, o)) {
        await o.body.sealedAt;
        const entry = await storedCopy(store, o.stored, 0);
        if (entry) {
          const now = env.clock.now();
          await stored(ctx, entry, currentAge(entry.meta, now), { ...outcome, ttlS: ttlOf(entry.meta, now) }, o.purgeMark);
          return undefined;
        }
        // Not stored after all: a body that fell short of its length is not sent ('alone': fetched again, or the
        // range passed to the origin); a whole one the store refused goes as it came.
        if (!o.body.available) return 'alone';
      }
      // A HEAD is complete with its headers; a fill goes on alone, and an unstored body is dropped.
      const head = ctx.method === 'HEAD';
      if (!head && !o.body.available) return 'alone';
      ctx.res.writeHead(o.status, sharedHead(o, ctx, outcome.collapsed === true).concat(ageField(o, ctx), 'cache-status', settle(env, ctx, outcome)));
      if (head) {
        ctx.res.end();
        return undefined;
      }
      const storing = o.kind === 'storing';
      // ctx.bytes counts what is written as it is written: the access line may be written before this settles.
      const r = await o.body.sendTo(ctx.res, storing, ctx)!;
      // Too slow to keep pace with the shared body: continued from the stored copy.
      if (r.lagged && storing) {
        await resumeFromStore(store, o.stored, o.body.sealedAt, ctx.res, r.sent, ctx);
        return undefined;
      }
      // A body that did not decode is logged once, by its fill.
      if (r.error && !(storing && isBadCoding(r.error))) logger.warn({ id: ctx.id, err: r.error.message, url: ctx.target }, 'origin body failed mid-transfer; nothing stored, client connection cut');
      return undefined;
    },

    /** A response passed through as it is. */
    async passed(ctx: RequestContext, res: OriginResponse, outcome: CacheOutcome): Promise<void> {
      ctx.res.writeHead(res.status, originFields(res.headers, deliverFor(env, ctx), res.status).concat('cache-status', settle(env, ctx, outcome)));
      await sendBody(res.body, ctx.res, ctx);
    },

    error,

    /**
     * An interim response from the origin, passed on before the final one (RFC 9110
     * §15.2): 103 Early Hints (RFC 8297) and 102 Processing; never stored. Not to an
     * HTTP/1.0 client (§15.2: it cannot read one), not once the final status line
     * is out. Other 1xx codes are dropped: Node writes no others, and 100 Continue
     * belongs to Strata's own exchange with the client.
     */
    interim(ctx: RequestContext, status: number, headers: HeaderMap): void {
      const { req, res } = ctx;
      const v = req.httpVersionMajor;
      if (res.headersSent || res.destroyed || v < 1 || (v === 1 && req.httpVersionMinor < 1)) return;
      if (status === 102) return void (typeof res.writeProcessing === 'function' && v === 1 ? res.writeProcessing() : undefined);
      if (status !== 103) return;
      // Hidden fields (Server, X-Powered-By, …) are hidden here too: a hint is an answer's first bytes;
      // malformed ones are dropped (deliver/early-hints.ts: Node writes them unchecked).
      const hints = earlyHintFields(headers, deliverFor(env, ctx).hiddenFields);
      if (hints === undefined) return;
      try {
        res.writeEarlyHints(hints);
      } catch (err) {
        logger.debug({ id: ctx.id, err: (err as Error).message }, '103 Early Hints from the origin not passed on');
      }
    },

    /**
     * The edge guard's refusal (403, 429, 401, 3xx, 503): Strata's error form plus the fields it names.
     * An unavailable auth service or JWKS is told as the catalog says, without its URL or cause
     * (the guard logged those): as for an origin, its address is not the client's to learn.
     */
    refused(ctx: RequestContext, status: number, code: ErrorCode, message: string, fields: string[]): void {
      const cacheStatus = settle(env, ctx, { result: 'error', fwd: 'bypass', detail: code.toLowerCase() });
      const body = `${status} ${code}: ${clientMessageOf(code, message)}\n`;
      ctx.res.writeHead(status, [...fields, 'content-type', 'text/plain; charset=utf-8', 'content-length', String(Buffer.byteLength(body)), 'cache-status', cacheStatus, 'via', env.via, 'cache-control', 'no-store']);
      ctx.res.end(body);
      if (ctx.method !== 'HEAD') ctx.bytes += Buffer.byteLength(body);
    },

    /** OPTIONS with Max-Forwards: 0 (RFC 9110 §7.6.2, §9.3.7), or OPTIONS *: Strata answers for itself. */
    options(ctx: RequestContext, detail: 'max-forwards' | 'options-asterisk' = 'max-forwards'): void {
      const cacheStatus = settle(env, ctx, { result: 'bypass', fwd: 'bypass', detail });
      ctx.res.writeHead(200, ['allow', ALLOWED_METHODS, 'content-length', '0', 'cache-status', cacheStatus, 'via', env.via]);
      ctx.res.end();
    },

    /** only-if-cached and nothing usable stored (RFC 9111 §5.2.1.7): 504, the origin untouched. */
    onlyIfCached(ctx: RequestContext): void {
      ctx.bytes += deliverError(ctx.res, new StrataError('ONLY_IF_CACHED_MISS'), settle(env, ctx, { result: 'only-if-cached', fwd: 'miss', detail: 'only-if-cached' }), env.via);
    },

    /** The catch-all for an unexpected failure: an error answer if none was settled, else the connection cut. */
    failed(ctx: RequestContext, err: unknown): void {
      logger.error({ id: ctx.id, err }, 'request failed');
      if (ctx.outcome) ctx.res.destroy();
      else error(ctx, err instanceof StrataError ? err : new StrataError('INTERNAL'), 'bypass', false, true);
    },
  };
}

export type Answers = ReturnType<typeof createAnswers>;

/** Raw name/value pairs without the field `name` (lower-case). */
function withoutField(raw: string[], name: string): string[] {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i] === name) return raw.filter((_, j) => j !== i && j !== i + 1);
  }
  return raw;
}
