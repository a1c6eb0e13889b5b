// Refusals the listeners answer themselves, before (or instead of) the request
// path: bad input node:http's parser refused, CONNECT, requests not received in
// time, connections over the per-client cap. One function writes each answer and
// tells the node about it (rejectRaw → onRefused) in the same step, so a refusal
// is recorded once, with the fields it carries (Cache-Status, Via), as its answer
// goes out.

import http, { type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { StrataError, ErrorCode } from '../errors.js';

/**
 * A refusal the listener answers itself: bad input node:http's parser refused,
 * CONNECT, a request not received in time, a connection over the per-client cap.
 * Every one is counted (badRequests); one that refused a request is that request's
 * one recorded outcome, as any answer of the request path is.
 */
export interface Refusal {
  error: StrataError;
  /**
   * `request`: bytes of a request of its own were read (the parser refused them, or
   * they did not complete in time): counted as a request, with an access line.
   * `connection`: no request was read (refused at accept, silent, or only empty lines
   * while kept alive): nothing to log as a request, as nginx logs none.
   * `in-flight`: the refused bytes are in the body of the request being handled,
   * whose own outcome records it.
   */
  of: 'request' | 'connection' | 'in-flight';
  /** Known only when the parser got that far (CONNECT); absent: unknown. */
  method?: string;
  target?: string;
  /** Whether an answer could be written (false: the connection was gone). */
  sent: boolean;
  /** Body bytes of the answer written. */
  bodyBytes: number;
  /** Answered on an HTTP/2 stream (secure-listener.ts). */
  http2?: boolean;
  /** `in-flight`: the response of the request refused, when nothing of it was written (the refusal is its answer). */
  response?: ServerResponse;
}

/** Records a refusal; returns the fields its answer carries with it (Cache-Status, Via), when it has one. */
export type RefusalRecorder = (r: Refusal) => string[];

/** What is known of a refused request. */
export type RequestKnown = Pick<Refusal, 'method' | 'target' | 'response'>;

/** How long a refused connection may stay half-open, waiting for the client to close. */
const REFUSED_LINGER_MS = 2_000;

/** Strata's error code for a node:http parser error code (llhttp's HPE_*, Node's own timeout). */
export function parserErrorCode(code: string | undefined): ErrorCode {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 'HEADERS_TOO_LARGE';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 'REQUEST_TIMEOUT';
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_INVALID_CONTENT_LENGTH':
      return 'AMBIGUOUS_LENGTH';
    default:
      return 'BAD_REQUEST';
  }
}

/** The client's line for a parser refusal, before the parser's own code. */
export const ERROR_HINT: Partial<Record<ErrorCode, string>> = {
  AMBIGUOUS_LENGTH: 'conflicting or invalid Content-Length / Transfer-Encoding',
  REQUEST_TIMEOUT: `request headers not received in time`,
  BAD_REQUEST: 'malformed request line or header',
};

/** The body of a refusal's answer. */
export function refusalBody(err: StrataError): string {
  return `${err.status} ${err.code}: ${err.clientMessage}\n`;
}

/**
 * Record `err` as a refusal (`onRefused`: its fields come back) and write it as a
 * minimal answer on the raw socket, then close it. The one place a refusal the
 * listener makes is both answered and recorded.
 */
export function rejectRaw(socket: Duplex, err: StrataError, onRefused: RefusalRecorder, of: Refusal['of'], known: RequestKnown = {}): void {
  const body = refusalBody(err);
  const sent = socket.writable;
  const fields = onRefused({ error: err, of, ...known, sent, bodyBytes: sent ? Buffer.byteLength(body) : 0 });
  if (sent) {
    let extra = '';
    for (let i = 0; i + 1 < fields.length; i += 2) extra += `${fields[i]}: ${fields[i + 1]}\r\n`;
    socket.end(
      `HTTP/1.1 ${err.status} ${http.STATUS_CODES[err.status] ?? 'Error'}\r\n` +
        `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `cache-control: no-store\r\n${extra}connection: close\r\n\r\n${body}`,
    );
    // end() only half-closes (the HTTP server allows half-open sockets), so a
    // client that never closes its side held the socket open indefinitely after a
    // refusal. Discard its further bytes and destroy after a short linger — not at
    // once: closing with unread input makes the kernel send RST, which can wipe
    // the answer before the client reads it.
    socket.resume();
    destroyAfterLinger(socket);
  } else {
    socket.destroy();
  }
}

/** Bytes read from the client so far (a Duplex that is no net.Socket: none counted). */
export function bytesRead(socket: Duplex): number {
  return (socket as Partial<Socket>).bytesRead ?? 0;
}

/** Destroy `socket` after REFUSED_LINGER_MS unless it closes first (the client closed its side too). */
export function destroyAfterLinger(socket: Duplex): void {
  const linger = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
  linger.unref();
  socket.once('close', () => clearTimeout(linger));
}
