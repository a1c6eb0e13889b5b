// What the pipeline sees of the origin side: `request()` answers with the first
// response of some healthy upstream (or throws a StrataError: 502 when every
// attempt found the upstream unreachable, 504 when it was too slow), plus the
// Host the site is known by and a snapshot for /stats. How an upstream is chosen,
// checked and retried lives behind this interface, in pool.ts.

import { errors as undiciErrors } from 'undici';
import type { Readable } from 'node:stream';
import { StrataError } from '../errors.js';
import type { HeaderMap } from '../http/headers.js';
import type { CancelSignal } from '../util/cancel-signal.js';

export interface OriginRequest {
  method: string;
  /** Origin-form target (path + query) as received from the client. */
  target: string;
  headers: HeaderMap;
  body?: Readable | Buffer | null;
  signal?: CancelSignal;
  /** The cache key: consistent-hash gives each object a home upstream by it. */
  key?: string;
  /** Interim (1xx) responses the origin sends before the final one (103 Early Hints, 102). */
  onInterim?: (status: number, headers: HeaderMap) => void;
}

export interface OriginResponse {
  status: number;
  headers: HeaderMap;
  body: Readable;
  /** Which upstream answered (for logs). */
  upstream: string;
  /** Set when a peer of the cluster answered (its node id): the response is an edge copy here. */
  peer?: string;
  /** A peer answered from a copy it had soft-purged, at this instant or later (this node's clock): what is kept of it is too. */
  softPurgedAtMs?: number;
  /**
   * `cb` runs if the connection that carried this response later proves to carry
   * bytes nobody asked for (an unsolicited or late response) soon after this
   * response ended: this response may itself have been such bytes (origin/connection-trust.ts).
   */
  onDistrust?: (cb: () => void) => void;
}

export interface OriginClient {
  request(req: OriginRequest): Promise<OriginResponse>;
  /** The site's host (the first upstream's), sent as Host and used when a client sends none. */
  readonly host: string;
  /** For logs: the upstreams, comma-separated. */
  readonly name: string;
  /** Graceful: let requests in flight finish. Otherwise abort them at once. */
  close(graceful?: boolean): Promise<void>;
  /** JSON for /stats. */
  stats(): unknown;
}

/**
 * Map a transport failure to a StrataError naming the origin and the cause. The
 * message is for the operator's log; a client sees only `clientMessage`.
 */
export function originError(err: unknown, origin: string): StrataError {
  if (err instanceof StrataError) return err;
  const e = transportError(err, origin);
  e.upstream = origin;
  return e;
}

function transportError(err: unknown, origin: string): StrataError {
  const code = (err as { code?: string }).code ?? '';
  const cause = (err as Error).message ?? String(err);
  if (
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.ConnectTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    code === 'ETIMEDOUT'
  ) {
    return new StrataError('ORIGIN_TIMEOUT', `origin ${origin} did not answer in time (${cause})`, { cause: err });
  }
  // A response that breaks HTTP/1.1 (status line, field syntax, framing): the origin
  // answered, wrongly; that is not an unreachable origin.
  if (err instanceof undiciErrors.HTTPParserError || code.startsWith('HPE_') || err instanceof undiciErrors.ResponseContentLengthMismatchError || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
    return new StrataError('ORIGIN_BAD_RESPONSE', `origin ${origin} sent an invalid response (${cause})`, { cause: err });
  }
  return new StrataError('ORIGIN_UNREACHABLE', `origin ${origin} is unreachable (${code || cause})`, { cause: err });
}

// Failures where the upstream cannot have begun answering: the connection was
// never made, or was reset before a response byte. A headers timeout is not
// here on purpose: the upstream may be working on the request, and resending a
// slow request to the next upstream multiplies the load on a struggling pool.
const BEFORE_RESPONSE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** May the request be sent again elsewhere (given it is idempotent and has no body)? */
export function failedBeforeResponse(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code !== undefined && BEFORE_RESPONSE.has(code);
}

/** How a transport failure reads in logs and health transitions. */
export function failureReason(err: unknown): string {
  const e = err as { code?: string; message?: string } | null;
  return e?.code ?? e?.message ?? String(err);
}

/** Errors that say the upstream broke the body, not that our side gave up on it. */
const BODY_FAILURES = new Set(['UND_ERR_BODY_TIMEOUT', 'UND_ERR_SOCKET', 'ECONNRESET', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH']);

/**
 * How an answer's request counts for its upstream's (or peer's) health: a success once its
 * body is whole (at once without content: it is whole with its headers, a Content-Length
 * mismatch then no failure), a failure when the upstream broke it. Headers are no success
 * yet: an upstream that reset every body after them reset its failures in a row with each
 * answer's headers and was never ejected. A body our side gave up on decides nothing.
 */
export function healthByBody(body: Readable, noContent: boolean, health: { success(): void; failure(reason: string): void }): void {
  if (noContent) return health.success();
  body.once('end', () => health.success());
  body.once('error', (err: Error & { code?: string }) => {
    if (err.code !== undefined && BODY_FAILURES.has(err.code)) health.failure(`body: ${err.code}`);
  });
}
