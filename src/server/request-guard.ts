// First look at a parsed request, before any cache or origin work: refuse what a
// reverse proxy must not accept (RFC 9112 §3.2, §3.3; RFC 9110 §7.2). Pure.
// HTTP/1.1 and HTTP/2 requests are read the same way: the host is Host, or
// :authority on HTTP/2 (RFC 9113 §8.3.1); the helpers below answer the other
// questions whose answer depends on the protocol, so the request path need not.

import type { IncomingMessage } from 'node:http';
import { normaliseAuthority } from '../cache/key.js';
import { StrataError } from '../errors.js';
import { hostCount, hostPartOf, malformedHostMessage } from '../http/host.js';
import { absoluteParts, normaliseTarget } from '../http/url-path.js';

export interface GuardLimits {
  maxUrlBytes: number;
}

export interface AcceptedTarget {
  /** Origin-form target: path + query. */
  target: string;
  /** Host the client addressed (authority of an absolute-form target, else Host). */
  host: string;
}

const REFUSED_METHODS = new Set(['CONNECT', 'TRACE']);

export function checkRequest(req: IncomingMessage, limits: GuardLimits): AcceptedTarget | StrataError {
  const accepted = checkTarget(req, limits);
  if (accepted instanceof StrataError) return accepted;
  // The target becomes the cache key and is put after an upstream's path prefix:
  // its dot segments must be resolved first (RFC 3986 §5.2.4), or `/../x` reads
  // outside the prefix.
  // Its leading slashes too: "//host/x" is a host to some origins (url-path.ts).
  const path = normaliseTarget(accepted.target);
  if (!path.ok) return new StrataError('BAD_REQUEST', path.reason);
  const target = path.target;
  // The key's scheme is http whatever the listener speaks (CACHING.md, The cache key), so
  // the https default port is removed here: "x:443" and "x" over TLS are one site (RFC 3986 §6.2.3).
  const host = accepted.host.endsWith(':443') && clientScheme(req) === 'https' ? accepted.host.slice(0, -4) : accepted.host;
  return { target, host };
}

function checkTarget(req: IncomingMessage, limits: GuardLimits): AcceptedTarget | StrataError {
  // node:http's parser takes "HTTP/2.0" in a request line; HTTP/2 has no request line (RFC 9113),
  // and every later step would read such a request as an HTTP/2 stream's. Only node:http2 makes those.
  if (req.httpVersionMajor !== 1 && (req as { stream?: unknown }).stream === undefined) {
    return new StrataError('BAD_REQUEST', `request line names HTTP/${req.httpVersion}; this connection speaks HTTP/1.x (HTTP/2 is offered over TLS only)`);
  }
  const url = req.url ?? '';
  if (url.length > limits.maxUrlBytes) {
    return new StrataError('URI_TOO_LONG', `request target is ${url.length} bytes; the limit is ${limits.maxUrlBytes}`);
  }
  // RFC 9112 §3.2: a request target has no fragment. One would reach the key as it is, where
  // Strata's own "#" suffixes (keyed fields, canary sides) begin (cache/key.ts).
  if (url.includes('#')) return new StrataError('BAD_REQUEST', 'request target holds a fragment ("#"); send the path and query only');
  const method = req.method ?? '';
  if (REFUSED_METHODS.has(method)) {
    return method === 'CONNECT'
      ? new StrataError('NOT_A_FORWARD_PROXY', 'CONNECT is refused: Strata is a reverse proxy, not a tunnel')
      : new StrataError('METHOD_NOT_IMPLEMENTED', `${method} is not supported by this proxy`);
  }
  let hostHeader = req.headers.host;
  let hostField: 'Host' | ':authority' = 'Host';
  // RFC 9112 §3.2: a client MUST send Host in HTTP/1.1; one Host only.
  if (hostCount(req.rawHeaders) > 1) return new StrataError('BAD_REQUEST', 'more than one Host header');
  if (req.httpVersionMajor === 2) {
    // RFC 9113 §8.3.1: :authority names the target; a Host beside it must not name another
    // entity. Compared as the cache key compares hosts (case, the scheme's default port, a
    // trailing dot): "localhost:443" and "localhost." over TLS are "localhost".
    const authority = req.headers[':authority'];
    if (typeof authority === 'string' && authority !== '') {
      if (hostHeader !== undefined && !sameAuthority(hostHeader, authority, clientScheme(req))) return new StrataError('BAD_REQUEST', ':authority and Host disagree');
      hostHeader = authority;
      hostField = ':authority';
    }
  }
  // RFC 9110 §10.1.1: 100-continue is the only expectation defined; any other is refused with 417.
  const expect = req.headers.expect;
  if (expect !== undefined && expect.trim().toLowerCase() !== '100-continue') {
    return new StrataError('EXPECTATION_FAILED', `request Expect ${JSON.stringify(expect.slice(0, 100))} is refused: only 100-continue is met; send the request without it`);
  }
  const te = req.headers['transfer-encoding'];
  if (te !== undefined && req.headers['content-length'] !== undefined) {
    return new StrataError('AMBIGUOUS_LENGTH', 'request has both Content-Length and Transfer-Encoding');
  }
  // RFC 9112 §6.3: a request whose final transfer coding is not chunked has no
  // reliable length (Node's parser lets some through, or fails inside the body).
  if (te !== undefined && te.split(',').at(-1)!.trim().toLowerCase() !== 'chunked') {
    return new StrataError('AMBIGUOUS_LENGTH', 'request Transfer-Encoding does not end with chunked');
  }
  // RFC 9112 §6.1: a coding before chunked (`gzip, chunked`) is one Strata does not
  // undo: Node removes the chunking only, and the still-coded bytes would reach the
  // origin as the plain body (Transfer-Encoding is hop-by-hop). 501, as §6.1 asks.
  if (te !== undefined && te.includes(',')) return transferCodingRefused(te);
  // After the length checks, whose refusals also close the connection. The host
  // chooses the site (and so its auth) and becomes X-Forwarded-Host: only a name or
  // IP literal, the same rule as the redirect listener's (http/host.ts).
  if (hostHeader && hostPartOf(hostHeader) === undefined) return new StrataError('BAD_REQUEST', malformedHostMessage(hostField, hostHeader));
  // Asterisk-form (RFC 9112 §3.2.4): "OPTIONS *" asks about the server itself (RFC 9110 §9.3.7);
  // the request path answers it (pipeline/answer.ts options). No other method has a use for it.
  if (url === '*') {
    if (method !== 'OPTIONS') return new StrataError('BAD_REQUEST', `request target "*" is for OPTIONS only, not ${method}`);
    if (!hostHeader && req.httpVersionMinor >= 1 && req.httpVersionMajor === 1) return new StrataError('MISSING_HOST', 'HTTP/1.1 request without a Host header');
    return { target: url, host: hostHeader ?? '' };
  }
  if (url.startsWith('/')) {
    if (!hostHeader) {
      if (req.httpVersionMinor >= 1) return new StrataError('MISSING_HOST', 'HTTP/1.1 request without a Host header');
      return { target: url, host: '' };
    }
    return { target: url, host: hostHeader };
  }
  if (/^https?:\/\//i.test(url)) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return new StrataError('BAD_REQUEST', 'malformed absolute-form request target');
    }
    // An absolute-form target is a forward-proxy request unless it names this node.
    // Comparing it with Host alone was not enough: a well-formed forward-proxy
    // request carries a Host equal to its target's authority (RFC 9112 §3.2), so
    // `GET http://evil.example/` + `Host: evil.example` was accepted and answered
    // (from the origin) — exactly what open-proxy scanners probe for. The node has
    // no configured public names, so "this node" is the address the connection
    // arrived on (plus localhost on loopback); clients of a reverse proxy send
    // origin-form anyway, so nothing legitimate depends on other authorities.
    const authority = normaliseHostPort(u.host, u.protocol);
    if (!localNames(req).some((n) => normaliseHostPort(n, u.protocol) === authority)) {
      return new StrataError('NOT_A_FORWARD_PROXY', `absolute-form request for ${u.host} refused: Strata is a reverse proxy, not an open proxy`);
    }
    // RFC 9112 §3.2.2 has the target win over Host; Strata refuses the disagreement instead (CACHING.md).
    if (!hostHeader || authority !== normaliseHostPort(hostHeader, u.protocol)) {
      const host = hostHeader ? `Host says ${JSON.stringify(hostHeader.slice(0, 100))}` : 'no Host was sent';
      return new StrataError('NOT_A_FORWARD_PROXY', `absolute-form target names this node (${u.host}) but ${host}: send the same authority in both, or origin-form`);
    }
    // The target as written, not WHATWG's re-encoding of it: keyed as the same request in origin-form is.
    return { target: absoluteParts(url)?.target ?? u.pathname + u.search, host: u.host };
  }
  return new StrataError('BAD_REQUEST', 'request target must be origin-form (/path) or absolute-form for this host');
}

function transferCodingRefused(te: string): StrataError {
  const before = te.split(',').slice(0, -1).map((c) => c.trim().toLowerCase());
  // Chunked twice (§6.1: a sender MUST NOT) or empty list elements: malformed framing, not an unknown coding.
  if (before.some((c) => c === 'chunked' || c === '')) return new StrataError('AMBIGUOUS_LENGTH', `request Transfer-Encoding ${JSON.stringify(te.slice(0, 100))} is malformed; send "chunked" alone`);
  return new StrataError(
    'TRANSFER_CODING_NOT_IMPLEMENTED',
    `request Transfer-Encoding ${JSON.stringify(te.slice(0, 100))} is refused: Strata decodes only chunked; send the body without ${before.join(', ').slice(0, 100)}, chunked alone or with a Content-Length`,
  );
}

function sameAuthority(a: string, b: string, scheme: string): boolean {
  return a.toLowerCase() === b.toLowerCase() || normaliseAuthority(scheme, a) === normaliseAuthority(scheme, b);
}

/** Lower-case authority with the scheme's default port removed ("x:80" → "x" for http:). */
function normaliseHostPort(authority: string, protocol: string): string {
  const a = authority.toLowerCase();
  const defaultPort = protocol === 'https:' ? '443' : '80';
  const m = /^(.*):(\d*)$/.exec(a);
  if (m && (m[2] === '' || m[2] === defaultPort)) return m[1]!;
  return a;
}

/** Authorities (host:port) naming the local end of the request's connection. */
function localNames(req: IncomingMessage): string[] {
  let addr = req.socket?.localAddress;
  const port = req.socket?.localPort;
  if (!addr || port === undefined) return [];
  if (addr.startsWith('::ffff:') && addr.includes('.')) addr = addr.slice(7);
  const hosts = [addr.includes(':') ? `[${addr}]` : addr];
  if (addr === '::1' || addr.startsWith('127.')) hosts.push('localhost');
  return hosts.map((h) => `${h}:${port}`);
}

/**
 * RFC 9113 §8.3.1: a gateway to HTTP/1.1 builds Host from :authority. An HTTP/2
 * request's :authority is written into its field map as `host` (in place: the
 * request's own map, which ctx.headers is), once, at receive and after
 * checkRequest accepted it, so every later step that reads fields (edge filters,
 * rate limits by a field, a route's keyed fields, Vary) sees over HTTP/2 what it
 * sees over HTTP/1.1. Without it, a filter on `host` let HTTP/2 requests through
 * and `Vary: host` made an HTTP/2 request a variant of its own. The origin is
 * still sent its own Host (pipeline/forward-headers.ts).
 */
export function authorityAsHost(req: IncomingMessage): void {
  if (req.httpVersionMajor !== 2) return;
  const authority = req.headers[':authority'];
  if (typeof authority === 'string' && authority !== '' && req.headers.host !== authority) req.headers.host = authority;
}

/** Does the request carry a body? HTTP/1.1 says so with framing fields; HTTP/2 by not ending the stream with its headers. */
export function requestHasBody(req: IncomingMessage): boolean {
  const stream = (req as { stream?: { endAfterHeaders?: boolean } }).stream;
  if (req.httpVersionMajor === 2 && stream !== undefined) return stream.endAfterHeaders !== true;
  return req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
}

/** The scheme the client used to reach this node: https when its connection is TLS (HTTP/1.1 or HTTP/2). */
export function clientScheme(req: IncomingMessage): 'http' | 'https' {
  return (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true ? 'https' : 'http';
}
