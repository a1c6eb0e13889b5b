// HTTP/2 responses that behave like node:http's where the request path relies on
// it, so src/pipeline and src/deliver never ask which protocol a client used:
//  - `destroyed` (Node 20's Http2ServerResponse has none) is the stream's, so a
//    writer stops on a client that went away instead of waiting for a 'drain'
//    that never comes;
//  - connection-specific fields (RFC 9113 §8.2.2: Connection, Keep-Alive,
//    Proxy-Connection, Transfer-Encoding, Upgrade, TE other than "trailers") are
//    left out: node:http2 throws on them, and they mean nothing on a stream.
//    Forwarded and stored fields are already without hop-by-hop fields; this
//    catches Strata's own (an error answer's "connection: close").

import http2 from 'node:http2';

const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

function allowed(name: string, value: unknown): boolean {
  const n = name.toLowerCase();
  if (n === 'te') return String(value).trim().toLowerCase() === 'trailers';
  return !CONNECTION_SPECIFIC.has(n);
}

/** Raw pairs (or a header object) without connection-specific fields; the same array when there is none. */
export function withoutConnectionFields<T extends readonly unknown[] | Record<string, unknown>>(headers: T): T {
  if (Array.isArray(headers)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < headers.length; i += 2) {
      if (allowed(String(headers[i]), headers[i + 1])) out?.push(headers[i], headers[i + 1]);
      else out ??= headers.slice(0, i);
    }
    return (out ?? headers) as T;
  }
  const obj = headers as Record<string, unknown>;
  if (Object.keys(obj).every((k) => allowed(k, obj[k]))) return headers;
  return Object.fromEntries(Object.entries(obj).filter(([k, v]) => allowed(k, v))) as T;
}

export class StrataHttp2Response extends http2.Http2ServerResponse {
  override writeHead(statusCode: number, a?: unknown, b?: unknown): this {
    const headers = typeof a === 'string' ? b : a;
    if (headers === undefined) return super.writeHead(statusCode);
    return super.writeHead(statusCode, withoutConnectionFields(headers as Record<string, string>));
  }

  override setHeader(name: string, value: number | string | readonly string[]): void {
    if (allowed(name, value)) super.setHeader(name, value);
  }
}

// An accessor, not a class field: the typings declare `destroyed` a property of Writable.
Object.defineProperty(StrataHttp2Response.prototype, 'destroyed', {
  get(this: http2.Http2ServerResponse): boolean {
    return this.stream.destroyed;
  },
});
