// The proxy's HTTP/1.1 listener. Malformed input that Node's parser rejects
// (bad request line or headers, oversized header section, conflicting framing)
// is answered here with a clear status and the connection closed; the process
// keeps serving. Request smuggling defences: the strict parser (never
// insecureHTTPParser) and closing the connection on any framing error.
// Slow and idle clients: header timeouts are checked every
// connectionsCheckingInterval (set here: Node's default looks only every 30 s, so
// a 3 s timeout answered slowloris connections after 30 s); a connection's first
// request must also be complete within the header timeout counted from accept, by
// a timer of our own (Node 20.20 counts a silent connection from accept on its
// tick, but PITFALLS records versions that never time it out); and one client
// address may hold at most limits.maxConnectionsPerClient connections. A kept-alive
// connection that brings no request is closed even when it sends empty lines
// (./keep-alive-idle.ts). A client
// that stops taking its answer is cut after limits.sendTimeoutMs.
// With TLS on, the same server takes the decrypted HTTP/1.1 connections from the
// TLS front (./secure-listener.ts), which counts them per address and bounds
// their handshake itself.
// A reload hands the listener new limits (setLimits): they apply to connections
// accepted from then on; the listener itself, and its connections, stay.
// Pipelined requests are handled a few at a time per connection (./pipelining.ts).
// Expect: 100-continue requests reach the handler without a 100 written: it asks
// for the body when it reads it (request-body.ts, continueIfExpected). An answer
// that closes the connection while its request's body is still arriving (a 413,
// a 408, a hit for a client that was never asked for its body) lingers: the
// connection is half-closed and the rest read and dropped until the client
// closes or REFUSED_LINGER_MS pass — closed at once, the unread input made the
// kernel reset the connection, which could wipe the answer before it was read.
// Every refusal answered here is written and recorded by one function
// (./refusal.ts rejectRaw): a refused request is counted, logged and labelled
// (Cache-Status, Via) as one outcome, like the request path's own refusals.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { StrataError } from '../errors.js';
import type { LimitsConfig } from '../config/types.js';
import { ClientConnections } from './client-connections.js';
import { SendStallSweep } from './send-stall.js';
import { KeepAliveIdleSweep } from './keep-alive-idle.js';
import { PipelineWindow } from './pipelining.js';
import { bytesRead, destroyAfterLinger, ERROR_HINT, parserErrorCode, rejectRaw, type RefusalRecorder, type RequestKnown } from './refusal.js';
import { continueIfBodiless } from './request-body.js';

export type { Refusal, RefusalRecorder } from './refusal.js';

export interface ListenerOptions {
  limits: LimitsConfig;
  logger: Logger;
  /** Every refusal the listener answers, told once, as its answer is written. */
  onRefused: RefusalRecorder;
  /** A client was cut by limits.sendTimeoutMs. */
  onSendTimeout?: () => void;
  /**
   * Connections come decrypted from the TLS front (secure-listener.ts), which
   * counted them against their address at accept and bounded their handshake.
   */
  behindTls?: boolean;
}

/** What the node needs of the proxy listener, plain or TLS (./secure-listener.ts). */
export interface ClientListener {
  /** The accepting server: listen(), address(), close(). */
  readonly server: Server;
  /** Close connections with no request in flight; HTTP/2 ones after their streams end. */
  closeIdleConnections(): void;
  /** Cut every connection now. */
  closeAllConnections(): void;
  /** A reload's new limits, for connections accepted from then on. */
  setLimits(limits: LimitsConfig): void;
  readonly listening: boolean;
}

export function plainListener(server: ProxyListener): ClientListener {
  return {
    server,
    closeIdleConnections: () => server.closeIdleConnections(),
    closeAllConnections: () => server.closeAllConnections(),
    setLimits: (next) => server.setLimits(next),
    get listening() {
      return server.listening;
    },
  };
}

/**
 * A response that closed its connection (Node's "_last": Connection: close, or
 * Node's own choice for an Expect: 100-continue request never asked for its
 * body) while its request's body was still arriving. Node ends the socket and
 * destroys it once the answer is written (destroySoon); unread input then makes
 * the kernel reset the connection, and the reset can reach the client before it
 * has read the answer.
 */
function closedWithBodyArriving(res: ServerResponse, socket: Duplex): boolean {
  return (res as { _last?: boolean })._last === true && res.writableFinished && !res.req.complete && !socket.destroyed;
}

/**
 * Keep such a connection half-closed instead: the answer and FIN are out
 * (socket.end() was called), the rest of the body is read and dropped (the
 * request flows with no reader), and the socket is destroyed when the client
 * closes or after REFUSED_LINGER_MS. Nothing else on it is handled.
 */
function lingerAfterAnswer(res: ServerResponse, socket: Duplex, st: ConnState): void {
  st.shut = true;
  // Node's destroySoon() waits for the end to be written with once('finish', destroy): not now.
  socket.removeListener('finish', socket.destroy);
  if (socket.writable) socket.end();
  res.req.resume();
  destroyAfterLinger(socket);
}

/**
 * Per connection: its requests (the window counts the responses still owed), the
 * latest request, and whether the connection has already been refused.
 */
interface ConnState {
  last?: IncomingMessage;
  refused: boolean;
  /** Run once the responses owed (window.owed) fall to `waitFor`. */
  afterPending?: () => void;
  waitFor: number;
  /** Refused as a whole (too many connections, first request too slow): no request on it is handled. */
  shut: boolean;
  /** Closes the connection unless its first request arrives in time. */
  firstRequestTimer?: NodeJS.Timeout;
  /** Its requests in progress, bounded, and the count of responses owed. */
  window: PipelineWindow;
  /** Requests received on it: the keep-alive idle sweep's progress figure. */
  requests: number;
  /**
   * socket.bytesRead once the requests so far were read (at accept: what the TLS
   * handshake took): more read since means a request of its own had begun.
   */
  readMark: number;
}

/**
 * Must the connection close after this request's answer? An Upgrade request
 * (Upgrade + Connection: upgrade, as llhttp reads them): Strata upgrades nothing
 * (RFC 9110 §7.8 lets it answer as usual), but node:http's parser reads no byte
 * after such a message when no 'upgrade' listener takes the socket, so an answer
 * saying keep-alive left the client's next request unanswered until the keep-alive
 * timeout. An HTTP/1.0 request with Transfer-Encoding: its framing is faulty and the
 * connection closes after it (RFC 9112 §6.1), since an HTTP/1.0 hop before Strata
 * may not have read the chunks as its body.
 */
function lastOnConnection(req: IncomingMessage): boolean {
  const h = req.headers;
  if (h.upgrade !== undefined && h.connection !== undefined && /(?:^|,)\s*upgrade\s*(?:,|$)/i.test(h.connection)) return true;
  return req.httpVersionMajor === 1 && req.httpVersionMinor === 0 && h['transfer-encoding'] !== undefined;
}

/** The proxy listener; a reload hands it new limits (they apply to connections accepted from then on). */
export type ProxyListener = http.Server & { setLimits(limits: LimitsConfig): void };

export function createListener(handler: (req: IncomingMessage, res: ServerResponse) => void, opts: ListenerOptions): ProxyListener {
  const { logger } = opts;
  let limits = opts.limits;

  // nginx's send_timeout: a client that takes no bytes of its answer within
  // limits.sendTimeoutMs is cut; what its answer held (an origin connection,
  // buffers) is released by the answer's close.
  const stalls = new SendStallSweep({
    timeoutMs: () => limits.sendTimeoutMs,
    onStall: (socket, waitingBytes) => {
      logger.info({ remote: (socket as Socket).remoteAddress, waitingBytes, sendTimeoutMs: limits.sendTimeoutMs }, 'client took no bytes within the send timeout; connection cut');
      opts.onSendTimeout?.();
      socket.destroy();
    },
  });

  const conns = new WeakMap<Duplex, ConnState>();
  const stateOf = (socket: Duplex): ConnState => {
    let st = conns.get(socket);
    if (!st) {
      st = { refused: false, waitFor: 0, shut: false, window: new PipelineWindow(socket, handler), requests: 0, readMark: bytesRead(socket) };
      conns.set(socket, st);
      const window = st.window;
      socket.once('close', () => {
        const { dropped, abandoned } = window.closed();
        if (dropped + abandoned > 0) {
          logger.info({ remote: (socket as Socket).remoteAddress, abandoned, dropped }, 'client closed its connection with pipelined requests unanswered; their work is cancelled');
        }
      });
    }
    return st;
  };

  /**
   * A response closed (finished, or its connection died): one fewer owed on its
   * connection. One function for every response, finding the state by the
   * request's socket: no closure per request, and no property added to the
   * response (a response of another shape than node:http's own makes its
   * internals' property accesses polymorphic).
   */
  function settleResponse(this: ServerResponse): void {
    const socket = this.req.socket;
    const st = conns.get(socket);
    if (!st) return;
    if (this.req.complete) st.readMark = bytesRead(socket);
    if (closedWithBodyArriving(this, socket)) lingerAfterAnswer(this, socket, st);
    st.window.settled(this);
    if (st.window.owed <= st.waitFor && st.afterPending) {
      const next = st.afterPending;
      st.afterPending = undefined;
      next();
    }
  }

  // Every request goes through its connection's window, which counts the responses still
  // owed, so a refusal of a later (pipelined) message can wait for them: see refuse() below.
  const tracked = (req: IncomingMessage, res: ServerResponse): void => {
    const st = stateOf(req.socket);
    if (st.firstRequestTimer !== undefined) {
      clearTimeout(st.firstRequestTimer);
      st.firstRequestTimer = undefined;
    }
    // Already answered at the connection level; the socket closes after its linger.
    if (st.shut) return;
    st.requests++;
    st.readMark = bytesRead(req.socket);
    st.last = req;
    if (lastOnConnection(req)) res.shouldKeepAlive = false;
    // 'close' follows 'finish' on every response, and also fires when the connection
    // dies. On, not once: a response closes once, and once() wraps the listener per call.
    res.on('close', settleResponse);
    st.window.admit(req, res);
  };

  /**
   * Answer `err` on the connection and close it. Why not at once: with pipelining,
   * a bad message can arrive while earlier, well-formed requests on the same
   * connection are still being answered (a cache lookup is asynchronous). Writing
   * the error straight onto the socket put it in the place of the first answer and
   * then ended the socket, so the client read the 400/403 as the answer to its
   * good request and lost the real one (a response desync). The error now goes
   * out after the answers owed, in order. When the broken bytes are inside the
   * body of a request still in flight, that request is the bad one: it is refused
   * at once (as Node does), or the connection is cut if its answer has begun.
   */
  const refuse = (socket: Duplex, err: StrataError, known: RequestKnown = {}, left = false): void => {
    const st = stateOf(socket);
    if (st.refused) return; // the dead parser reports every later chunk again
    st.refused = true;
    // Broken bytes inside a body still being read: that request is the bad one,
    // so only the answers owed before it are waited for.
    const brokenBody = st.last !== undefined && !st.last.complete && st.window.owed > 0;
    // A timeout is a request's only when bytes of one had come (not a silent or idle connection);
    // a client that closed halfway through its request (`left`) went away, refused by no one: halfway
    // through a body being handled (an upload cancelled), that request is recorded gone, not answered.
    const of = brokenBody && !left ? 'in-flight' : left || (err.code === 'REQUEST_TIMEOUT' && bytesRead(socket) <= st.readMark) ? 'connection' : 'request';
    const answer = () => {
      const inFlight = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
      // Its answer already complete (a hit written at once): it reaches the client, then the connection closes.
      if (brokenBody && inFlight?.writableEnded) {
        opts.onRefused({ error: err, of, sent: false, bodyBytes: 0 });
        (socket as Socket).destroySoon();
      } else if (brokenBody && inFlight?.headersSent) {
        opts.onRefused({ error: err, of, sent: false, bodyBytes: 0 });
        socket.destroy();
      } else if (brokenBody && left) {
        // Nobody to answer: a 400 written to the half-open socket was logged as sent and counted in bytesServed.
        opts.onRefused({ error: err, of, sent: false, bodyBytes: 0 });
        socket.destroy();
      } else if (brokenBody) {
        // The 400 is the answer to the request in flight: recorded as its outcome, not as another request.
        const response = inFlight?.req === st.last ? inFlight : undefined;
        rejectRaw(socket, err, opts.onRefused, of, response ? { response } : {});
      } else rejectRaw(socket, err, opts.onRefused, of, known);
    };
    st.waitFor = brokenBody ? 1 : 0;
    if (st.window.owed <= st.waitFor) answer();
    else st.afterPending = answer;
  };

  /**
   * Answer `err` on a connection that has no request being handled, and close it.
   * `partial`: the refusal is of a request begun (bytes of it read), else of the connection.
   */
  const shut = (socket: Socket, err: StrataError, partial = false): void => {
    const st = stateOf(socket);
    if (st.refused) return;
    st.refused = true;
    st.shut = true;
    logger.warn({ code: err.code, remote: socket.remoteAddress }, err.message);
    rejectRaw(socket, err, opts.onRefused, partial && bytesRead(socket) > st.readMark ? 'request' : 'connection');
  };

  // A kept-alive connection owing nothing that brings no request (only empty lines, say): 408 and closed.
  const idle = new KeepAliveIdleSweep({
    timeoutMs: () => limits.keepAliveTimeoutMs + limits.requestHeadersTimeoutMs,
    requestsWhileIdle: (socket) => {
      const st = conns.get(socket);
      return st === undefined || st.refused || st.window.owed > 0 ? undefined : st.requests;
    },
    onIdle: (socket) => shut(socket as Socket, new StrataError('REQUEST_TIMEOUT', `no request within ${limits.keepAliveTimeoutMs + limits.requestHeadersTimeoutMs} ms of the last answer (limits.keepAliveTimeoutMs + limits.requestHeadersTimeoutMs)`)),
  });

  const perClient = new ClientConnections(() => (opts.behindTls ? 0 : limits.maxConnectionsPerClient));
  const onConnection = (socket: Socket): void => {
    const tooMany = perClient.admit(socket);
    if (tooMany) {
      shut(socket, tooMany);
      return;
    }
    stalls.watch(socket);
    idle.watch(socket);
    const st = stateOf(socket);
    st.firstRequestTimer = setTimeout(() => {
      st.firstRequestTimer = undefined;
      shut(socket, new StrataError('REQUEST_TIMEOUT', `no complete request within ${limits.requestHeadersTimeoutMs} ms of connecting (limits.requestHeadersTimeoutMs)`), true);
    }, limits.requestHeadersTimeoutMs);
    socket.once('close', () => clearTimeout(st.firstRequestTimer));
  };

  const server = http.createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.requestHeadersTimeoutMs,
      // Node checks header timeouts only on this tick (30 s by default): a 3 s
      // timeout then answered slowloris connections after 30 s.
      connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(limits.requestHeadersTimeoutMs / 4))),
      requestTimeout: 0,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      requireHostHeader: false,
      insecureHTTPParser: false,
      joinDuplicateHeaders: false,
    },
    tracked,
  );
  server.on('connection', onConnection);
  // Expect: 100-continue: no 100 written here for a body; the handler writes it when it reads the body.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    continueIfBodiless(req, res);
    tracked(req, res);
  });
  // Any other Expect: left to node:http, it was a bare 417 with an empty body, neither
  // logged nor counted. The request path refuses it like any bad input (request-guard.ts).
  server.on('checkExpectation', tracked);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if (conns.get(socket)?.refused) return;
    // The request was already answered with a closing answer (the handler refused its
    // framing, or a hit went out to a client asking to close): its body's errors add nothing.
    // (Node marks an answer carrying "Connection: close" as its connection's last: _last.)
    const inFlight = (socket as { _httpMessage?: (ServerResponse & { _last?: boolean }) | null })._httpMessage;
    if (inFlight?.writableEnded && (inFlight._last === true || !inFlight.shouldKeepAlive)) {
      (socket as Socket).destroySoon();
      return;
    }
    const code = parserErrorCode(err.code);
    const e = new StrataError(code, code === 'HEADERS_TOO_LARGE' ? `request header section exceeds ${limits.maxHeaderBytes} bytes` : `${ERROR_HINT[code] ?? 'malformed request'} (${err.code ?? 'parse error'})`);
    logger.warn({ code: e.code, parser: err.code, remote: (socket as { remoteAddress?: string }).remoteAddress }, e.message);
    // HPE_INVALID_EOF_STATE: the client closed its side with a request unfinished.
    refuse(socket, e, {}, err.code === 'HPE_INVALID_EOF_STATE');
  });
  // CONNECT never reaches the request handler in Node; refuse it here.
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    logger.warn({ code: 'NOT_A_FORWARD_PROXY', target: req.url }, 'CONNECT refused');
    refuse(socket, new StrataError('NOT_A_FORWARD_PROXY', 'CONNECT is refused: Strata is a reverse proxy, not a tunnel'), { method: 'CONNECT', ...(req.url !== undefined ? { target: req.url } : {}) });
  });
  const setLimits = (next: LimitsConfig): void => {
    limits = next;
    // Read by Node for each new connection's parser and by its periodic header-timeout check.
    (server as { maxHeaderSize?: number }).maxHeaderSize = next.maxHeaderBytes;
    server.headersTimeout = next.requestHeadersTimeoutMs;
    server.keepAliveTimeout = next.keepAliveTimeoutMs;
  };
  return Object.assign(server, { setLimits });
}

