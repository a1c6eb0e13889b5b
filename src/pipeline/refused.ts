// A refusal the listener answered itself (server/refusal.ts: bad input node:http's
// parser refused, CONNECT, a request not received in time) recorded as its
// request's one outcome, as the request path records its own refusals (context.ts
// settle, handle.ts finished): counted in requests, the outcome counters, bytes and
// /metrics, one access line, and the answer labelled with Cache-Status and Via.
// What the parser refused was never read as a request: its method and target are
// unknown unless the parser got that far (CONNECT), and the access line says "-".
// A refusal of a connection (no request read) is counted as a bad request only: no
// request, no access line (nginx logs none either); the one whose bytes were inside
// the body of the request being handled is that request's: when the refusal is its
// answer, that request's own record (its access line) says so, once.

import type { ServerResponse } from 'node:http';
import { formatCacheStatus, type CacheOutcome } from '../cache/outcome.js';
import { countOutcome, type Stats } from '../observability/stats.js';
import type { Refusal } from '../server/refusal.js';
import type { NodeEnv } from './context.js';

/** The access line's method and url when the request was never read that far. */
export const UNKNOWN_REQUEST_PART = '-';

/** A refusal that answered a request the request path is handling: its outcome, status and body bytes, for that request's record. */
export interface InFlightRefusal {
  outcome: CacheOutcome;
  status: number;
  bytes: number;
}

/**
 * Refusals the listener answered for requests in flight (broken bytes in their body,
 * nothing of their answer written yet), by response: the request path records each as
 * its request's outcome when the response closes with none settled (handle.ts finished),
 * instead of `gone`. Looked up only then: nothing is added to the hit path.
 */
export type InFlightRefusals = WeakMap<ServerResponse, InFlightRefusal>;

/** Record `r`, counted in `counts`; returns the fields its answer carries. */
export function recordRefusal(env: Pick<NodeEnv, 'stats' | 'metrics' | 'access' | 'nodeName' | 'via'>, counts: Stats, id: () => number, r: Refusal, inFlight: InFlightRefusals): string[] {
  counts.inc('badRequests');
  const detail = r.error.code.toLowerCase();
  const o: CacheOutcome = { result: 'error', fwd: 'bypass', detail };
  if (r.of === 'in-flight' && r.response !== undefined) {
    inFlight.set(r.response, { outcome: o, status: r.error.status, bytes: r.bodyBytes });
    return ['cache-status', formatCacheStatus(env.nodeName, o), 'via', env.via];
  }
  if (r.of !== 'request') return ['via', env.via];
  counts.counters.requests++;
  countOutcome(counts, o);
  counts.counters.bytesServed += r.bodyBytes;
  const status = r.error.status;
  if (counts === env.stats) env.metrics.finished(o, status, 0);
  env.access.record({
    id: id(),
    method: r.method ?? UNKNOWN_REQUEST_PART,
    url: r.target ?? UNKNOWN_REQUEST_PART,
    host: '',
    status,
    bytes: r.bodyBytes,
    cache: o.result,
    code: detail,
    upstream: undefined,
    route: undefined,
    // Refused as it arrived: its time is the parser's, not measured here.
    ms: 0,
    // Nothing went out: the connection was gone before the answer could be written.
    aborted: !r.sent,
    http: r.http2 ? '2' : undefined,
  });
  return ['cache-status', formatCacheStatus(env.nodeName, o), 'via', env.via];
}
