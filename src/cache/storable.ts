// RFC 9111 §3 (storing responses) and §4.2 (freshness lifetime, age) for a shared
// cache, decided once when a response arrives. The only importer of
// http-cache-semantics; its known defects (PITFALLS) are corrected here:
// Strata normalises headers before building a policy, applies the targeted-field
// precedence of RFC 9213 itself, keeps Set-Cookie, Authorization, must-revalidate,
// proxy-revalidate, must-understand and 5xx handling in its own hands, and uses
// the library only for the freshness lifetime arithmetic.

import type { OverBound } from './entry-bounds.js';
import CachePolicy from 'http-cache-semantics';
import { deltaSeconds, MAX_DELTA_SECONDS, parseCacheControl, type Directives } from '../http/cache-control.js';
import { formatHttpDate, parseHttpDate } from '../http/dates.js';
import { PEER_AGE, splitList, withoutHopByHop, type HeaderMap } from '../http/headers.js';
import { dictionaryMembers, type DictionaryMember } from '../http/structured-field.js';
import { varyNames } from './vary.js';

/** Why a response was not stored. Names appear in Cache-Status detail and logs. */
export type NotStoredReason =
  | 'method'
  | 'status'
  | 'partial-content'
  | 'no-store'
  | 'request-no-store'
  | 'private'
  | 'authorization'
  | 'set-cookie'
  | 'vary-star'
  | 'cookie-heuristic'
  /** The response varies on a credential the edge checked and moved out of the cache's view (edge.publicAfterAuth). */
  | 'varies-on-credential'
  | 'not-reusable'
  /** A peer's object this node keeps no copy of (cluster.edgeCopies). */
  | 'edge-copy'
  | OverBound;

/**
 * Refusals that belong to this request, not to the response: they keep the
 * response from being stored but say nothing against an entry already stored for
 * other clients (RFC 9111 §5.2.1.5, §3.5), which must not be dropped because of them.
 */
export const REQUEST_SPECIFIC_REASONS: ReadonlySet<NotStoredReason> = new Set(['request-no-store', 'authorization', 'cookie-heuristic', 'too-many-variants', 'edge-copy']);

/**
 * Final statuses that can be one client's own answer (its credentials, its proxy
 * credentials, its slow request, its rate): a non-storable one replaces nothing
 * stored for others. Any other non-storable answer below 500 removes the stored
 * response it answered for (a 5xx is an origin failure: stale-if-error's to judge).
 */
export const CLIENTS_OWN_STATUSES: ReadonlySet<number> = new Set([401, 403, 407, 408, 429]);

/** One refusal to store: why, the origin's status, and when (ms since epoch); what `GET /explain` reports (observability/not-stored.ts keeps them). */
export interface NotStoredRecord {
  reason: NotStoredReason;
  status: number;
  atMs: number;
}

export interface StoragePolicyOptions {
  /** Node-specific targeted field, lower-case (RFC 9213 §2.1). */
  targetedField: string;
  storeSetCookie: boolean;
  heuristicFraction: number;
  heuristicMaxS: number;
  /**
   * Store the response to a request carrying Cookie without explicit freshness or
   * `public` (heuristic freshness, or validators only), as RFC 9111 allows.
   * Absent means false: see the deviation in assessStorage.
   */
  storeCookieHeuristic?: boolean;
  /**
   * A route's lifetime for responses without explicit freshness (no s-maxage,
   * max-age or Expires), used instead of the heuristic (src/routing/). Absent: the
   * heuristic of RFC 9111 §4.2.2.
   */
  defaultTtlS?: number;
}

export interface StorageInput {
  method: string;
  url: string;
  requestHeaders: HeaderMap;
  /**
   * Credential fields the edge checked and took out of `requestHeaders`
   * (edge.publicAfterAuth): they no longer make the answer private, but a response
   * that varies on one is that credential's alone, and is not stored.
   */
  vouched?: readonly string[] | undefined;
  status: number;
  responseHeaders: HeaderMap;
  requestTimeMs: number;
  responseTimeMs: number;
}

export interface StorageDecision {
  /** Headers to store (Set-Cookie, private="..." fields and hop-by-hop already removed by the caller). */
  headers: HeaderMap;
  cacheControl: string;
  freshnessLifetimeS: number;
  initialAgeS: number;
  varyNames: string[];
  /** Every reuse needs validation (no-cache, RFC 9111 §5.2.2.4; qualified no-cache treated as unqualified). */
  noCache: boolean;
  /** Never served stale (must-revalidate, proxy-revalidate, s-maxage: RFC 9111 §4.2.4, §5.2.2.2, §5.2.2.8, §5.2.2.10). */
  staleForbidden: boolean;
  staleWhileRevalidateS: number;
  staleIfErrorS: number;
}

export type StorageVerdict = { store: true; decision: StorageDecision } | { store: false; reason: NotStoredReason };

/** Statuses whose caching rules Strata implements (RFC 9110 §15); 206 is handled by ranges, not stored. */
const UNDERSTOOD = new Set([200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 451, 500, 501, 502, 503, 504]);
/** RFC 9110 §15.1: heuristically cacheable status codes (206 excluded: never stored whole). */
const HEURISTIC = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 451, 501]);
/** Statuses http-cache-semantics computes freshness for; others are mapped to 200 when explicitly fresh. */
const LIBRARY_STATUSES = new Set([200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501]);

/**
 * The caching directives Strata obeys for its own storing and reuse: the
 * node-specific field, else CDN-Cache-Control, else Cache-Control (RFC 9213 §2.1).
 * `targeted` is true when a targeted field was used (Expires is then ignored).
 * A targeted field that is empty or not a valid Structured Field Dictionary is
 * ignored as a whole, as if absent (RFC 9213 §2.1); of one that is used, `value`
 * keeps only the directives Strata may consume (consumableDirectives).
 */
export function effectiveDirectives(headers: HeaderMap, targetedField: string): { value: string; targeted: boolean } {
  for (const field of [targetedField, 'cdn-cache-control']) {
    const v = headers[field];
    if (v === undefined || v.trim() === '') continue;
    const members = dictionaryMembers(v);
    if (members !== undefined) return { value: consumableDirectives(v, members), targeted: true };
  }
  return { value: headers['cache-control'] ?? '', targeted: false };
}

/** Directives whose values are Integers in a targeted field (RFC 9213 §2.1 infers the types from RFC 9111 and RFC 5861). */
const INTEGER_DIRECTIVES = new Set(['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error']);

/**
 * A targeted field's directives as Strata consumes them (RFC 9213 §2.1): parameters are
 * ignored; a directive whose value is not of its type — `max-age="60"` (a String),
 * `max-age=60.5` (a Decimal), a bare `max-age` — is not consumed, as if absent
 * ("implementations SHOULD NOT consume values that violate these inferred
 * constraints"), rather than read as Cache-Control would read it; `d=?0` is a false
 * Boolean: absent too. The field as written when nothing is left out.
 */
function consumableDirectives(field: string, members: readonly DictionaryMember[]): string {
  const kept: string[] = [];
  let changed = false;
  for (const { key, value } of members) {
    let member: string | undefined = value === undefined || value === '?1' ? key : `${key}=${value}`;
    if (value === '?0') member = undefined;
    else if (INTEGER_DIRECTIVES.has(key) && (value === undefined || !/^-?\d+$/.test(value))) member = undefined;
    if (member === undefined) changed = true;
    else kept.push(member);
  }
  if (!changed && !field.includes(';')) return field;
  return kept.join(', ');
}

export function assessStorage(input: StorageInput, opts: StoragePolicyOptions): StorageVerdict {
  const { method, status, requestHeaders: req } = input;
  if (method !== 'GET') return { store: false, reason: 'method' };
  if (status === 206) return { store: false, reason: 'partial-content' };
  const reqcc = parseCacheControl(req['cache-control']);
  if (reqcc.has('no-store')) return { store: false, reason: 'request-no-store' };

  const { value: ccValue, targeted } = effectiveDirectives(input.responseHeaders, opts.targetedField);
  const cc = parseCacheControl(ccValue);
  const understood = UNDERSTOOD.has(status);
  // RFC 9111 §3, §5.2.2.3: a final status Strata does not know may be stored with explicit
  // freshness (below), but never with must-understand; 1xx and 304 are never a stored answer.
  if (!understood && (cc.has('must-understand') || status < 200 || status > 599 || status === 304)) return { store: false, reason: 'status' };
  // RFC 9111 §5.2.2.3: a cache that understands the status may ignore no-store when must-understand is present.
  if (cc.has('no-store') && !cc.has('must-understand')) return { store: false, reason: 'no-store' };
  if (cc.get('private') === true) return { store: false, reason: 'private' };
  // RFC 9111 §3.5: only these directives permit a shared cache to store an authenticated response.
  if (req['authorization'] !== undefined && !(cc.has('must-revalidate') || cc.has('public') || cc.has('s-maxage'))) {
    return { store: false, reason: 'authorization' };
  }
  if (input.responseHeaders['set-cookie'] !== undefined && !opts.storeSetCookie) return { store: false, reason: 'set-cookie' };
  const names = varyNames(input.responseHeaders['vary']);
  if (names[0] === '*') return { store: false, reason: 'vary-star' };
  if (input.vouched !== undefined && input.vouched.some((f) => names.includes(f))) return { store: false, reason: 'varies-on-credential' };

  const headers = storedHeaders(input.responseHeaders, cc);
  // RFC 9110 §6.6.1: a response stored without Date is dated when it arrived (hits, If-Modified-Since and caches below read it).
  if (headers['date'] === undefined) headers['date'] = formatHttpDate(input.responseTimeMs);
  const explicit = cc.has('s-maxage') || cc.has('max-age') || (!targeted && headers['expires'] !== undefined);
  const heuristicAllowed = understood && (HEURISTIC.has(status) || cc.has('public'));
  if (!explicit && !heuristicAllowed) return { store: false, reason: 'status' };

  // Deviation (CACHING.md, cache deception): a response to a request with Cookie
  // that the origin gave no explicit lifetime — only Last-Modified or an ETag — is
  // often that user's page (`/account.php/x.css`); RFC 9111 §4.2.2 would store it
  // for everyone. It is stored only when the origin says so (explicit freshness,
  // `public`) or keys it by the cookie (Vary: Cookie).
  if (req['cookie'] !== undefined && !explicit && !cc.has('public') && !names.includes('cookie') && opts.storeCookieHeuristic !== true) {
    return { store: false, reason: 'cookie-heuristic' };
  }

  const lifetime = freshnessLifetime(input, headers, cc, targeted, explicit, opts);
  const hasValidator = headers['etag'] !== undefined || headers['last-modified'] !== undefined;
  const noCache = cc.has('no-cache');
  // An unknown status is reused while fresh, never stale (its meaning on reuse is unknown).
  const staleForbidden = !understood || cc.has('must-revalidate') || cc.has('proxy-revalidate') || cc.has('s-maxage');
  const staleWhileRevalidateS = deltaSeconds(cc, 'stale-while-revalidate') ?? 0;
  const staleIfErrorS = deltaSeconds(cc, 'stale-if-error') ?? 0;
  // PITFALLS http-cache-semantics 9: a response with no freshness and no validator can never be
  // reused — unless it names a stale window of its own that it may be served in (RFC 5861:
  // `max-age=0, stale-while-revalidate=60` answers for a minute while it is fetched again).
  const ownStaleWindow = !noCache && !staleForbidden && (staleWhileRevalidateS > 0 || staleIfErrorS > 0);
  if (lifetime <= 0 && !hasValidator && !ownStaleWindow) return { store: false, reason: 'not-reusable' };

  return {
    store: true,
    decision: {
      headers,
      cacheControl: ccValue,
      freshnessLifetimeS: lifetime,
      initialAgeS: correctedInitialAge(input),
      varyNames: names,
      noCache,
      staleForbidden,
      staleWhileRevalidateS,
      staleIfErrorS,
    },
  };
}

/**
 * The fields of a response that one client's fetch may hand to another (a request
 * collapsed onto it): what a hit on it would carry — no Set-Cookie, no field that
 * private="..." names (RFC 9111 §5.2.2.7), no hop-by-hop field, no Age.
 */
export function sharedFields(res: HeaderMap, targetedField: string): HeaderMap {
  return storedHeaders(res, parseCacheControl(effectiveDirectives(res, targetedField).value));
}

/**
 * The response fields worth keeping: hop-by-hop fields, Set-Cookie, Age, Proxy-Authentication-Info
 * and fields named by private="..." are dropped.
 */
function storedHeaders(res: HeaderMap, cc: Directives): HeaderMap {
  // Age is recomputed on every answer (RFC 9111 §5.1); Date is kept as the origin's.
  const out = withoutHopByHop(res, notStoredField);
  const priv = cc.get('private');
  if (typeof priv === 'string') for (const f of splitList(priv)) delete out[f.toLowerCase()];
  return out;
}

function notStoredField(name: string): boolean {
  // RFC 9111 §3.1: fields specific to the proxy a response came through MUST NOT be stored; of
  // Proxy-Authenticate, Proxy-Authorization and Proxy-Authentication-Info the first two are hop-by-hop already.
  return name === 'set-cookie' || name === 'age' || name === 'proxy-authentication-info';
}

/** RFC 9111 §4.2.1 computed by http-cache-semantics on a normalised copy of the response. */
function freshnessLifetime(
  input: StorageInput,
  headers: HeaderMap,
  cc: Directives,
  targeted: boolean,
  explicit: boolean,
  opts: StoragePolicyOptions,
): number {
  if (cc.has('no-cache')) return 0;
  // The operator's lifetime for this route stands in for the heuristic (RFC 9111 §4.2.2 leaves it to the cache).
  if (!explicit && opts.defaultTtlS !== undefined) return opts.defaultTtlS;
  // Invalid freshness information — a non-integer or conflicting repeated max-age /
  // s-maxage — is treated as stale (RFC 9111 §4.2.1).
  for (const d of ['max-age', 's-maxage']) if (cc.has(d) && deltaSeconds(cc, d) === undefined) return 0;
  // The common case needs no policy object: with s-maxage or max-age, the lifetime is
  // that number (a shared cache's s-maxage first, §5.2.2.10), exactly as the library
  // computes it from the directives passed below; building one costs ~10 µs per miss.
  const explicitAge = deltaSeconds(cc, 's-maxage') ?? deltaSeconds(cc, 'max-age');
  if (explicitAge !== undefined) return explicitAge;
  // Dates reach the library only as valid IMF-fixdates: it would otherwise read them
  // with Date.parse (lenient, local time). An invalid Expires means already expired
  // (RFC 9111 §5.3); a missing or invalid Date is the response time (§4.2.3 uses
  // Strata's clock, not the library's Date.now()).
  const policyHeaders: HeaderMap = {};
  const date = parseHttpDate(headers['date']);
  policyHeaders['date'] = formatHttpDate(Number.isNaN(date) ? input.responseTimeMs : date);
  if (!targeted && headers['expires'] !== undefined) {
    const expires = parseHttpDate(headers['expires']);
    policyHeaders['expires'] = Number.isNaN(expires) ? formatHttpDate(0) : formatHttpDate(expires);
  }
  const lastModified = parseHttpDate(headers['last-modified']);
  if (!Number.isNaN(lastModified)) policyHeaders['last-modified'] = formatHttpDate(lastModified);
  // Only the directives that bear on the (heuristic) lifetime reach the library, not
  // the response's own field: its parser splits quoted arguments on commas (PITFALLS 5),
  // and proxy-revalidate would zero maxAge() (PITFALLS 1). No max-age or s-maxage is
  // left to pass here (those returned above).
  policyHeaders['cache-control'] = cc.has('public') ? 'public' : '';
  const status = LIBRARY_STATUSES.has(input.status) ? input.status : 200;
  const policy = new CachePolicy(
    { url: '/', method: 'GET', headers: {} },
    { status, headers: policyHeaders },
    { shared: true, cacheHeuristic: opts.heuristicFraction, immutableMinTimeToLive: 0 },
  );
  let lifetime = policy.maxAge();
  if (!explicit) lifetime = Math.min(lifetime, opts.heuristicMaxS);
  return Math.max(0, Math.floor(lifetime));
}

/** RFC 9111 §4.2.3: corrected_initial_age, seconds. */
export function correctedInitialAge(input: Pick<StorageInput, 'responseHeaders' | 'requestTimeMs' | 'responseTimeMs'>): number {
  const date = parseHttpDate(input.responseHeaders['date']);
  const apparentAge = Number.isNaN(date) ? 0 : Math.max(0, (input.responseTimeMs - date) / 1000);
  // RFC 9111 §5.1: a list-valued Age (two fields, joined, or "7200, 0") counts by
  // its first member; a value that is not delta-seconds is ignored; one above 2^31
  // counts as 2^31 (§1.2.2), so the Age sent on stays a whole number.
  const rawAge = input.responseHeaders['age']?.split(',', 1)[0]!.trim();
  const wholeAgeS = rawAge !== undefined && /^\d+$/.test(rawAge) ? Math.min(Number(rawAge), MAX_DELTA_SECONDS) : 0;
  // A peer's answer also says, to the millisecond, how long the cluster has held the content
  // (PEER_AGE; only peers' answers keep it: origin/pool.ts): Age alone, rounded down at every
  // hop, made a copy up to a second younger than the peer's own per hop.
  const peerMs = Number(input.responseHeaders[PEER_AGE]);
  const ageS = Number.isFinite(peerMs) && peerMs > 0 ? Math.max(wholeAgeS, Math.min(peerMs / 1000, MAX_DELTA_SECONDS)) : wholeAgeS;
  const responseDelay = Math.max(0, (input.responseTimeMs - input.requestTimeMs) / 1000);
  return Math.max(apparentAge, ageS + responseDelay);
}
