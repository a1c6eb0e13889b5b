// The named cache outcome of one request. It is recorded once per request
// (pipeline/context.ts settle) and feeds the Cache-Status field (RFC 9211), the
// access log line and the stats counters (observability/stats.ts countOutcome),
// so all three agree by construction.

import type { DecisionKind } from './decide.js';

export type FwdReason = 'uri-miss' | 'vary-miss' | 'stale' | 'request' | 'bypass' | 'miss';

export interface CacheOutcome {
  /**
   * Short name for logs and stats: hit, stale-hit, miss, revalidated, bypass, error...
   * `gone`: the client went away before its answer was chosen (nothing was written to
   * it, no Cache-Status): recorded when its response closes, so the request still has
   * one outcome (CLIENT_GONE_STATUS on its access line and in /metrics).
   */
  result: 'hit' | 'stale-hit' | 'miss' | 'revalidated' | 'refreshed' | 'bypass' | 'error' | 'only-if-cached' | 'gone';
  /** The cache decision that led here (cache/decide.ts); absent when none was made (not a cacheable request). */
  decision?: DecisionKind;
  fwd?: FwdReason;
  fwdStatus?: number;
  /** RFC 9211 §2.6: this request joined a forward request already in flight. */
  collapsed?: boolean;
  stored?: boolean;
  ttlS?: number;
  detail?: string;
}

/**
 * The status the access line and /metrics give a request whose client went away
 * before any status line was written to it (outcome `gone`): nginx's "client closed
 * request", which operators already filter on. Never sent: there is no one to send it to.
 */
export const CLIENT_GONE_STATUS = 499;

/** RFC 9211 §2 field value for this node. */
export function formatCacheStatus(nodeId: string, o: CacheOutcome): string {
  let s = nodeId;
  if (o.fwd === undefined) s += '; hit';
  else s += `; fwd=${o.fwd}`;
  if (o.fwdStatus !== undefined) s += `; fwd-status=${o.fwdStatus}`;
  if (o.stored) s += '; stored';
  if (o.collapsed) s += '; collapsed';
  if (o.ttlS !== undefined) s += `; ttl=${Math.round(o.ttlS)}`;
  if (o.detail !== undefined) s += `; detail=${o.detail}`;
  return s;
}

/** RFC 9211 §2: the cache's identifier is an sf-token or sf-string. */
export function cacheStatusName(nodeId: string): string {
  return /^[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]*$/.test(nodeId) ? nodeId : `"${nodeId.replace(/["\\]/g, '\\$&')}"`;
}
