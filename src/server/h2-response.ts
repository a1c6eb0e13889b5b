// HTTP/2 responses that behave like node:http's where the request path relies on
// it, so src/pipeline and src/deliver never ask which protocol a client used:
//  - `destroyed` (Node 20's Http2ServerResponse has none) is the stream's, so a
//    writer stops on a client that went away instead of waiting for a 'drain'
//    that never comes;
//  - connection-specific fields (RFC 9113 §8.2.2: Connection, Keep-Alive,
//    Proxy-Connection, Transfer-Encoding, Upgrade, TE other than "trailers") are
//    left out: node:http2 throws on them, and they mean nothing on a stream.
//    Forwarded and stored fields are already without hop-by-hop fields; this
//    catches Strata's own (an error answer's "connection: close");
//  - an answer that asks to close its connection (a refused request body: 408,
//    413, 503) closes its stream instead, once the answer is out: RST_STREAM
//    NO_ERROR (RFC 9113 §8.1: a server may ask the client to stop sending after
//    a complete response). Without it the stream stayed half-closed while the
//    client went on sending: its DATA frames buffered, its slot in
//    http2MaxConcurrentStreams taken, and the idle sweep (./h2-idle.ts) left the
//    connection alone because a stream was open;
//  - a write that meets backpressure is reported, so the listener's send timeout
//    (./h2-send-timeout.ts) watches that stream — and only that one; so is the
//    end of every answer, which the send timeout looks at a moment later: an
//    answer too small to meet backpressure (under the stream's 16 KiB high-water
//    mark) still waits there when its client keeps its window closed;
//  - the request path's writeHead(status, raw pairs) goes to the stream's
//    respond() in one step (the hit path's cost; see writeHead below). No
//    trailers are offered: Strata sends none.

import http2 from 'node:http2';
import { SLICE_BYTES } from './h2-send-timeout.js';

const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

/** `n`: the field name in lower case. */
function allowed(n: string, value: unknown): boolean {
  if (n === 'te') return String(value).trim().toLowerCase() === 'trailers';
  return !CONNECTION_SPECIFIC.has(n);
}

/** Told by h2Fields that the fields asked to close the connection ("connection: close"). */
export interface CloseAsked {
  closeAsked(): void;
}

function asksClose(n: string, value: unknown): boolean {
  return n === 'connection' && /(?:^|,)\s*close\s*(?:,|$)/i.test(String(value));
}

/** Lengths of the connection-specific names (and TE): a name of another length needs no look. */
const SUSPECT_LENGTHS = new Set([...CONNECTION_SPECIFIC, 'te'].map((n) => n.length));

/**
 * writeHead's fields as one header object (for the stream's respond(), or the
 * compatibility layer's object path — never its raw-pairs path, which removed,
 * then appended through setHeader, so validated every field three times),
 * without connection-specific fields; a repeated name (Set-Cookie) becomes an array.
 */
export function h2Fields(headers: readonly unknown[] | Record<string, unknown>, told?: CloseAsked): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) {
      let name = String(headers[i]);
      const value: unknown = headers[i + 1];
      if (SUSPECT_LENGTHS.has(name.length) && !allowed(name.toLowerCase(), value)) {
        if (told && asksClose(name.toLowerCase(), value)) told.closeAsked();
        continue;
      }
      // Stored and Strata's own names are lower case already; node:http2 wants them so.
      if (hasUpper(name)) name = name.toLowerCase();
      const prev = out[name];
      if (prev === undefined) out[name] = value;
      else if (Array.isArray(prev)) prev.push(value);
      else out[name] = [prev, value];
    }
    return out;
  }
  const obj = headers as Record<string, unknown>;
  for (const name in obj) {
    const n = name.toLowerCase();
    if (allowed(n, obj[name])) out[name] = obj[name];
    else if (told && asksClose(n, obj[name])) told.closeAsked();
  }
  return out;
}

function hasUpper(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return true;
  }
  return false;
}

export class StrataHttp2Response extends http2.Http2ServerResponse implements CloseAsked {
  /** Writes made so far: how the send timeout (h2-send-timeout.ts) tells a refilled queue from a stalled one. */
  writes = 0;
  /** Whether setHeader() was used: then writeHead merges through the compatibility layer. */
  private fieldsSet = false;
  /** The answer asked to close the connection: its stream is closed once the answer is out (closeAsked). */
  private closing = false;

  /**
   * The request path writes its answers as raw pairs in one writeHead: those go
   * straight to the stream's respond() as one header object — the compatibility
   * layer's writeHead validated and copied every field twice more, and asked for
   * trailers on every answer (a setImmediate and an extra frame each; Strata
   * sends no trailers, so addTrailers() is not supported). Everything else
   * (fields set before, an object, no fields) takes the compatibility path.
   */
  override writeHead(statusCode: number, a?: unknown, b?: unknown): this {
    const headers = typeof a === 'string' ? b : a;
    if (headers === undefined || headers === null) return super.writeHead(statusCode);
    const stream = this.stream;
    if (Array.isArray(headers) && !this.fieldsSet && !stream.headersSent && !stream.destroyed && !stream.closed) {
      // The compatibility layer's state: statusCode (the setter checks the range) and writableEnded.
      this.statusCode = statusCode;
      const fields = h2Fields(headers, this) as http2.OutgoingHttpHeaders;
      fields[':status'] = statusCode;
      stream.respond(fields, { endStream: this.writableEnded, waitForTrailers: false });
      return this;
    }
    return super.writeHead(statusCode, h2Fields(headers as Record<string, unknown>, this) as http2.OutgoingHttpHeaders);
  }

  override setHeader(name: string, value: number | string | readonly string[]): void {
    this.fieldsSet = true;
    const n = name.toLowerCase();
    if (allowed(n, value)) super.setHeader(name, value);
    else if (asksClose(n, value)) this.closeAsked();
  }

  /**
   * "connection: close" on HTTP/2: the stream is closed with RST_STREAM NO_ERROR
   * once the answer is out (the stream's 'finish': its last DATA frame handed to
   * the session, so the reset never cuts it short). Nothing more of the request
   * is read; a stream whose client already ended its side is closed anyway.
   */
  closeAsked(): void {
    const stream = this.stream;
    if (this.closing || stream.closed || stream.destroyed) return;
    this.closing = true;
    const close = (): void => {
      if (!stream.closed && !stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
    };
    if (stream.writableFinished) close();
    else stream.once('finish', close);
  }

  /**
   * As the compatibility layer's, but a write larger than SLICE_BYTES is queued
   * in slices (the unit in which the send timeout sees a client's progress), and
   * a write that meets backpressure is reported (backpressure()).
   */
  override write(chunk: string | Uint8Array, a?: BufferEncoding | WriteCallback, b?: WriteCallback): boolean {
    this.writes++;
    const encoding = typeof a === 'function' ? undefined : a;
    const cb = typeof a === 'function' ? a : b;
    const bytes = typeof chunk === 'string' ? (chunk.length > SLICE_BYTES ? Buffer.from(chunk, encoding) : undefined) : chunk;
    let ok: boolean;
    if (bytes === undefined || bytes.byteLength <= SLICE_BYTES) ok = super.write(chunk, encoding as BufferEncoding, cb);
    else {
      ok = true;
      for (let at = 0; at < bytes.byteLength; at += SLICE_BYTES) {
        const end = Math.min(at + SLICE_BYTES, bytes.byteLength);
        ok = end === bytes.byteLength && cb ? super.write(bytes.subarray(at, end), cb) : super.write(bytes.subarray(at, end));
      }
    }
    if (!ok) this.backpressure();
    return ok;
  }

  /** As the compatibility layer's; the listener's subclass is told the answer ended (ended()). */
  override end(a?: unknown, b?: unknown, c?: unknown): this {
    (super.end as (x?: unknown, y?: unknown, z?: unknown) => this)(a, b, c);
    this.ended();
    return this;
  }

  /** A write met backpressure: the listener's subclass (http2ResponseClass) has it watched. */
  protected backpressure(): void {}

  /** The answer was ended: the listener's subclass has its last bytes looked at (Http2SendTimeout.settle). */
  protected ended(): void {}
}

type WriteCallback = (err: Error) => void;

/** What a listener's responses report to it (its send timeout). */
export interface ResponseWatcher {
  /** A write met backpressure. */
  backpressure(res: StrataHttp2Response): void;
  /** The answer was ended (its last bytes may still wait on the client). */
  ended(res: StrataHttp2Response): void;
}

/** The response class for one listener: responses report backpressure and their end to `watcher`. */
export function http2ResponseClass(watcher: ResponseWatcher): typeof StrataHttp2Response {
  return class extends StrataHttp2Response {
    protected override backpressure(): void {
      watcher.backpressure(this);
    }

    protected override ended(): void {
      watcher.ended(this);
    }
  };
}

// An accessor, not a class field: the typings declare `destroyed` a property of Writable.
Object.defineProperty(StrataHttp2Response.prototype, 'destroyed', {
  get(this: http2.Http2ServerResponse): boolean {
    return this.stream.destroyed;
  },
});
