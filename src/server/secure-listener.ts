// The proxy listener with TLS: one TLS front (node:tls) accepts, counts the
// connection against its client address, runs the handshake (certificate by
// SNI, ALPN "h2" or "http/1.1") within the header timeout, and hands the
// decrypted connection to the protocol it negotiated:
//   - HTTP/1.1 (or no ALPN): the same node:http server as the plain listener
//     (./listener.ts) with every defence it has (strict parser, header timeouts,
//     first-request timer, refusals in order on pipelined connections);
//   - HTTP/2: a node:http2 server in compatibility mode, whose request and
//     response objects the request path uses as it uses node:http's
//     (./h2-response.ts makes up for the differences). Streams per connection are
//     bounded; a header list over limits.maxHeaderBytes is answered 431 (as
//     HTTP/1.1 is; twice that is reset unread), and so are more than 2000 fields
//     (node:http's count; node:http2's own default of 128 is lifted); streams reset
//     by the client faster than a budget close the connection (rapid reset,
//     ./h2-reset-guard.ts); the session memory node:http2 allows a connection
//     makes room for every stream it may open (sessionMemoryMb); a connection
//     must open its first stream within the header timeout, and an idle one is
//     closed; a stream whose client takes none of its bytes for
//     limits.sendTimeoutMs is reset (./h2-send-timeout.ts).
// Neither inner server listens itself: they only receive connections from here.

import http2, { type ServerHttp2Session } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import type { LimitsConfig, TlsConfig } from '../config/types.js';
import type { Logger } from 'pino';
import type { Certificates } from './certificates.js';
import { ClientConnections } from './client-connections.js';
import { http2ResponseClass } from './h2-response.js';
import { Http2IdleSessions } from './h2-idle.js';
import { Http2ResetGuard } from './h2-reset-guard.js';
import { Http2SendTimeout, SLICE_BYTES } from './h2-send-timeout.js';
import { createListener, type ClientListener, type RefusalRecorder } from './listener.js';
import { StrataError } from '../errors.js';
import { refusalBody } from './refusal.js';

export interface SecureListenerOptions {
  limits: LimitsConfig;
  tls: TlsConfig;
  certificates: Certificates;
  logger: Logger;
  /** Every refusal answered by the listener (listener.ts), an HTTP/2 stream's 431 included. */
  onRefused: RefusalRecorder;
  /** A client cut by limits.sendTimeoutMs: an HTTP/1.1 connection (listener.ts), an HTTP/2 stream or connection (h2-send-timeout.ts). */
  onSendTimeout?: () => void;
  /** A TLS handshake that failed or timed out, an HTTP/2 session error (counter protocolErrors). */
  onProtocolError?: () => void;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export function createSecureListener(handler: Handler, opts: SecureListenerOptions): ClientListener {
  const { logger, certificates } = opts;
  // A reload replaces them (setLimits); each new connection reads the current ones.
  let limits = opts.limits;
  const h1 = createListener(handler, { limits, logger, onRefused: opts.onRefused, ...(opts.onSendTimeout ? { onSendTimeout: opts.onSendTimeout } : {}), behindTls: true });
  // node:http starts checking header timeouts of its connections when it begins
  // listening; this one never listens (connections are handed to it), so start it here.
  h1.emit('listening');

  const sendTimeout = new Http2SendTimeout({ timeoutMs: () => limits.sendTimeoutMs, logger, ...(opts.onSendTimeout ? { onCut: opts.onSendTimeout } : {}) });
  // The compatibility layer's request and response stand in for node:http's on
  // every member the request path uses (the TLS tests run the same cases over both).
  const h2Handler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void => {
    if (headerListBytes(req.rawHeaders) > limits.maxHeaderBytes) refuseHeaderList(req, res, `request header section exceeds ${limits.maxHeaderBytes} bytes`);
    else if (req.rawHeaders.length / 2 > MAX_HEADER_FIELDS && headerFieldCount(req.rawHeaders) > MAX_HEADER_FIELDS) {
      refuseHeaderList(req, res, `request has ${headerFieldCount(req.rawHeaders)} header fields; at most ${MAX_HEADER_FIELDS} are accepted`);
    }
    else handler(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  };
  const h2 = http2.createServer(
    {
      settings: { maxConcurrentStreams: opts.tls.http2MaxConcurrentStreams, maxHeaderListSize: headerListCap(limits.maxHeaderBytes) },
      // node:http2 resets a stream past 128 fields by default, unseen and uncounted:
      // let the size cap be the only silent bound, and refuse by count in h2Handler.
      maxHeaderListPairs: headerPairsCap(limits.maxHeaderBytes),
      maxSessionMemory: sessionMemoryMb(opts.tls.http2MaxConcurrentStreams),
      Http2ServerResponse: http2ResponseClass({ backpressure: (res) => sendTimeout.watch(res), ended: (res) => sendTimeout.settle(res) }),
    },
    h2Handler,
  );
  // Expect: 100-continue: the handler writes 100 when it reads the body (request-body.ts, continueIfExpected), not node:http2 up front.
  h2.on('checkContinue', h2Handler);

  /** 431, as HTTP/1.1 answers a header section over limits.maxHeaderBytes (listener.ts); the connection stays. */
  function refuseHeaderList(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse, message: string): void {
    logger.warn({ code: 'HEADERS_TOO_LARGE', remote: res.stream.session?.socket?.remoteAddress, http: '2' }, message);
    const error = new StrataError('HEADERS_TOO_LARGE', message);
    const body = refusalBody(error);
    const bodyBytes = req.method === 'HEAD' ? 0 : Buffer.byteLength(body);
    // Its method and target are known: the stream's headers were decoded whole.
    const fields = opts.onRefused({ error, of: 'request', method: req.method, target: req.url, sent: true, bodyBytes, http2: true });
    const head: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store' };
    for (let i = 0; i + 1 < fields.length; i += 2) head[fields[i]!] = fields[i + 1]!;
    res.writeHead(431, head);
    res.end(body);
  }
  const sessions = new Http2IdleSessions(opts.tls.http2IdleTimeoutMs);
  const resets = new Http2ResetGuard({
    maxConcurrentStreams: () => opts.tls.http2MaxConcurrentStreams,
    onTripped: (session, n) => {
      opts.onProtocolError?.();
      logger.warn({ code: 'HTTP2_RAPID_RESET', remote: session.socket?.remoteAddress, resets: n }, `HTTP/2 client reset ${n} streams faster than the node allows (twice tls.http2MaxConcurrentStreams at once, that many a second after); GOAWAY ENHANCE_YOUR_CALM, connection closed`);
    },
  });
  h2.on('session', (session: ServerHttp2Session) => {
    resets.watch(session);
    // Closed after tls.http2IdleTimeoutMs without a byte either way (not session.setTimeout: see ./h2-idle.ts).
    sessions.add(session);
    const firstStream = setTimeout(() => {
      // No stream was opened: a connection refused, not a request.
      opts.onRefused({ error: new StrataError('REQUEST_TIMEOUT', 'no HTTP/2 request in time'), of: 'connection', sent: false, bodyBytes: 0, http2: true });
      logger.warn({ code: 'REQUEST_TIMEOUT', remote: session.socket?.remoteAddress }, `no HTTP/2 request within ${limits.requestHeadersTimeoutMs} ms of the handshake (limits.requestHeadersTimeoutMs)`);
      session.destroy();
    }, limits.requestHeadersTimeoutMs);
    session.once('stream', () => clearTimeout(firstStream));
    session.once('close', () => {
      clearTimeout(firstStream);
    });
  });
  h2.on('sessionError', (err: NodeJS.ErrnoException, session: ServerHttp2Session) => {
    opts.onProtocolError?.();
    logger.warn({ code: err.code, err: err.message, remote: session?.socket?.remoteAddress }, 'HTTP/2 connection error: the connection is closed');
  });

  const perClient = new ClientConnections(() => limits.maxConnectionsPerClient);
  const raw = new Set<Socket>();
  const front = tls.createServer({
    ...certificates.defaultPem(),
    minVersion: opts.tls.minVersion,
    ALPNProtocols: opts.tls.http2 ? ['h2', 'http/1.1'] : ['http/1.1'],
    SNICallback: (servername, cb) => cb(null, certificates.contextFor(servername)),
    // The handshake counts against the time a new connection has to send its request.
    handshakeTimeout: limits.requestHeadersTimeoutMs,
    // As node:http does for the plain listener: small answers go out at once, not after a delayed ACK.
    noDelay: true,
  });
  certificates.onReloaded(() => front.setSecureContext({ ...certificates.defaultPem(), minVersion: opts.tls.minVersion }));

  // Once the front has closed and its last connection is gone, stop the inner servers' timers.
  front.once('close', () => {
    sendTimeout.stop();
    sessions.stop();
    h1.close();
    h2.close();
  });

  front.on('connection', (socket: Socket) => {
    const refused = perClient.admit(socket);
    if (refused) {
      // Nothing can be said in HTTP before the handshake: the connection is closed.
      opts.onRefused({ error: refused, of: 'connection', sent: false, bodyBytes: 0 });
      logger.warn({ code: refused.code, remote: socket.remoteAddress }, refused.message);
      socket.destroy();
      return;
    }
    raw.add(socket);
    socket.once('close', () => raw.delete(socket));
  });
  front.on('secureConnection', (socket: TLSSocket) => {
    (socket.alpnProtocol === 'h2' ? h2 : h1).emit('connection', socket);
  });
  front.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    opts.onProtocolError?.();
    // info, not warn: scanners and load balancer probes make these all day.
    logger.info({ code: err.code, err: err.message, remote: socket.remoteAddress }, 'TLS handshake failed');
    socket.destroy();
  });

  return {
    server: front,
    get listening() {
      return front.listening;
    },
    setLimits(next) {
      limits = next;
      h1.setLimits(next);
      h2.updateSettings({ maxHeaderListSize: headerListCap(next.maxHeaderBytes) });
      // The TLS handshake timeout is fixed when the front is made, and so is
      // maxHeaderListPairs (headerPairsCap of the limits at start): a change needs a restart.
    },
    closeIdleConnections() {
      h1.closeIdleConnections();
      // GOAWAY: no new streams; the connection closes once its streams are done.
      for (const s of sessions.all()) s.close();
    },
    closeAllConnections() {
      h1.closeAllConnections();
      for (const s of [...sessions.all()]) s.destroy();
      // Connections still in their handshake, too.
      for (const s of raw) s.destroy();
    },
  };
}

/**
 * A header list's size as HTTP/2 counts it (RFC 9113 §6.5.2: name, value and 32
 * octets per field, pseudo-header fields included), as node:http2 does against
 * SETTINGS_MAX_HEADER_LIST_SIZE.
 */
export function headerListBytes(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) n += raw[i]!.length + raw[i + 1]!.length + 32;
  return n;
}

/**
 * What the HTTP/2 server accepts at all: node:http2 resets a stream whose header
 * list exceeds SETTINGS_MAX_HEADER_LIST_SIZE before any handler sees it
 * (RST_STREAM ENHANCE_YOUR_CALM), so the setting is twice limits.maxHeaderBytes:
 * a list between the two gets the 431 the limit promises (RFC 9113 §10.5.1
 * lets a server answer 431), one beyond it is reset unread.
 */
export function headerListCap(maxHeaderBytes: number): number {
  return 2 * maxHeaderBytes;
}

/**
 * What one stream of a client that reads nothing holds in node:http2's session
 * memory: the one slice of its answer handed to nghttp2 (h2-send-timeout.ts: a
 * watched stream hands its queued slices over one at a time; the rest wait in
 * the stream, most of them views of a stored body), plus its headers and state.
 */
export const STREAM_SESSION_BYTES = SLICE_BYTES + 16 * 1024;

/**
 * node:http2's maxSessionMemory (in megabytes of 10^6 bytes): its own default of
 * 10 for what a connection needs besides its streams (HPACK tables, control
 * frames queued), plus STREAM_SESSION_BYTES for each of
 * tls.http2MaxConcurrentStreams. Past the limit node:http2 resets every new
 * stream (RST_STREAM ENHANCE_YOUR_CALM) before Strata sees it, unlogged: with
 * the default 10 a client reading nothing had its streams past ~150 refused
 * though SETTINGS promised it more. The bound per connection stays what the
 * streams setting implies.
 */
export function sessionMemoryMb(maxConcurrentStreams: number): number {
  return 10 + Math.ceil((maxConcurrentStreams * STREAM_SESSION_BYTES) / 1e6);
}

/** Header fields a request may carry: node:http's default maxHeadersCount, which the HTTP/1.1 listener keeps. */
export const MAX_HEADER_FIELDS = 2000;

/** Header fields as HTTP/1.1 counts them: pseudo-header fields (":path"...) left out. */
export function headerFieldCount(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (!raw[i]!.startsWith(':')) n++;
  return n;
}

/**
 * node:http2's maxHeaderListPairs: above anything the size cap lets through (each
 * field counts at least 32 octets) and above MAX_HEADER_FIELDS, so a stream is
 * never reset for its field count before the handler can answer and count it.
 */
export function headerPairsCap(maxHeaderBytes: number): number {
  return Math.max(MAX_HEADER_FIELDS, Math.ceil(headerListCap(maxHeaderBytes) / 32)) + 1;
}
