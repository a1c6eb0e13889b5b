// Passing a request through as it is, nothing stored: uncacheable methods, and
// ranges on a miss of an object Strata does not slice. An unsafe method's answer
// invalidates what it names (RFC 9111 §4.4). An OPTIONS with Max-Forwards: 0 is
// answered here; a higher Max-Forwards is decremented (RFC 9110 §7.6.2).

import { invalidatedKeys } from '../cache/invalidation.js';
import { clientScheme } from '../server/request-guard.js';
import type { FwdReason } from '../cache/outcome.js';
import type { StrataError } from '../errors.js';
import { maxForwards } from '../http/max-forwards.js';
import { requestHasBody } from '../server/request-guard.js';
import type { OriginResponse } from '../origin/client.js';
import { bufferRequestBody, continueIfExpected, type BufferedBody } from '../server/request-body.js';
import type { Answers } from './answer.js';
import { fetchInterest } from './fetch-interest.js';
import { originHeaders, type PathEnv, type RequestContext } from './context.js';

export function createPass(env: PathEnv, answer: Answers) {
  const { origin, store, stats } = env;
  const { limits } = env.config;
  const bodyLimits = { maxBytes: limits.maxRequestBodyBytes, memoryBytes: limits.requestBodyMemoryBytes, dir: limits.requestBodyDir, idleTimeoutMs: limits.requestBodyTimeoutMs };
  const keyedTarget = (host: string, target: string) => env.router.purgeKey(host, target)?.target;

  /**
   * RFC 9111 §4.4: each URI the answer invalidates, keyed as its route keys it (query
   * options), loses everything stored for it (every variant, every version its route keyed
   * after "#": fields, canary side) in one store step that also keeps fills in flight from
   * storing or being joined after this answer (TieredStore.invalidate). Local and cheap
   * enough to wait for: not a purge (no journal fsync, no purge listeners, no peers told).
   */
  async function invalidate(ctx: RequestContext, res: OriginResponse): Promise<void> {
    const keys = invalidatedKeys(ctx.method, res.status, clientScheme(ctx.req), ctx.host || origin.host, ctx.target, res.headers, keyedTarget);
    for (const key of keys) stats.inc('invalidations', await store.invalidate(key).catch(() => 0));
  }

  return async function pass(ctx: RequestContext, fwd: FwdReason, detail?: string): Promise<void> {
    const mf = maxForwards(ctx.method, ctx.headers);
    if (mf.answerHere) return answer.options(ctx);
    const hasBody = requestHasBody(ctx.req);
    // The whole body first, then an origin connection: a slow client holds only its own buffer.
    let body: BufferedBody | undefined;
    if (hasBody) {
      // Expect: 100-continue is answered only now, when the body is read (RFC 9110 §10.1.1).
      const b = await bufferRequestBody(ctx.req, bodyLimits, env.requestBodies, () => continueIfExpected(ctx.req, ctx.res));
      if (b === undefined) return void ctx.res.destroy();
      if (b instanceof Error) {
        if (b.code === 'REQUEST_BODY_BUFFERS_FULL') env.logger.warn({ code: b.code, target: ctx.target }, b.message);
        return answer.error(ctx, b, 'bypass', true);
      }
      body = b;
    }
    const headers = originHeaders(env, ctx);
    if (mf.forward !== undefined) headers['max-forwards'] = mf.forward;
    // A chunked body is sent with its length now that it is known.
    if (body) headers['content-length'] = String(body.length);
    const payload = body?.take() ?? null;
    // A client that goes away (an HTTP/2 reset, a closed connection) cancels its origin request
    // (./fetch-interest.ts); gone already (reset while its body was read): no origin request at all.
    const interest = fetchInterest();
    interest.watch(ctx.res);
    // A spooled body's file is closed with its stream, read or not.
    const closeSpool = (): void => {
      if (payload && !Buffer.isBuffer(payload)) payload.destroy();
    };
    let res: OriginResponse;
    try {
      if (interest.signal.aborted) return closeSpool();
      res = await origin.request({ method: ctx.method, target: ctx.target, headers, body: payload, signal: interest.signal, onInterim: (status, h) => answer.interim(ctx, status, h) });
    } catch (err) {
      closeSpool();
      if (interest.signal.aborted) return;
      return answer.error(ctx, err as StrataError, fwd);
    } finally {
      interest.settle();
      // The origin has answered (or failed, or been cancelled): the body's bytes leave the node's budget.
      body?.release();
    }
    ctx.upstream = res.upstream;
    await invalidate(ctx, res);
    return answer.passed(ctx, res, { result: 'bypass', fwd, fwdStatus: res.status, ...(detail ? { detail } : {}) });
  };
}

export type Pass = ReturnType<typeof createPass>;
