// One origin reached through an undici Pool: connect, header and body timeouts
// on every request, and transport failures mapped to StrataErrors (502 when the
// origin is unreachable, 504 when it is too slow). Balancing across several
// upstreams arrives with the balancer; callers only see `request()`.

import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import { StrataError } from '../errors.js';
import type { OriginConfig } from '../config/types.js';
import { fromUndici, type HeaderMap } from '../http/headers.js';

export interface OriginRequest {
  method: string;
  /** Origin-form target (path + query) as received from the client. */
  target: string;
  headers: HeaderMap;
  body?: Readable | null;
  signal?: AbortSignal;
}

export interface OriginResponse {
  status: number;
  headers: HeaderMap;
  body: Readable;
  /** Which upstream answered (for logs). */
  upstream: string;
}

export class OriginClient {
  private readonly pool: Pool;
  private readonly pathPrefix: string;
  readonly name: string;
  readonly host: string;

  constructor(cfg: OriginConfig) {
    const url = new URL(cfg.url);
    this.pathPrefix = url.pathname.replace(/\/+$/, '');
    this.name = url.origin;
    this.host = url.host;
    this.pool = new Pool(url.origin, {
      connections: cfg.maxConnections,
      connectTimeout: cfg.connectTimeoutMs,
      headersTimeout: cfg.headersTimeoutMs,
      bodyTimeout: cfg.bodyTimeoutMs,
      keepAliveTimeout: 4_000,
    });
  }

  async request(req: OriginRequest): Promise<OriginResponse> {
    const opts: Dispatcher.RequestOptions = {
      method: req.method as Dispatcher.HttpMethod,
      path: this.pathPrefix + req.target,
      headers: req.headers,
      body: req.body ?? null,
      signal: req.signal,
    };
    try {
      const res = await this.pool.request(opts);
      return { status: res.statusCode, headers: fromUndici(res.headers), body: res.body, upstream: this.name };
    } catch (err) {
      throw originError(err, this.name);
    }
  }

  /** Graceful: let requests in flight finish. Otherwise abort them at once. */
  async close(graceful = true): Promise<void> {
    await (graceful ? this.pool.close() : this.pool.destroy());
  }
}

/** Map a transport failure to a StrataError naming the origin and the cause. */
export function originError(err: unknown, origin: string): StrataError {
  if (err instanceof StrataError) return err;
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
  if (err instanceof undiciErrors.HTTPParserError || code === 'HPE_INVALID_CONSTANT') {
    return new StrataError('ORIGIN_BAD_RESPONSE', `origin ${origin} sent an invalid response (${cause})`, { cause: err });
  }
  return new StrataError('ORIGIN_UNREACHABLE', `origin ${origin} is unreachable (${code || cause})`, { cause: err });
}
