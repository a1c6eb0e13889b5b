// The routing part of the admin API: what sites and routes the node serves, a
// route's canary weight changed live, and draining upstreams for a deploy.
//
//   GET  /routes                               sites, routes, pools, canary weights, drained upstreams
//   POST /routes/<site>/<route>/weights        {"canary": 10} or {"primary": 90, "canary": 10}
//   POST /upstreams/drain    {"upstream": URL} no new requests; answers the state (draining or drained)
//   GET  /upstreams/drain?upstream=URL         the state now: serving, draining (inFlight > 0) or drained
//   POST /upstreams/undrain  {"upstream": URL} back into rotation
//
// Changes need the admin token (Authorization: Bearer), as purges do; reading
// does not (like /stats). Every refusal names what was wrong.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { StrataError } from '../errors.js';
import { upstreamName } from '../routing/drain.js';
import type { Router } from '../routing/router.js';
import { answerAdminFailure } from './failed.js';
import { answerError, checkBearer, json, readBody } from './purge.js';

const BODY_MAX_BYTES = 64 * 1024;

export interface RoutesAdminDeps {
  token: string;
  router: Router;
  logger: Logger;
  /** Called after each change made here (workers: the primary keeps them for a worker it restarts). */
  changed?: () => void;
}

/** A path segment percent-decoded, or undefined when its escapes are malformed (`%zz`). */
function decodedSegment(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

function bad(message: string): StrataError {
  return new StrataError('ROUTES_BAD_REQUEST', message);
}

async function jsonBody(req: IncomingMessage, res: ServerResponse): Promise<Record<string, unknown> | undefined> {
  const body = await readBody(req, BODY_MAX_BYTES);
  if (body === undefined) return undefined;
  if (body instanceof StrataError) return void answerError(res, body, [], true);
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    return void answerError(res, bad(`body is not valid JSON (${(err as Error).message})`));
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return void answerError(res, bad('body must be a JSON object'));
  return doc as Record<string, unknown>;
}

function share(v: unknown, field: string): number | StrataError {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100) return bad(`field "${field}" must be a number from 0 to 100, not ${JSON.stringify(v)}`);
  return v;
}

/** {"canary": C} or {"primary": P, "canary": C} (any positive total: shares) → the canary's percent. */
export function canaryPercentOf(doc: Record<string, unknown>): number | StrataError {
  const unknown = Object.keys(doc).find((k) => k !== 'primary' && k !== 'canary');
  if (unknown !== undefined) return bad(`unknown field ${JSON.stringify(unknown)} (expected canary, and optionally primary)`);
  if (!Object.hasOwn(doc, 'canary')) return bad('missing field "canary", e.g. {"canary": 5}');
  const c = share(doc['canary'], 'canary');
  if (c instanceof StrataError) return c;
  if (!Object.hasOwn(doc, 'primary')) return c;
  const p = share(doc['primary'], 'primary');
  if (p instanceof StrataError) return p;
  if (p + c === 0) return bad('primary and canary are both 0 (expected a positive total)');
  return (100 * c) / (p + c);
}

/** The methods a routing resource answers (the Allow field of a 405), or undefined: no such resource (404). */
function allowedMethods(path: string): string | undefined {
  if (path === '/routes') return 'GET, HEAD';
  if (path === '/upstreams/drain') return 'GET, HEAD, POST';
  if (path === '/upstreams/undrain' || /^\/routes\/[^/]+\/[^/]+\/weights$/.test(path)) return 'POST';
  return undefined;
}

export function createRoutesAdmin(deps: RoutesAdminDeps): (req: IncomingMessage, res: ServerResponse, path: string) => void {
  const { router, logger } = deps;

  function authorised(req: IncomingMessage, res: ServerResponse): boolean {
    const denied = checkBearer(req.headers.authorization, deps.token, 'routing');
    if (!denied) return true;
    logger.warn({ routing: { by: req.socket.remoteAddress, url: req.url, refused: denied.code } }, `routing change refused: ${denied.message}`);
    answerError(res, denied, [], true);
    return false;
  }

  /** `site` and `route` as they appear in the path (percent-encoded); decoded only once the caller is authorised. */
  async function weights(req: IncomingMessage, res: ServerResponse, sitePart: string, routePart: string): Promise<void> {
    if (!authorised(req, res)) return;
    const site = decodedSegment(sitePart);
    const route = decodedSegment(routePart);
    if (site === undefined || route === undefined) return answerError(res, bad(`a malformed percent-escape in the path; encode the site and route names with encodeURIComponent`));
    const doc = await jsonBody(req, res);
    if (doc === undefined) return;
    const percent = canaryPercentOf(doc);
    if (percent instanceof StrataError) return answerError(res, percent);
    const r = router.setCanaryPercent(site, route, percent);
    if (typeof r === 'string') return json(res, 404, { error: 'NOT_FOUND', message: r });
    logger.info({ routing: { by: req.socket.remoteAddress, site, route, canaryPercent: percent } }, 'canary weight changed');
    deps.changed?.();
    json(res, 200, { site, route, primary: 100 - percent, canary: percent });
  }

  async function drain(req: IncomingMessage, res: ServerResponse, on: boolean): Promise<void> {
    if (!authorised(req, res)) return;
    const doc = await jsonBody(req, res);
    if (doc === undefined) return;
    const url = doc['upstream'];
    const name = typeof url === 'string' ? upstreamName(url) : undefined;
    if (name === undefined) return answerError(res, bad('field "upstream" must be an upstream URL, e.g. {"upstream": "http://10.0.0.1:9000"}'));
    const status = on ? router.drain(name) : router.undrain(name);
    if (status === undefined) return json(res, 404, { error: 'NOT_FOUND', message: `no pool lists upstream ${name}` });
    logger.info({ routing: { by: req.socket.remoteAddress, upstream: name, state: status.state, inFlight: status.inFlight } }, on ? 'upstream draining' : 'upstream back in rotation');
    deps.changed?.();
    json(res, 200, status);
  }

  function status(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://admin').searchParams.get('upstream');
    const name = url === null ? undefined : upstreamName(url);
    if (name === undefined) return answerError(res, bad('query parameter "upstream" must be an upstream URL, e.g. ?upstream=http://10.0.0.1:9000'));
    const s = router.status(name);
    if (s === undefined) return json(res, 404, { error: 'NOT_FOUND', message: `no pool lists upstream ${name}` });
    json(res, 200, s);
  }

  // Logged with its code, answered 500 unless the head is out (admin/failed.ts).
  const failed = (req: IncomingMessage, res: ServerResponse) => (err: unknown) => answerAdminFailure(logger, req, res, err, 'routes');

  return (req, res, path) => {
    const method = req.method ?? 'GET';
    const reading = method === 'GET' || method === 'HEAD';
    if (path === '/routes' && reading) return json(res, 200, router.describe());
    const w = /^\/routes\/([^/]+)\/([^/]+)\/weights$/.exec(path);
    if (w && method === 'POST') return void weights(req, res, w[1]!, w[2]!).catch(failed(req, res));
    if (path === '/upstreams/drain' && method === 'POST') return void drain(req, res, true).catch(failed(req, res));
    if (path === '/upstreams/drain' && reading) return status(req, res);
    if (path === '/upstreams/undrain' && method === 'POST') return void drain(req, res, false).catch(failed(req, res));
    const allow = allowedMethods(path);
    if (allow === undefined) return json(res, 404, { error: 'NOT_FOUND', message: `no admin resource ${path.slice(0, 200)}: see GET /routes, POST /routes/<site>/<route>/weights, POST|GET /upstreams/drain, POST /upstreams/undrain` });
    json(res, 405, { error: 'METHOD_NOT_ALLOWED', message: `${method} ${path.slice(0, 200)}: it answers ${allow}` }, ['allow', allow]);
  };
}
