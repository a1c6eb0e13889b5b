// The cache decision for one cacheable request: a pure function of (request facts
// parsed once, the stored response chosen for it or why there is none, now, the
// operator's grace windows) returning a named Decision. No I/O: the pipeline acts
// on the Decision; tests read it as a table (test/unit/decide.test.ts).
//
// Invariants: every cacheable request gets exactly one Decision; a Decision that
// answers from cache (hit, hit-stale, stale-while-revalidate) never needs the
// origin before the answer; `alone` is the request's own property (its answer
// cannot be shared with other clients), whatever the cache holds.

import type { HeaderMap } from '../http/headers.js';
import type { EntryMeta } from '../entry.js';
import { currentAge, decideReuse, requestDirectives, type RequestDirectives, type ReuseDecision } from './reuse.js';
import { staleWindow } from './stale-window.js';

/** Why no stored response was chosen (Cache-Status fwd, RFC 9211 §2.2). */
export type MissReason = 'uri-miss' | 'vary-miss';

/** What decide() needs to know of the request, parsed once. */
export interface RequestFacts {
  directives: RequestDirectives;
  /** The request carries Authorization: whatever comes back is its own. */
  authorization: boolean;
}

/** The operator's defaults for responses that name no stale window of their own (RFC 5861). */
export interface GraceWindows {
  staleWhileRevalidateS: number;
  staleIfErrorS: number;
  /** How stale an entry may be and still answer when the origin cannot be reached at all (RFC 9111 §4.2.4). */
  staleIfDisconnectedS: number;
}

/**
 * How the origin failed: "disconnected" — no response at all (connection refused
 * or reset, no answer in time); "error" — it answered, with a status of
 * isOriginError or a response that is not HTTP.
 */
export type OriginFailure = 'disconnected' | 'error';

/** Why a stale entry answers a failed fetch (Cache-Status detail). */
export type StaleOnFailure = 'stale-if-error' | 'stale-if-disconnected';

export type Decision =
  /** Fresh: answer from cache. */
  | { kind: 'hit'; ageS: number; ttlS: number }
  /** Stale, but within the client's max-stale (RFC 9111 §5.2.1.2): answer from cache. */
  | { kind: 'hit-stale'; ageS: number; ttlS: number }
  /** Stale within its stale-while-revalidate window (RFC 5861 §3): answer now, revalidate in the background. */
  | { kind: 'stale-while-revalidate'; ageS: number; ttlS: number }
  /**
   * A stored response that must be validated (or replaced) first. `fwd`: "stale"
   * when the response itself needs it, "request" when the client's directives do.
   * Whether the stored response may answer if the origin fails is judged when it
   * fails (staleIfErrorAllows).
   */
  | { kind: 'revalidate'; fwd: 'stale' | 'request'; why: Exclude<ReuseDecision, { reuse: true }>['why']; alone: boolean }
  /** Nothing stored for this request: fetch it. */
  | { kind: 'fetch'; fwd: MissReason; alone: boolean }
  /** only-if-cached (RFC 9111 §5.2.1.7) and nothing usable stored: 504, the origin untouched. */
  | { kind: 'refuse' };

export type DecisionKind = Decision['kind'];

export interface DecideInput {
  request: RequestFacts;
  /** The stored response chosen for the request (its variant), if any. */
  stored: EntryMeta | undefined;
  /** Why nothing was chosen; ignored when `stored` is set. */
  miss: MissReason;
  nowMs: number;
  grace: GraceWindows;
}

/** Most requests carry none of the fields decide() reads: one shared value for them (no allocation on a hit). */
const PLAIN: RequestFacts = { directives: requestDirectives({}), authorization: false };

/** The request facts decide() uses, from the request's fields. */
export function requestFacts(headers: HeaderMap): RequestFacts {
  if (headers['cache-control'] === undefined && headers['pragma'] === undefined && headers['authorization'] === undefined) return PLAIN;
  return { directives: requestDirectives(headers), authorization: headers['authorization'] !== undefined };
}

/** Whether the answer to this request may be shared with others (not Authorization, not no-store). */
function answersAlone(req: RequestFacts): boolean {
  return req.authorization || req.directives.cc.has('no-store');
}

export function decide(input: DecideInput): Decision {
  const { request, stored, nowMs, grace } = input;
  if (!stored) return request.directives.onlyIfCached ? { kind: 'refuse' } : { kind: 'fetch', fwd: input.miss, alone: answersAlone(request) };
  const d = decideReuse(request.directives, stored, nowMs);
  if (d.reuse) return { kind: d.stale ? 'hit-stale' : 'hit', ageS: d.ageS, ttlS: d.ttlS };
  if (request.directives.onlyIfCached) return { kind: 'refuse' };
  if (d.why === 'stale' && !stored.staleForbidden && withinStaleWindow(d.ttlS, staleWindow(stored, 'stale-while-revalidate', grace.staleWhileRevalidateS).seconds)) {
    return { kind: 'stale-while-revalidate', ageS: d.ageS, ttlS: d.ttlS };
  }
  return {
    kind: 'revalidate',
    fwd: d.why === 'stale' || d.why === 'no-cache' ? 'stale' : 'request',
    why: d.why,
    alone: answersAlone(request),
  };
}

/**
 * RFC 5861 §4: "an error is any situation that would result in a 500, 502, 503, or
 * 504". Other 5xx statuses (501 Not Implemented, 505, 507...) are the origin's
 * answer about the request, not a failure to answer it: passed on, stored by their
 * own rules, never a reason to serve stale.
 */
export function isOriginError(status: number): boolean {
  return status === 500 || status === 502 || status === 503 || status === 504;
}

/** RFC 5861 §4: may `stored` answer, now, because the origin failed? */
export function staleIfErrorAllows(request: RequestFacts, stored: EntryMeta, nowMs: number, grace: GraceWindows): boolean {
  return staleOnFailure(request, stored, nowMs, grace, 'error') !== undefined;
}

/**
 * May stale-if-error serve `stored` to a client that allows it — now, or once it is
 * stale (a fresh entry included)? Judged from the entry alone: an error response must
 * not replace what stale-if-error could still serve to others (RFC 5861 §4), whatever
 * the directives of the request that brought the error (a reload's no-cache or max-age=0).
 */
export function staleIfErrorCovers(stored: EntryMeta, nowMs: number, grace: GraceWindows): boolean {
  if (stored.staleForbidden || stored.noCache) return false;
  const ttlS = stored.freshnessLifetimeS - currentAge(stored, nowMs);
  return withinStaleWindow(Math.min(ttlS, 0), staleWindow(stored, 'stale-if-error', grace.staleIfErrorS).seconds);
}

/**
 * May `stored` answer, now, because the origin failed in this way, and why?
 * - stale-if-error (RFC 5861 §4) within the response's window or the operator's:
 *   any failure;
 * - stale-if-disconnected (RFC 9111 §4.2.4: a disconnected cache may serve stale)
 *   within `grace.staleIfDisconnectedS`: only when no response came at all; a 5xx
 *   is the origin's answer and stays one.
 * Never for an entry whose directives forbid stale use (must-revalidate,
 * proxy-revalidate, s-maxage, no-cache: RFC 9111 §4.2.4 "MUST NOT"), nor when
 * the request forbids it (no-cache, max-age, min-fresh: its reuse is refused for
 * a reason other than staleness).
 */
export function staleOnFailure(request: RequestFacts, stored: EntryMeta, nowMs: number, grace: GraceWindows, failure: OriginFailure): StaleOnFailure | undefined {
  if (stored.staleForbidden) return undefined;
  const d = decideReuse(request.directives, stored, nowMs);
  if (d.reuse || d.why !== 'stale') return undefined;
  if (withinStaleWindow(d.ttlS, staleWindow(stored, 'stale-if-error', grace.staleIfErrorS).seconds)) return 'stale-if-error';
  if (failure === 'disconnected' && withinStaleWindow(d.ttlS, grace.staleIfDisconnectedS)) return 'stale-if-disconnected';
  return undefined;
}

/**
 * Stale by no more than a window of `windowS` seconds (`ttlS` ≤ 0 once stale). A
 * window of 0 allows nothing, not even an entry stale by exactly 0 s (its age
 * equal to its lifetime: stale by RFC 9111 §4.2).
 */
function withinStaleWindow(ttlS: number, windowS: number): boolean {
  return windowS > 0 && -ttlS <= windowS;
}
