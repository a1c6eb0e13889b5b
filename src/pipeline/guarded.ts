// The guard step of the request path: after receive, before key and look-up, so a
// request the edge refuses is answered without touching the cache (a stored body
// is never served to it) or the origin. A refusal is answered, counted and logged
// (a filter deny with its rule's name); a pass shapes the request the later steps
// see:
//
// - fields the guard sets for the origin (identity, claims) replace whatever the
//   client sent under those names; the guard's stages never see the client's own
//   copies either (filters and rate limits run before auth), but for fields its
//   own auth reads from clients;
// - under publicAfterAuth, the credential fields the edge checked move out of the
//   cache's view (ctx.headers) into ctx.originOnly: the origin still gets them,
//   but they no longer make the answer the client's own (RFC 9111 §3.5, decide's
//   `alone`) nor split variants. Without it they stay, and the shared-cache rules
//   for Authorization apply as written: an authorised request is answered from
//   cache only by responses stored as shareable (public, s-maxage, must-revalidate).

import type { GuardPass, GuardRefusal, GuardVerdict, Guard } from '../routing/guard/guard.js';
import { cgiSpelling, type HeaderMap } from '../http/headers.js';
import { PEER_VOUCHED } from '../cluster/peer-auth.js';
import { clientScheme } from '../server/request-guard.js';
import type { Answers } from './answer.js';
import type { NodeEnv, RequestContext } from './context.js';

type Step = () => void | Promise<void>;

/** `fields` taken out of `h` (changed in place): the origin's alone (ctx.originOnly). */
function movedOut(h: HeaderMap, fields: Iterable<string>): HeaderMap {
  const own: HeaderMap = {};
  for (const f of fields) {
    if (h[f] === undefined) continue;
    own[f] = h[f];
    delete h[f];
  }
  return own;
}

/**
 * A proven peer's request (not guarded here: its edge did): the fields its edge's guard
 * checked under publicAfterAuth (PEER_VOUCHED) are the origin's alone here too, so the
 * owner shares and stores the answer as the edge would.
 */
export function vouchedByPeer(ctx: RequestContext): void {
  const listed = ctx.headers[PEER_VOUCHED];
  if (listed === undefined) return;
  const h = { ...ctx.headers };
  delete h[PEER_VOUCHED];
  ctx.originOnly = movedOut(h, listed.split(','));
  ctx.headers = h;
}

/** `headers` without `fields` (a copy when one is there; `headers` itself when none is). */
export function withoutFields(headers: HeaderMap, fields: ReadonlySet<string>): HeaderMap {
  let h: HeaderMap | undefined;
  for (const f of fields) {
    if (headers[f] === undefined) continue;
    h ??= { ...headers };
    delete h[f];
  }
  // The same field spelt with "_" for "-" (X_Auth_Request_User): CGI, WSGI and Rack
  // servers read both as one variable, so a client's own copy would pass as the guard's
  // (the rule forward-headers.ts applies to the fields it removes or sets).
  for (const name in headers) {
    if (name.indexOf('_') < 0 || !fields.has(cgiSpelling(name))) continue;
    h ??= { ...headers };
    delete h[name];
  }
  return h ?? headers;
}

/**
 * `stripped`: this guard's own fields and every field any guard of the configuration
 * sets (RouteGuards.strippedFields): a route's identity field must not come from a client on another.
 */
export function createGuardStep(env: NodeEnv, answer: Answers, guard: Guard, stripped: ReadonlySet<string>) {
  const { logger, stats } = env;

  function refused(ctx: RequestContext, r: GuardRefusal): void {
    const fields = { id: ctx.id, code: r.code, client: ctx.req.socket.remoteAddress, method: ctx.method, url: ctx.target.slice(0, 200) };
    switch (r.code) {
      case 'FILTER_DENIED':
        stats.inc('filtered');
        logger.warn({ ...fields, rule: r.rule }, r.message);
        break;
      case 'RATE_LIMITED':
        stats.inc('rateLimited');
        logger.info(fields, r.message);
        break;
      case 'AUTH_UNAVAILABLE':
        stats.inc('authUnavailable');
        logger.error(fields, r.message);
        break;
      default:
        stats.inc('authRefused');
        logger.info(fields, r.message);
    }
    answer.refused(ctx, r.status, r.code, r.message, r.headers);
  }

  // The stripped fields the guard's own stages do not read from clients: the stages see them absent, as the
  // origin does. A filter rule admitting by x-auth-user took the client's own copy (filters run before auth).
  const unseen: ReadonlySet<string> = new Set([...stripped].filter((f) => !guard.readFields.has(f)));

  /** `seen`: the request's fields as the guard saw them (without `unseen`). */
  function admitted(ctx: RequestContext, p: GuardPass, next: Step, seen: HeaderMap): void | Promise<void> {
    const moved = guard.publicAfterAuth && p.checked.length > 0;
    if (stripped.size === 0 && p.add === undefined && !moved) return next();
    let h = withoutFields(seen, stripped);
    // Changed below: never the request's own map.
    if (h === ctx.headers) h = { ...h };
    if (p.add) Object.assign(h, p.add);
    if (moved) ctx.originOnly = movedOut(h, p.checked);
    ctx.headers = h;
    return next();
  }

  function settleVerdict(ctx: RequestContext, v: GuardVerdict, next: Step, seen: HeaderMap): void | Promise<void> {
    if (v.pass) return admitted(ctx, v, next, seen);
    refused(ctx, v);
  }

  /** Run the guard, then `next` (the rest of the path) when it lets the request through. */
  return function guarded(ctx: RequestContext, next: Step): void | Promise<void> {
    const seen = unseen.size === 0 ? ctx.headers : withoutFields(ctx.headers, unseen);
    const v = guard.check({
      method: ctx.method,
      target: ctx.target,
      host: ctx.host,
      scheme: clientScheme(ctx.req),
      headers: seen,
      clientAddress: ctx.req.socket.remoteAddress ?? '',
      // The route's site's: a filter about /admin/ meets /Admin/ where routes do (CACHING.md).
      caseInsensitivePaths: ctx.route?.route.caseInsensitivePaths ?? false,
    });
    if (v instanceof Promise) return v.then((r) => settleVerdict(ctx, r, next, seen));
    return settleVerdict(ctx, v, next, seen);
  };
}
