// Purging, as operators ask for it: `POST /purge` on the admin listener (a JSON
// body naming URLs, prefixes, tags or everything, hard or soft) and `PURGE <path>`
// on the main listener (Varnish's and nginx's habit: one URL with all its
// variants, or the tags in its Surrogate-Key / Cache-Tag fields).
//
// This module owns the request side: the bearer token (compared in constant time),
// the body (1 MiB at most, strict shape, every problem named), turning URLs into a
// store PurgeSelector, the answer and the log line. The store carries the purge
// out (Purgeable.purge); components holding in-flight state (coalesced fetches)
// subscribe to the store's 'purged' event, which fires in the same synchronous step.
//
// Invariant: nothing is purged unless the token matched, and 200 is answered only
// once the store has made the purge durable.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { KEY_SCHEME, primaryKey, urlOfKey } from '../cache/key.js';
import { tagsOf } from '../cache/tags.js';
import { StrataError } from '../errors.js';
import type { HeaderMap } from '../http/headers.js';
import type { Stats } from '../observability/stats.js';
import { emptySelector, selectorMatcher } from '../store/purge/purge-match.js';
import type { Purgeable, PurgeSelector } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import { parseWirePurge } from '../cluster/purge-wire.js';
import { bodyMatches } from '../cluster/peer-auth.js';
import { placeOf } from './url-place.js';

export const PURGE_BODY_MAX_BYTES = 2 ** 20;

export { parsePurgeBody, bad, type PurgeRequest } from './purge-body.js';
import { bad, parsePurgeBody, type PurgeRequest } from './purge-body.js';

/**
 * How a route keys a URL (src/routing/): the target as its key options make it
 * (query parameters ignored or sorted), and whether some of its keys carry members
 * after "#" (keyed headers or cookies, a canary side). Absent: targets as given.
 */
export type PurgeKeyOf = (host: string, target: string) => { target: string; suffixed: boolean } | undefined;

/**
 * The targets a path names as the routes of every site key it (query parameters
 * ignored or sorted): the path as given first. Absent: the path as given.
 */
export type PurgePathKeysOf = (target: string) => string[];

/**
 * The store selector for a purge request. An absolute URL names one primary key
 * (every variant), keyed as its route keys it; a path names that path under every
 * host the node has stored it for, as every site's route for it keys it, with every
 * version keyed after "#".
 */
export function selectorFor(req: PurgeRequest, keyOf?: PurgeKeyOf, pathKeysOf?: PurgePathKeysOf): PurgeSelector | StrataError {
  const sel = emptySelector();
  sel.all = req.all;
  sel.tags = [...req.tags];
  for (let i = 0; i < req.urls.length; i++) {
    const p = placeOf(req.urls[i]!);
    if (!p.ok) return bad(`urls[${i}]: ${p.problem}`);
    // Under every Host, so as every site keys it; the store matches a path with or
    // without what a key carries after "#" (every keyed version of it).
    if (p.host === undefined) sel.paths.push(...(pathKeysOf?.(p.target) ?? [p.target]));
    else {
      const k = keyOf?.(p.host, p.target);
      const key = primaryKey(KEY_SCHEME, p.host, k?.target ?? p.target);
      sel.primaryKeys.push(key);
      // Every keyed version of the URL too (a header's or cookie's value, the canary side).
      if (k?.suffixed) sel.urlPrefixes.push(urlOfKey(key) + '#');
    }
  }
  for (let i = 0; i < req.prefixes.length; i++) {
    const p = placeOf(req.prefixes[i]!);
    if (!p.ok) return bad(`prefixes[${i}]: ${p.problem}`);
    if (p.host === undefined) sel.pathPrefixes.push(p.target);
    else sel.urlPrefixes.push(urlOfKey(primaryKey(KEY_SCHEME, p.host, p.target)));
  }
  return sel;
}

/**
 * Which fetches in flight (keyed by primary key) a purge must detach, so requests
 * after it start their own. Tags are only known once a response arrives, so a tag
 * purge, like `all`, detaches every flight: the cost is a few extra origin fetches.
 */
export function flightMatcher(sel: PurgeSelector): (primaryKey: string) => boolean {
  if (sel.all || sel.tags.length) return () => true;
  const matches = selectorMatcher(sel);
  const none: string[] = [];
  return (primaryKey) => matches({ primaryKey, url: urlOfKey(primaryKey), tags: none });
}

const DISABLED = { purge: 'PURGE_DISABLED', explain: 'EXPLAIN_DISABLED', reload: 'RELOAD_DISABLED', routing: 'ROUTING_DISABLED' } as const;
const ACTION = { purge: 'purging', explain: 'explain', reload: 'reload', routing: 'changing routes or draining' } as const;

/** The admin token check: undefined when the request may go on (`what`: the action). Constant time in the token's content. */
export function checkBearer(authorization: string | undefined, token: string, what: keyof typeof DISABLED = 'purge'): StrataError | undefined {
  if (token === '') return new StrataError(DISABLED[what]);
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
  if (!m) return new StrataError('UNAUTHORIZED', `${ACTION[what]} needs "Authorization: Bearer <admin token>"`);
  // Equal-length digests: timingSafeEqual neither throws on nor leaks a length difference.
  const given = createHash('sha256').update(m[1]!).digest();
  const wanted = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, wanted) ? undefined : new StrataError('UNAUTHORIZED', 'wrong admin token');
}

/** The body of a request, or PAYLOAD_TOO_LARGE past `max` bytes; undefined if the client went away. */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer | StrataError | undefined> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) return Promise.resolve(new StrataError('PAYLOAD_TOO_LARGE', `body is ${declared} bytes; the limit is ${max}`));
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.off('data', onData);
        req.pause();
        resolve(new StrataError('PAYLOAD_TOO_LARGE', `body exceeds the limit of ${max} bytes`));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, size)));
    req.once('close', () => resolve(undefined));
  });
}

export interface PurgerDeps {
  /** Admin token; '' turns purging off. */
  token: string;
  store: Pick<Purgeable, 'purge'>;
  /** The cluster: a purge accepted here is carried to every node (absent: a lone node). */
  cluster?: { distribute(selector: PurgeSelector, softAtMs: number | undefined): Promise<{ peers: Record<string, string>; via: string }> };
  clock: Clock;
  logger: Logger;
  stats: Stats;
  /** How routes key a URL, so a purge of it reaches what they stored (absent: URLs as given). */
  keyOf?: PurgeKeyOf;
  /** How every site's routes key a path, so a purge by path reaches what they stored (absent: paths as given). */
  pathKeysOf?: PurgePathKeysOf;
  /** An id for an admin request whose failure is logged (the proxy's request ids; absent: none). */
  nextRequestId?: () => number;
}

/** A PURGE's request on the main listener: its body byte count, and its id (the access line's). */
export interface PurgeTally {
  bytes: number;
  id?: number;
}

/** What the log line and the answer say was asked for. */
interface Asked {
  by: string;
  via: 'POST /purge' | 'PURGE';
  urls?: string[];
  prefixes?: string[];
  tags?: string[];
  all?: boolean;
  soft: boolean;
}

/** At most this many items of each list go into a log line (the counts are always there). */
const LOGGED_ITEMS = 20;

export class Purger {
  constructor(private readonly deps: PurgerDeps) {}

  /** `POST /purge` on the admin listener; `peer`: the node it proved it comes from (a purge another node accepted). */
  async handleAdmin(req: IncomingMessage, res: ServerResponse, peer?: string): Promise<void> {
    if (peer !== undefined) return this.handlePeer(req, res, peer);
    const by = req.socket.remoteAddress ?? '';
    const denied = this.authorise(req, by, 'POST /purge');
    if (denied) return answerError(res, denied, [], true);
    const body = await readBody(req, PURGE_BODY_MAX_BYTES);
    if (body === undefined) return;
    if (body instanceof StrataError) return answerError(res, body, [], true);
    const parsed = parsePurgeBody(body.toString('utf8'));
    if (parsed instanceof StrataError) return answerError(res, parsed);
    const selector = selectorFor(parsed, this.deps.keyOf, this.deps.pathKeysOf);
    if (selector instanceof StrataError) return answerError(res, selector);
    const asked: Asked = { by, via: 'POST /purge', soft: parsed.soft };
    if (parsed.urls.length) asked.urls = parsed.urls;
    if (parsed.prefixes.length) asked.prefixes = parsed.prefixes;
    if (parsed.tags.length) asked.tags = parsed.tags;
    if (parsed.all) asked.all = true;
    await this.run(res, selector, asked, []);
  }

  /**
   * Why `PURGE <target>` on the main listener is refused (logged here), or undefined: it
   * may purge. Asked before handleMethod, so that the request's outcome is the refusal
   * (an error), not a purge.
   */
  methodRefusal(req: IncomingMessage): StrataError | undefined {
    const by = req.socket.remoteAddress ?? '';
    const denied = this.authorise(req, by, 'PURGE');
    if (denied) return denied;
    // A tag field that names no tag ("", " ", ",") is a mistake (an empty variable in a
    // script), not a request for the URL: purging the URL instead would answer 200 for
    // a purge nobody asked for and leave the tagged content in place.
    if (tagsOf(req.headers as HeaderMap).length === 0 && (req.headers['surrogate-key'] !== undefined || req.headers['cache-tag'] !== undefined)) {
      const refused = bad('Surrogate-Key/Cache-Tag names no tag');
      this.deps.logger.warn({ purge: { by, via: 'PURGE', refused: refused.code } }, `purge refused: ${refused.message}`);
      return refused;
    }
    return undefined;
  }

  /**
   * `PURGE <target>` on the main listener, once methodRefusal found nothing: the URL's
   * primary key (every variant), or the tags its Surrogate-Key / Cache-Tag request fields
   * name. `extra`: fields the main listener adds to every answer (Cache-Status, Via).
   * `tally`: the request's body byte count (its access line and bytesServed count this answer's body).
   */
  async handleMethod(req: IncomingMessage, res: ServerResponse, key: string, extra: string[], suffixed = false, tally?: PurgeTally): Promise<void> {
    const by = req.socket.remoteAddress ?? '';
    const tags = tagsOf(req.headers as HeaderMap);
    const selector = emptySelector();
    const asked: Asked = { by, via: 'PURGE', soft: false };
    if (tags.length) asked.tags = selector.tags = tags;
    else {
      selector.primaryKeys.push(key);
      // `suffixed`: the route keys versions of this URL after "#" (routing); all of them go.
      if (suffixed) selector.urlPrefixes.push(urlOfKey(key) + '#');
      asked.urls = [urlOfKey(key)];
    }
    await this.run(res, selector, asked, extra, tally);
  }

  /** A purge another node accepted: applied here, answered, never passed on. */
  private async handlePeer(req: IncomingMessage, res: ServerResponse, peer: string): Promise<void> {
    const body = await readBody(req, PURGE_BODY_MAX_BYTES);
    if (body === undefined) return;
    if (body instanceof StrataError) return answerError(res, body, [], true);
    // The proof covers the body's digest: a captured proof cannot carry another purge.
    if (!bodyMatches(req.headers, body)) return answerError(res, new StrataError('UNAUTHORIZED', `peer purge from ${peer}: the body is not the one its proof names`));
    const p = parseWirePurge(body.toString('utf8'));
    if (typeof p === 'string') return answerError(res, bad(`peer purge from ${peer}: ${p}`));
    await this.apply(res, p.selector, p.softAtMs, { by: `peer ${peer}`, via: 'peer', id: p.id });
  }

  /** Apply a purge another node accepted (from the purge bus); resolves with the entries affected. */
  async applyRemote(selector: PurgeSelector, softAtMs: number | undefined, from: string, id: string): Promise<number> {
    const purged = await this.deps.store.purge(selector, this.softHere(softAtMs));
    this.deps.stats.inc('purged', purged);
    this.deps.logger.info({ purge: { by: `peer ${from}`, via: 'bus', id, purged } }, 'purge from a peer');
    return purged;
  }

  /**
   * A soft purge another node accepted, as this node applies it: at the sender's instant,
   * or this node's now if that is earlier. Why: a sender whose clock runs ahead named an
   * instant still to come here, and the entries would stay fresh until this clock reached it.
   */
  private softHere(softAtMs: number | undefined): { softAtMs?: number } {
    return softAtMs === undefined ? {} : { softAtMs: Math.min(softAtMs, this.deps.clock.now()) };
  }

  private async apply(res: ServerResponse, selector: PurgeSelector, softAtMs: number | undefined, what: { by: string; via: string; id: string }): Promise<void> {
    let purged: number;
    try {
      purged = await this.deps.store.purge(selector, this.softHere(softAtMs));
    } catch (err) {
      this.deps.logger.error({ purge: what, err }, 'peer purge failed; the sender keeps it queued');
      return answerError(res, new StrataError('STORE_FAILED', `purge failed: ${(err as Error).message}`, { cause: err }));
    }
    this.deps.stats.inc('purged', purged);
    this.deps.logger.info({ purge: { ...what, purged } }, 'purge from a peer');
    json(res, 200, { purged, id: what.id });
  }

  private authorise(req: IncomingMessage, by: string, via: Asked['via']): StrataError | undefined {
    const denied = checkBearer(req.headers.authorization, this.deps.token);
    if (denied) this.deps.logger.warn({ purge: { by, via, refused: denied.code } }, `purge refused: ${denied.message}`);
    return denied;
  }

  private async run(res: ServerResponse, selector: PurgeSelector, asked: Asked, extra: string[], tally?: PurgeTally): Promise<void> {
    const { store, clock, logger, stats } = this.deps;
    const started = performance.now();
    const softAtMs = asked.soft ? clock.now() : undefined;
    // The other nodes first: a fill from a peer begun before that peer purged is then
    // superseded by the purge here (tiered store purge marks).
    const cluster = this.deps.cluster ? await this.deps.cluster.distribute(selector, softAtMs) : undefined;
    let purged: number;
    // Set when the disk index was still loading: `purged` is then a lower bound.
    let diskLoading = false;
    const partial = () => (diskLoading = true);
    try {
      purged = await store.purge(selector, softAtMs === undefined ? { onPartialCount: partial } : { softAtMs, onPartialCount: partial });
    } catch (err) {
      // The cause (a file path, an errno) goes to the log with the request's id; the
      // answer carries the catalog's line and that id, to find the line by.
      const id = tally?.id ?? this.deps.nextRequestId?.();
      logger.error({ ...(id === undefined ? {} : { id }), purge: loggable(asked), err }, 'purge failed; it may be only partly applied and is not durable: retry it');
      const failed = new StrataError('STORE_FAILED', `purge failed: ${(err as Error).message}`, { cause: err });
      if (res.headersSent) return void res.destroy();
      return json(res, failed.status, { error: failed.code, message: failed.clientMessage, ...(id === undefined ? {} : { id }) }, extra, false, tally);
    }
    const ms = Math.round((performance.now() - started) * 100) / 100;
    stats.inc('purges');
    stats.inc('purged', purged);
    const loading = diskLoading ? { diskLoading: true } : {};
    logger.info({ purge: { ...loggable(asked), purged, ...loading, ms, ...(cluster ? { peers: cluster.peers, via: cluster.via } : {}) } }, diskLoading ? 'purge (disk index still loading: purged counts only the entries loaded so far)' : 'purge');
    const answer: Record<string, unknown> = { purged, ...loading, ...(cluster ? { peers: cluster.peers, via: cluster.via } : {}), soft: asked.soft };
    if (asked.urls) answer['urls'] = asked.urls.length;
    if (asked.prefixes) answer['prefixes'] = asked.prefixes.length;
    if (asked.tags) answer['tags'] = asked.tags.length;
    if (asked.all) answer['all'] = true;
    answer['ms'] = ms;
    json(res, 200, answer, extra, false, tally);
  }
}

function loggable(asked: Asked): Record<string, unknown> {
  const out: Record<string, unknown> = { by: asked.by, via: asked.via, soft: asked.soft };
  for (const f of ['urls', 'prefixes', 'tags'] as const) {
    const list = asked[f];
    if (!list) continue;
    out[f] = list.length > LOGGED_ITEMS ? [...list.slice(0, LOGGED_ITEMS), `… ${list.length - LOGGED_ITEMS} more`] : list;
    out[`${f}Count`] = list.length;
  }
  if (asked.all) out['all'] = true;
  return out;
}

/**
 * A JSON answer of the admin API (never cached). `tally`: where an answer on the main
 * listener (PURGE) counts its body bytes, for the access line and bytesServed.
 */
export function json(res: ServerResponse, status: number, body: unknown, extra: string[] = [], close = false, tally?: { bytes: number }): void {
  const text = JSON.stringify(body) + '\n';
  const length = Buffer.byteLength(text);
  const raw = ['content-type', 'application/json', 'content-length', String(length), 'cache-control', 'no-store', ...extra];
  if (close) raw.push('connection', 'close');
  res.writeHead(status, raw);
  res.end(text);
  if (tally) tally.bytes += length;
}

/**
 * A refusal as JSON naming the code. `close`: the body was not read (a refusal before
 * it, or one too large), so the connection cannot be reused.
 */
export function answerError(res: ServerResponse, err: StrataError, extra: string[] = [], close = false, tally?: { bytes: number }): void {
  if (res.headersSent) return void res.destroy();
  const fields = [...extra];
  if (err.code === 'UNAUTHORIZED') fields.push('www-authenticate', 'Bearer realm="strata"');
  // A store or internal failure answers the catalog's line (errors.ts clientMessageOf): its
  // message names cache paths and causes, which belong in the log line, not the answer.
  json(res, err.status, { error: err.code, message: err.clientMessage }, fields, close, tally);
}
