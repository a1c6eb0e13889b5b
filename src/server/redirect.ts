// The plain-HTTP listener's only answer when TLS is on (tls.redirectListen):
// 308 Permanent Redirect (RFC 9110 §15.4.9: method and body kept) to the same
// path and query over HTTPS, on the host the client named and the TLS
// listener's port. Requests are checked by the same guard as the proxy's
// (request-guard.ts), which refuses a Host that is not a host name or IP literal
// with an optional port (http/host.ts: 400; a malformed one would make a broken
// Location); nothing reaches the cache or the origin.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LimitsConfig } from '../config/types.js';
import { StrataError } from '../errors.js';
import { hostPartOf, malformedHostMessage } from '../http/host.js';
import { checkRequest } from './request-guard.js';

/** The HTTPS URL for `target` on `host`'s name; undefined when the Host is malformed. */
export function httpsLocation(host: string, target: string, port: number): string | undefined {
  const name = hostPartOf(host);
  return name === undefined ? undefined : `https://${name.toLowerCase()}${port === 443 ? '' : `:${port}`}${target}`;
}

function answer(res: ServerResponse, status: number, fields: string[], text: string): void {
  res.writeHead(status, [...fields, 'content-type', 'text/plain; charset=utf-8', 'content-length', String(Buffer.byteLength(text))]);
  res.end(text);
}

/** Where to send the client, or why not: no Host, or a malformed one. */
function redirectTarget(host: string, target: string, port: number): string | StrataError {
  if (host === '') return new StrataError('MISSING_HOST', 'no Host to redirect to: send Host, or use https:// directly');
  return httpsLocation(host, target, port) ?? new StrataError('BAD_REQUEST', malformedHostMessage('Host', host));
}

/**
 * `limits()`: the current limits (a reload's apply at once); `port()`: where HTTPS
 * clients reach the node (known only once the TLS listener is bound).
 */
export function createRedirectHandler(limits: () => LimitsConfig, port: () => number, onBadRequest: () => void): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const accepted = checkRequest(req, limits());
    const target = accepted instanceof StrataError ? accepted : redirectTarget(accepted.host, accepted.target, port());
    if (target instanceof StrataError) {
      onBadRequest();
      answer(res, target.status, ['cache-control', 'no-store'], `${target.status} ${target.code}: ${target.message}\n`);
      return;
    }
    answer(res, 308, ['location', target], `Moved to ${target}\n`);
  };
}
