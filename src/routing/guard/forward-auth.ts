// Forward-auth (nginx auth_request style): before a request is served, the auth
// service is asked with the client's credentials and a description of the
// request. 2xx: allowed, with the identity fields it returned; 401/403: refused
// (WWW-Authenticate passed on); a redirect (301, 302, 303, 307, 308 with
// Location): the client is sent where it says (a login page). Anything else, or
// no answer in time: unavailable — the guard fails closed.
//
// Decisions (allow and deny, never a failure) are remembered for a short TTL in a
// bounded LRU, keyed by a digest of what the service is asked with — Host,
// scheme, client address, the credential fields and, by default, the method and
// path — so that one client's answer is never another's and the memory held per
// entry does not grow with a client's cookie size. Concurrent requests with the
// same key share one question. Under cacheKey credentials (no path in the key) a
// request without credentials is never remembered (every anonymous client would
// share one answer), nor is a redirect.

import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { Agent, request, type Dispatcher } from 'undici';
import type { HeaderMap } from '../../http/headers.js';
import type { Clock } from '../../util/clock.js';
import type { GuardRequest } from './guard.js';
import { withoutPassword } from '../../config/kinds.js';

export interface ForwardAuthRules {
  url: string;
  requestFields: readonly string[];
  identityFields: readonly string[];
  timeoutMs: number;
  cacheTtlMs: number;
  cacheMaxEntries: number;
  cacheKey: 'credentials' | 'credentials-and-path';
}

/** What the auth service is asked about: the request as the guard sees it. */
export type AuthQuestion = GuardRequest;

export type AuthDecision =
  | { kind: 'allow'; identity: HeaderMap }
  | { kind: 'deny'; status: number; headers: string[] }
  | { kind: 'unavailable'; reason: string };

/** Fields of a refusal passed to the client: the challenge, and where a redirect goes. */
const DENY_FIELDS = ['www-authenticate', 'location'];
/**
 * The 3xx an auth service may send a client elsewhere with (RFC 9110 §15.4). Not 304 (no
 * body: Strata's refusal has one), 300, 305 or 306: not answers to pass on; they fail closed.
 */
const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** Connections to the auth service at most. */
const MAX_CONNECTIONS = 128;
/** Answer bodies are discarded; past this much the connection is dropped rather than read. */
const MAX_DISCARD_BYTES = 64 * 1024;

interface Remembered {
  decision: AuthDecision;
  untilMs: number;
}

export class ForwardAuth {
  private readonly agent: Agent;
  private readonly remembered: LRUCache<string, Remembered> | undefined;
  private readonly asking = new Map<string, Promise<AuthDecision>>();

  constructor(
    private readonly rules: ForwardAuthRules,
    private readonly clock: Clock,
  ) {
    // Connections bounded: a flood of questions queues (each within timeoutMs) rather than opening a socket each.
    this.agent = new Agent({ connections: MAX_CONNECTIONS, connectTimeout: rules.timeoutMs, headersTimeout: rules.timeoutMs, bodyTimeout: rules.timeoutMs, keepAliveTimeout: 10_000 });
    this.remembered = rules.cacheTtlMs > 0 ? new LRUCache({ max: rules.cacheMaxEntries }) : undefined;
  }

  /**
   * The decision for this request: remembered, shared with a question in flight, or
   * asked now. A request carrying none of the fields the service is sent has no
   * credential to remember a decision by: under cacheKey credentials (one decision
   * for every path) it is asked alone, every time; keyed by path, its key names its
   * address and path, so it is remembered like any other.
   */
  check(q: AuthQuestion): AuthDecision | Promise<AuthDecision> {
    if (this.rules.cacheKey === 'credentials' && !this.rules.requestFields.some((f) => q.headers[f] !== undefined)) return this.ask(q);
    const key = this.keyOf(q);
    const r = this.remembered?.get(key);
    if (r) {
      if (r.untilMs > this.clock.now()) return r.decision;
      this.remembered!.delete(key);
    }
    let p = this.asking.get(key);
    if (!p) {
      p = this.ask(q).then((d) => {
        this.asking.delete(key);
        if (this.mayRemember(d)) this.remembered?.set(key, { decision: d, untilMs: this.clock.now() + this.rules.cacheTtlMs });
        return d;
      });
      this.asking.set(key, p);
    }
    return p;
  }

  /** Never a failure; a redirect only when keyed by path (its Location often names the page asked for). */
  private mayRemember(d: AuthDecision): boolean {
    if (d.kind === 'unavailable') return false;
    return d.kind === 'allow' || d.status === 401 || d.status === 403 || this.rules.cacheKey === 'credentials-and-path';
  }

  /** Everything the service is sent that the rules let its answer depend on (the method and path only when keyed by path). */
  private keyOf(q: AuthQuestion): string {
    const h = createHash('sha256');
    h.update(`${q.host.toLowerCase()}\0${q.scheme}\0${q.clientAddress}`);
    for (const f of this.rules.requestFields) h.update(`\0${f}\0${q.headers[f] ?? '\u0001'}`);
    if (this.rules.cacheKey === 'credentials-and-path') h.update(`\0${q.method}\0${q.target}`);
    return h.digest('base64');
  }

  private async ask(q: AuthQuestion): Promise<AuthDecision> {
    const headers: Record<string, string> = {};
    for (const f of this.rules.requestFields) {
      const v = q.headers[f];
      if (v !== undefined) headers[f] = v;
    }
    Object.assign(headers, {
      'x-original-method': q.method,
      'x-original-uri': q.target,
      'x-forwarded-method': q.method,
      'x-forwarded-uri': q.target,
      'x-forwarded-host': q.host,
      'x-forwarded-proto': q.scheme,
      'x-forwarded-for': q.clientAddress,
    });
    let res: Dispatcher.ResponseData;
    try {
      res = await request(this.rules.url, { method: 'GET', headers, dispatcher: this.agent, signal: AbortSignal.timeout(this.rules.timeoutMs) });
    } catch (err) {
      return { kind: 'unavailable', reason: `auth service ${withoutPassword(this.rules.url)} did not answer (${describe(err)})` };
    }
    const status = res.statusCode;
    await discard(res.body);
    if (status >= 200 && status < 300) {
      const identity: HeaderMap = {};
      for (const f of this.rules.identityFields) {
        const v = res.headers[f];
        if (v !== undefined) identity[f] = Array.isArray(v) ? v.join(', ') : v;
      }
      return { kind: 'allow', identity };
    }
    if (status === 401 || status === 403 || (REDIRECTS.has(status) && res.headers['location'] !== undefined)) {
      const pass: string[] = [];
      for (const f of DENY_FIELDS) {
        const v = res.headers[f];
        if (v === undefined) continue;
        for (const one of Array.isArray(v) ? v : [v]) pass.push(f, one);
      }
      return { kind: 'deny', status, headers: pass };
    }
    return { kind: 'unavailable', reason: `auth service ${withoutPassword(this.rules.url)} answered ${status} (expected 2xx, 401, 403 or a redirect)` };
  }

  get rememberedCount(): number {
    return this.remembered?.size ?? 0;
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

function describe(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timed out';
  return e.code ?? e.cause?.code ?? e.message ?? String(err);
}

async function discard(body: Dispatcher.ResponseData['body']): Promise<void> {
  let n = 0;
  try {
    for await (const chunk of body) {
      n += (chunk as Buffer).length;
      if (n > MAX_DISCARD_BYTES) {
        body.destroy();
        return;
      }
    }
  } catch {
    // The decision is in the status line; a body cut short changes nothing.
  }
}
