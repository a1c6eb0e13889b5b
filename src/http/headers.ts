// Pure header helpers: one normal form for header maps (lower-case names, repeated
// fields joined with ", ", Set-Cookie kept as a list) and the hop-by-hop rules of
// RFC 9110 §7.6.1. No I/O.

import type { IncomingHttpHeaders } from 'node:http';

/** Lower-case names; every value a single string (list fields joined per RFC 9110 §5.3). */
export type HeaderMap = Record<string, string>;

/**
 * On an answer to a peer only: its Age to the millisecond (RFC 9111 §5.1's Age is
 * whole seconds). The asking node checks the copy against the purges it applied
 * since the content left the origin (cluster/purge-times.ts), and removes the field.
 */
export const PEER_AGE = 'strata-peer-age-ms';

/**
 * On an answer to a peer only, from a copy soft-purged there: milliseconds since that
 * purge, as of when the peer's request arrived. A soft purge cuts the copy's lifetime
 * where its fields cannot show it (cache/soft-purge.ts), so without this a peer's
 * stale answer (stale-while-revalidate, stale-if-error) read as fresh for the rest of
 * its max-age. The asking node applies the soft purge to what it keeps (at the
 * instant it asked, less this: never later than the real one) and removes the field.
 */
export const PEER_SOFT_PURGED = 'strata-peer-soft-purged-ms';

/**
 * The fields a node writes on its answers to peers alone: never taken from an origin
 * (one would be stored with the copy and read by peers as the cluster's), never shown
 * to a client, and a copy's own ones never passed on (each answer writes them anew).
 */
export const PEER_ONLY_FIELDS: readonly string[] = [PEER_AGE, PEER_SOFT_PURGED];

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Is `name` (lower case) a hop-by-hop field of RFC 9110 §7.6.1? */
export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name);
}

/**
 * The field `name` (lower case) is to CGI, WSGI and Rack servers, which read "-" and
 * "_" as one (both X-Forwarded-Host and X_Forwarded_Host become HTTP_X_FORWARDED_HOST):
 * "_" read as "-". `name` itself when it has no "_". A rule that removes or sets a
 * field for the origin must apply to every name with its spelling here, or a client
 * sends its own copy under the other spelling.
 */
export function cgiSpelling(name: string): string {
  return name.indexOf('_') < 0 ? name : name.replaceAll('_', '-');
}

/** Normalise Node's incoming headers (already lower-cased) into a HeaderMap. */
export function fromIncoming(headers: IncomingHttpHeaders): HeaderMap {
  const out: HeaderMap = {};
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    // Set-Cookie cannot be joined with commas safely; keep newline-separated.
    out[name] = Array.isArray(v) ? v.join(name === 'set-cookie' ? '\n' : ', ') : v;
  }
  return out;
}

/** Normalise undici's response headers (lower-case names, string or string[]). */
export function fromUndici(headers: Record<string, string | string[] | undefined>): HeaderMap {
  return fromIncoming(headers as IncomingHttpHeaders);
}

const NO_TOKENS: ReadonlySet<string> = new Set();

/** Field names listed in Connection, lower-cased (RFC 9110 §7.6.1). */
export function connectionTokens(headers: HeaderMap): ReadonlySet<string> {
  const c = headers['connection'];
  // The usual value names no other field (keep-alive is hop-by-hop anyway): no set per response.
  if (!c || c === 'keep-alive') return NO_TOKENS;
  const out = new Set<string>();
  for (const t of c.split(',')) {
    const n = t.trim().toLowerCase();
    if (n) out.add(n);
  }
  return out;
}

/**
 * A copy without hop-by-hop fields, those named in Connection and those `alsoDrop` names.
 * Why a filter, not deletes from the copy: each `delete` is a runtime call, and deleting a
 * field the object has turns it into a slow dictionary for every later access.
 */
export function withoutHopByHop(headers: HeaderMap, alsoDrop?: (name: string) => boolean): HeaderMap {
  const named = connectionTokens(headers);
  const out: HeaderMap = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || (named.size > 0 && named.has(name)) || (alsoDrop !== undefined && alsoDrop(name))) continue;
    out[name] = headers[name]!;
  }
  return out;
}

/**
 * The request as every later step sees it (cache key, Vary, storing rules, the origin):
 * without the fields its Connection field names (RFC 9110 §7.6.1), the same map when it
 * names none. Why at receive: those fields never reach the origin, so a key or a variant
 * that read them would store an answer made without them under a key that says they were
 * there (`Connection: accept-language` made the origin's default page the stored "fr" variant).
 */
export function withoutConnectionNamed(headers: HeaderMap): HeaderMap {
  const c = headers['connection'];
  if (c === undefined) return headers;
  // The usual values, in any case (`Keep-Alive` from HTTP/1.0 clients): nothing named, nothing built.
  const v = c.length <= 10 ? c.toLowerCase() : c;
  if (v === 'keep-alive' || v === 'close') return headers;
  const named = connectionTokens(headers);
  let any = false;
  for (const n of named) if (n !== 'connection' && headers[n] !== undefined) any = true;
  if (!any) return headers;
  const out: HeaderMap = {};
  for (const name in headers) if (name === 'connection' || !named.has(name)) out[name] = headers[name]!;
  return out;
}

/** Split a comma-separated list field into trimmed, non-empty members. */
export function splitList(value: string | undefined): string[] {
  if (!value) return [];
  const out: string[] = [];
  for (const part of value.split(',')) {
    const t = part.trim();
    if (t) out.push(t);
  }
  return out;
}

/** Expand a HeaderMap into Node's flat raw-header array for writeHead (Set-Cookie split back out). */
export function toRawPairs(headers: HeaderMap, into: string[] = []): string[] {
  for (const name in headers) {
    const v = headers[name]!;
    if (name === 'set-cookie') {
      for (const c of v.split('\n')) into.push(name, c);
    } else {
      into.push(name, v);
    }
  }
  return into;
}

/**
 * Fields that are digests of the bytes as the origin sent them (RFC 9530
 * Content-Digest and Repr-Digest, RFC 3230 Digest, Content-MD5, Google Cloud
 * Storage's x-goog-hash): wrong for any other coding of them, so a client's
 * integrity check would fail. Never carried onto a variant Strata makes.
 */
const DIGEST_FIELDS = ['content-digest', 'repr-digest', 'digest', 'content-md5', 'x-goog-hash'] as const;

/**
 * Digests of a message's content (RFC 9530 §2 Content-Digest; the obsolete Content-MD5):
 * true of the whole body they came with only, never of a part of it (a 206, a slice).
 * Repr-Digest is of the representation, whatever part a message carries.
 */
export const CONTENT_DIGEST_FIELDS: readonly string[] = ['content-digest', 'content-md5'];

/** `h` without the digests of the origin's bytes (in place; returns it). */
export function withoutDigests(h: HeaderMap): HeaderMap {
  for (const f of DIGEST_FIELDS) if (h[f] !== undefined) delete h[f];
  return h;
}

/**
 * `h` without every field that describes the origin's bytes rather than the representation's
 * meaning (in place; returns it): their length, the range they were (Content-Range, which means
 * nothing on a 200 and would contradict a 206 cut from other bytes, RFC 9110 §14.4), and their
 * digests. For the fields of other bytes made from them: another coding, encoded or decoded.
 */
export function withoutByteFields(h: HeaderMap): HeaderMap {
  withoutDigests(h);
  delete h['content-length'];
  delete h['content-range'];
  return h;
}
