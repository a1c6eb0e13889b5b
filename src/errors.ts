// One catalog of Strata's error codes. Each code says who failed (source), which
// HTTP status a client sees, whether retrying the same request elsewhere is safe,
// and carries a message an operator can act on. CACHING.md lists the catalog; a
// unit test keeps the two in agreement.

export type ErrorSource = 'client' | 'origin' | 'store' | 'internal' | 'config';

export interface ErrorSpec {
  status: number;
  source: ErrorSource;
  retryable: boolean;
  /** One line for the docs (and the client body of an origin-side error that has no `client` text). */
  summary: string;
  /**
   * What a client is told of an origin-side failure. Details (the upstream's name
   * and address, the transport's error code) are for the operator's log only: an
   * internal address in an answer maps the network behind the proxy for anyone.
   */
  client?: string;
}

export const ERROR_CATALOG = {
  BAD_REQUEST: { status: 400, source: 'client', retryable: false, summary: 'malformed request' },
  MISSING_HOST: { status: 400, source: 'client', retryable: false, summary: 'request has no Host header' },
  AMBIGUOUS_LENGTH: { status: 400, source: 'client', retryable: false, summary: 'conflicting Content-Length / Transfer-Encoding' },
  URI_TOO_LONG: { status: 414, source: 'client', retryable: false, summary: 'request target exceeds the URL limit' },
  TOO_MANY_CONNECTIONS: { status: 429, source: 'client', retryable: true, summary: 'this client address holds too many open connections' },
  REQUEST_TIMEOUT: { status: 408, source: 'client', retryable: true, summary: 'the client did not send its request headers (or the next piece of its body) in time' },
  HEADERS_TOO_LARGE: { status: 431, source: 'client', retryable: false, summary: 'request header section exceeds the limit' },
  NOT_A_FORWARD_PROXY: { status: 403, source: 'client', retryable: false, summary: 'Strata is a reverse proxy; absolute-form requests for other hosts are refused' },
  METHOD_NOT_IMPLEMENTED: { status: 501, source: 'client', retryable: false, summary: 'method not supported by this proxy' },
  EXPECTATION_FAILED: { status: 417, source: 'client', retryable: false, summary: 'request Expect other than 100-continue: Strata meets no other expectation' },
  TRANSFER_CODING_NOT_IMPLEMENTED: { status: 501, source: 'client', retryable: false, summary: 'request Transfer-Encoding other than chunked alone (e.g. gzip, chunked): Strata decodes only chunked' },
  CLIENT_GONE: { status: 499, source: 'client', retryable: false, summary: 'the client went away before its origin fetch began (nothing is sent; nginx logs such requests as 499)' },
  ONLY_IF_CACHED_MISS: { status: 504, source: 'client', retryable: false, summary: 'only-if-cached: no stored response to satisfy the request' },
  UNAUTHORIZED: { status: 401, source: 'client', retryable: false, summary: 'missing or wrong admin token' },
  PURGE_DISABLED: { status: 403, source: 'config', retryable: false, summary: 'purging is off: no admin token is configured (admin.token)' },
  EXPLAIN_DISABLED: { status: 403, source: 'config', retryable: false, summary: 'explain is off: no admin token is configured (admin.token)' },
  ROUTING_DISABLED: { status: 403, source: 'config', retryable: false, summary: 'routing changes and drains are off: no admin token is configured (admin.token)' },
  RELOAD_DISABLED: { status: 403, source: 'config', retryable: false, summary: 'POST /reload is off: no admin token is configured (admin.token); SIGHUP still reloads' },
  RELOAD_REFUSED: { status: 422, source: 'config', retryable: false, summary: 'the re-read configuration is invalid; the running one stays' },
  PURGE_BAD_REQUEST: { status: 400, source: 'client', retryable: false, summary: 'purge request body is not valid JSON of the expected shape' },
  REQUEST_BODY_BUFFERS_FULL: { status: 503, source: 'internal', retryable: true, summary: "the node's request body buffers are full (limits.requestBodySpoolBudgetBytes); retry later" },
  PAYLOAD_TOO_LARGE: { status: 413, source: 'client', retryable: false, summary: 'request body exceeds the limit (limits.maxRequestBodyBytes; purge: 1 MiB)' },
  ADMIN_HOST_REFUSED: { status: 421, source: 'client', retryable: false, summary: 'the admin API answers only localhost, IP addresses and admin.hosts (DNS rebinding defence)' },
  NOT_FOUND: { status: 404, source: 'client', retryable: false, summary: 'no such admin resource' },
  MISDIRECTED_REQUEST: { status: 421, source: 'client', retryable: false, summary: 'no site of this node serves the requested Host' },
  NO_ROUTE: { status: 404, source: 'client', retryable: false, summary: 'no route of the site covers the request path' },
  UPSTREAMS_DRAINED: { status: 503, source: 'origin', retryable: true, summary: 'every upstream of the route is drained (deploy in progress)', client: 'service unavailable: the origin is not taking requests right now' },
  ROUTES_BAD_REQUEST: { status: 400, source: 'client', retryable: false, summary: 'routing admin request is not valid JSON of the expected shape' },
  FILTER_DENIED: { status: 403, source: 'client', retryable: false, summary: 'denied by a request filter rule (edge.filters); the message names the rule' },
  RATE_LIMITED: { status: 429, source: 'client', retryable: true, summary: 'this client exceeded its request rate (edge.rateLimit); retry after the Retry-After seconds' },
  AUTH_REQUIRED: { status: 401, source: 'client', retryable: false, summary: 'credentials missing or refused: the auth service answered 401, or no bearer token' },
  TOKEN_INVALID: { status: 401, source: 'client', retryable: false, summary: 'the bearer token does not verify (signature, issuer, audience, expiry); WWW-Authenticate says why' },
  AUTH_FORBIDDEN: { status: 403, source: 'client', retryable: false, summary: 'the auth service refused these credentials for this request (403)' },
  AUTH_REDIRECT: { status: 302, source: 'client', retryable: false, summary: 'the auth service redirected the client (to a login page); its status and Location are passed on' },
  AUTH_UNAVAILABLE: { status: 503, source: 'origin', retryable: true, summary: 'the auth service or JWKS did not answer usably; the edge fails closed' },
  ORIGIN_UNREACHABLE: { status: 502, source: 'origin', retryable: true, summary: 'origin is unreachable (connection refused, reset or DNS failure)', client: 'bad gateway: the origin could not be reached' },
  ORIGIN_BAD_RESPONSE: { status: 502, source: 'origin', retryable: false, summary: 'origin sent an invalid response', client: 'bad gateway: the origin sent an invalid response' },
  ORIGIN_BAD_ENCODING: { status: 502, source: 'origin', retryable: false, summary: "the origin's compressed body is corrupt; cut, not stored" },
  DECODED_TOO_LARGE: { status: 502, source: 'origin', retryable: false, summary: "the origin's compressed body decodes past compress.maxDecodedBytes; cut, not stored" },
  ORIGIN_TIMEOUT: { status: 504, source: 'origin', retryable: true, summary: 'origin did not answer in time', client: 'gateway timeout: the origin did not answer in time' },
  STORE_FAILED: { status: 500, source: 'store', retryable: true, summary: 'cache storage failed' },
  INTERNAL: { status: 500, source: 'internal', retryable: false, summary: 'internal error' },
  METRICS_FAILED: { status: 500, source: 'internal', retryable: true, summary: 'the metrics could not be collected (a collector failed)' },
  WORKER_UNREACHABLE: { status: 502, source: 'internal', retryable: true, summary: "a worker did not answer on its admin link" },
  WORKER_UNREADABLE: { status: 502, source: 'internal', retryable: true, summary: "a worker's admin answer could not be read" },
  CONFIG_INVALID: { status: 0, source: 'config', retryable: false, summary: 'invalid configuration value' },
  LISTEN_FAILED: { status: 0, source: 'config', retryable: false, summary: 'cannot listen on the configured address' },
  TLS_CERTIFICATE_INVALID: { status: 0, source: 'config', retryable: false, summary: 'a TLS certificate or key file cannot be read, is not PEM, or the key does not match the certificate' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export class StrataError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly source: ErrorSource;
  readonly retryable: boolean;
  /** The upstream (or `peer <id>`) that failed, for the log and the access line; never sent to a client. */
  upstream?: string;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    const spec: ErrorSpec = ERROR_CATALOG[code];
    super(message ?? spec.summary, options);
    this.name = 'StrataError';
    this.code = code;
    this.status = spec.status;
    this.source = spec.source;
    this.retryable = spec.retryable;
  }

  /** The text a client's error body carries (clientMessageOf). */
  get clientMessage(): string {
    return clientMessageOf(this.code, this.message);
  }
}

/**
 * The text a client's error body carries for `code`: the operator's `message` for
 * client- and config-side errors (they describe the client's own request), the
 * catalog's fixed line for origin-, store- and internal ones (their message names
 * upstreams, addresses, files and causes: the log's, not the client's).
 */
export function clientMessageOf(code: ErrorCode, message: string): string {
  const spec: ErrorSpec = ERROR_CATALOG[code];
  return spec.source === 'client' || spec.source === 'config' ? message : spec.client ?? spec.summary;
}

export function isStrataError(err: unknown): err is StrataError {
  return err instanceof StrataError;
}
