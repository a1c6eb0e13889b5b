// The plain-HTTP listener's only answer when TLS is on (tls.redirectListen):
// 308 Permanent Redirect (RFC 9110 §15.4.9: method and body kept) to the same
// path and query over HTTPS, on the host the client named and the TLS
// listener's port. Requests are checked by the same guard as the proxy's
// (request-guard.ts); nothing reaches the cache or the origin.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LimitsConfig } from '../config/types.js';
import { StrataError } from '../errors.js';
import { checkRequest } from './request-guard.js';

/** The host name of a Host value ("a.example:80" → "a.example", "[::1]:80" → "[::1]"). */
function hostName(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.indexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}

export function httpsLocation(host: string, target: string, port: number): string {
  return `https://${hostName(host).toLowerCase()}${port === 443 ? '' : `:${port}`}${target}`;
}

function answer(res: ServerResponse, status: number, fields: string[], text: string): void {
  res.writeHead(status, [...fields, 'content-type', 'text/plain; charset=utf-8', 'content-length', String(Buffer.byteLength(text))]);
  res.end(text);
}

/** `port()`: where HTTPS clients reach the node (known only once the TLS listener is bound). */
export function createRedirectHandler(limits: LimitsConfig, port: () => number, onBadRequest: () => void): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    let accepted = checkRequest(req, limits);
    if (!(accepted instanceof StrataError) && accepted.host === '') accepted = new StrataError('MISSING_HOST', 'no Host to redirect to: send Host, or use https:// directly');
    if (accepted instanceof StrataError) {
      onBadRequest();
      answer(res, accepted.status, ['cache-control', 'no-store'], `${accepted.status} ${accepted.code}: ${accepted.message}\n`);
      return;
    }
    const location = httpsLocation(accepted.host, accepted.target, port());
    answer(res, 308, ['location', location], `Moved to ${location}\n`);
  };
}
