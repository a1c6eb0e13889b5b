// The request fields sent to the origin: end-to-end fields of the client's
// request, hop-by-hop ones removed (RFC 9110 §7.6.1), the origin's own Host, and
// X-Forwarded-For / -Proto / -Host and Via added. Fields some origin frameworks
// obey to rewrite the URL, host, scheme, port or method are removed: they are not
// part of the cache key, so one client's value would change the answer stored for
// everyone. CGI, WSGI and Rack origins read "_" in a field name as "-"
// (X_Forwarded_Host is their HTTP_X_FORWARDED_HOST): names with "_" are dropped
// (origin.forwardUnderscoreFields off, as nginx), and when the operator forwards
// them, the "_" spellings of every field removed or set here still are.

import { PEER_FIELDS } from '../cluster/peer-auth.js';
import { DROPPED_REQUEST_FIELDS } from '../config/schema/index.js';
import { cgiSpelling, isHopByHop, withoutHopByHop, type HeaderMap } from '../http/headers.js';

export interface ForwardContext {
  clientAddress: string;
  clientHost: string;
  /** The scheme the client used (X-Forwarded-Proto); http when absent. */
  clientProto?: 'http' | 'https';
  originHost: string;
  via: string;
  /** Lower-case request fields never sent to the origin (origin.droppedRequestFields); DEFAULT_DROPPED_FIELDS when absent. */
  droppedFields?: ReadonlySet<string>;
  /** Send fields whose name has "_" (origin.forwardUnderscoreFields); off when absent. */
  forwardUnderscoreFields?: boolean;
}

/** The default of origin.droppedRequestFields: URL, host, scheme, port and method overrides (see the schema). */
export const DEFAULT_DROPPED_FIELDS: ReadonlySet<string> = new Set(DROPPED_REQUEST_FIELDS);

/**
 * Fields undici refuses, that only make sense on the client connection, or that a
 * client could use to steer the origin without being part of the cache key
 * (Forwarded; the X-Forwarded-* fields are overwritten below for the same reason).
 */
const NOT_FORWARDED: ReadonlySet<string> = new Set(['expect', 'host', 'content-length', 'forwarded', ...PEER_FIELDS]);

/** Set below to Strata's own values, whatever the client sent (host and content-length are in NOT_FORWARDED). */
const SET_HERE: ReadonlySet<string> = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'via']);

export function forwardHeaders(client: HeaderMap, ctx: ForwardContext): HeaderMap {
  const dropped = ctx.droppedFields ?? DEFAULT_DROPPED_FIELDS;
  const forwardUnderscore = ctx.forwardUnderscoreFields === true;
  // HTTP/2 pseudo-header fields (:method, :path, :authority, :scheme) describe the client's stream, not the origin request.
  const removed = (name: string) => name.charCodeAt(0) === 58 /* ':' */ || NOT_FORWARDED.has(name) || dropped.has(name);
  const h = withoutHopByHop(client, (name) => {
    if (removed(name)) return true;
    if (name.indexOf('_') < 0) return false;
    if (!forwardUnderscore) return true;
    // Forwarded "_" names still never stand in for a field removed or set here.
    const dashed = cgiSpelling(name);
    return removed(dashed) || isHopByHop(dashed) || SET_HERE.has(dashed);
  });
  // Kept, after the client's other fields (one Connection names is gone already: handle.ts, withoutConnectionNamed).
  const contentLength = client['content-length'];
  if (contentLength !== undefined) h['content-length'] = contentLength;
  h['host'] = ctx.originHost;
  const xff = h['x-forwarded-for'];
  h['x-forwarded-for'] = xff ? `${xff}, ${ctx.clientAddress}` : ctx.clientAddress;
  // Always Strata's own values: an origin that builds URLs from a client-supplied
  // X-Forwarded-Host would otherwise let one client poison the cached answer for all.
  h['x-forwarded-proto'] = ctx.clientProto ?? 'http';
  h['x-forwarded-host'] = ctx.clientHost || ctx.originHost;
  const via = h['via'];
  h['via'] = via ? `${via}, ${ctx.via}` : ctx.via;
  return h;
}

/**
 * Client conditionals and ranges are Strata's to answer when it fills the cache.
 * If-Match and If-Unmodified-Since are not applicable to a cache (RFC 9111 §4.3.2):
 * a hit ignores them, and so does a fill, or one client's precondition would decide
 * what is stored for everyone (a 412 kept, or the URL marked hit-for-pass).
 */
export function forFill(h: HeaderMap): HeaderMap {
  // Deleted only when present: a delete is a runtime call even for a field the object lacks.
  if (h['if-none-match'] !== undefined) delete h['if-none-match'];
  if (h['if-modified-since'] !== undefined) delete h['if-modified-since'];
  if (h['if-match'] !== undefined) delete h['if-match'];
  if (h['if-unmodified-since'] !== undefined) delete h['if-unmodified-since'];
  if (h['if-range'] !== undefined) delete h['if-range'];
  if (h['range'] !== undefined) delete h['range'];
  return h;
}

/**
 * Ask the origin for identity (when `ask`; `h` as it is otherwise). A fill with
 * compression on does: Strata makes every coding from one body, and one origin
 * body serves every Accept-Encoding (an origin that sends a coding anyway is
 * stored in it, or decoded: transform/coding-key.ts). A slice fetch always does:
 * slices are not keyed by coding, so a slice in a coding would be spliced into
 * every client's answer, whatever it accepts.
 */
export function identityFromOrigin(h: HeaderMap, ask: boolean): HeaderMap {
  if (ask) h['accept-encoding'] = 'identity';
  return h;
}
