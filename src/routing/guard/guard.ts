// The edge guard: one GuardRules (config group `edge`, or a route's own rules over it)
// compiled into one per-request call, check(request) → pass | refusal,
// run before the cache key and look-up, so nothing — a cache hit included — is
// served to a request the rules refuse. Stages in order, cheapest first and the
// auth service last, so filtered and over-rate clients never reach it:
//
//   filters (403) → rate limit (429) → forward-auth (401/403/redirect, 503) → JWT (401, 503)
//
// Also the response-field filter (hideResponseFields), which deliver applies to
// hits and misses alike.
//
// Invariants: a pass names the request fields the origin must get from the edge
// (identity, claims) and the credential fields the edge checked; the fields the
// guard sets are always removed from the client's request first (strippedFields),
// so a client can never supply its own identity. Synchronous unless an auth stage
// has to wait (forward-auth not remembered, JWT not remembered).
//
// Per route: one Guard per rule set, assembled by GuardSet (./guard-set.ts), which
// hands each Guard its stateful stages (rate buckets, remembered decisions and
// tokens) through GuardDeps.reuse, so stages a route inherits from `edge` share
// the node-wide state, and a reload keeps a stage whose rules did not change.
// hiddenResponseFields is applied through deliver's hiddenFields; a route with
// its own list gets its own DeliverOptions (pipeline/route-path.ts).

import { createHash } from 'node:crypto';
import type { EdgeConfig } from '../../config/types.js';
import { StrataError, type ErrorCode } from '../../errors.js';
import type { HeaderMap } from '../../http/headers.js';
import type { Clock } from '../../util/clock.js';
import { RequestFilter } from './filters.js';
import { ForwardAuth } from './forward-auth.js';
import { JwtCheck } from './jwt.js';
import { GuardConfigError } from './config-error.js';
import { RateLimiter } from './rate-limit.js';

/** What a node (or a route) enforces at the edge: the shape of config group `edge`. */
export type GuardRules = EdgeConfig;

export interface GuardRequest {
  method: string;
  /** Origin-form target, dot segments removed. */
  target: string;
  host: string;
  scheme: string;
  headers: HeaderMap;
  clientAddress: string;
  /** The route's site matches paths ignoring case (caseInsensitivePaths): filters do too. Absent: as written. */
  caseInsensitivePaths?: boolean;
}

export interface GuardPass {
  pass: true;
  /** Request fields the origin gets from the edge (identity from forward-auth, claims). */
  add: HeaderMap | undefined;
  /** Credential fields the edge checked (kept out of the cache's view under publicAfterAuth). */
  checked: readonly string[];
}

export interface GuardRefusal {
  pass: false;
  status: number;
  code: ErrorCode;
  message: string;
  /** Raw field pairs for the answer (WWW-Authenticate, Retry-After, Location). */
  headers: string[];
  /** The filter rule that denied the request. */
  rule?: string;
}

export type GuardVerdict = GuardPass | GuardRefusal;

export interface GuardDeps {
  clock: Clock;
  /** Reads static JWT key files, when the guard is built (GuardSet reads each once per build). */
  readFile: (path: string) => string;
  /** Where the rules were written, for errors ("edge", "sites.shop.routes.api.guard"); default "edge". */
  keyPrefix?: string;
  /**
   * The stateful stage for `stage`'s rules: an existing one when the owner of
   * these rules already has one for equal rules (GuardSet), else make(). Default: make().
   */
  reuse?: <T>(stage: StatefulStage, rules: unknown, make: () => T) => T;
}

export type StatefulStage = 'rateLimit' | 'forwardAuth' | 'jwt';

const PASS: GuardPass = { pass: true, add: undefined, checked: [] };

/** Fields the guard must never set on a request: framing, routing and connection fields. */
const UNSETTABLE_FIELDS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect', 'via', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);

function checkSettable(key: string, fields: Iterable<string>): void {
  for (const f of fields) {
    if (UNSETTABLE_FIELDS.has(f)) throw new GuardConfigError(`${key}: ${JSON.stringify(f)} cannot be set from the edge (expected identity fields such as x-auth-user, not framing or forwarding fields)`);
  }
}

/**
 * The request fields that make an answer a client's own in the cache's eyes
 * (RFC 9111 §3.5; Cookie by Strata's storing rules). Other fields the auth service
 * is sent (an API key, Accept-Language) stay in the cache's view: a response that
 * varies on them keeps its variants.
 */
export const CREDENTIAL_FIELDS: ReadonlySet<string> = new Set(['authorization', 'cookie', 'proxy-authorization']);

/** RFC 6750 §3: the challenge; a request without a token gets no error code (§3.1). */
function bearerChallenge(error?: string, description?: string): string {
  let v = 'Bearer realm="strata"';
  if (error) v += `, error="${error}"`;
  if (description) v += `, error_description="${description.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '?').slice(0, 200)}"`;
  return v;
}

/** A CORS preflight (Fetch standard §3.2.2): browsers send it without credentials. */
function isPreflight(req: GuardRequest): boolean {
  return req.method === 'OPTIONS' && req.headers['origin'] !== undefined && req.headers['access-control-request-method'] !== undefined;
}

function refusal(code: ErrorCode, message: string, headers: string[] = [], status?: number): GuardRefusal {
  return { pass: false, status: status ?? new StrataError(code).status, code, message, headers };
}

/**
 * What the JWT stage's keys are now: a digest of every key file's contents (or of
 * why it cannot be read). Part of the stage's identity, so a reload that finds a
 * key withdrawn from its file builds a new stage instead of keeping the old keys.
 */
function keyFilesDigest(files: readonly string[], readFile: (path: string) => string): string {
  const h = createHash('sha256');
  for (const f of files) {
    let text: string;
    try {
      text = readFile(f);
    } catch (err) {
      text = `\0unreadable: ${(err as Error).message}`;
    }
    h.update(f).update('\0').update(text).update('\0');
  }
  return h.digest('base64url');
}

/** The JWT stage; its key-file errors name the key where the rules were written. */
function jwtCheck(rules: GuardRules['jwt'], deps: GuardDeps, at: string): JwtCheck {
  try {
    return new JwtCheck(rules, deps.clock, deps.readFile);
  } catch (err) {
    if (err instanceof GuardConfigError && at !== 'edge') throw new GuardConfigError(err.message.replace(/^edge\./, `${at}.`));
    throw err;
  }
}

export class Guard {
  /** Whether any request stage is on; when not, the pipeline skips check() entirely. */
  readonly active: boolean;
  /** Request fields the guard sets for the origin: a client's own copies are removed. */
  readonly strippedFields: ReadonlySet<string>;
  /** Response fields never sent to clients. */
  readonly hiddenResponseFields: ReadonlySet<string>;
  readonly publicAfterAuth: boolean;
  private readonly skipAuthPreflight: boolean;
  private readonly filter: RequestFilter;
  private readonly limiter: RateLimiter | undefined;
  private readonly forwardAuth: ForwardAuth | undefined;
  private readonly jwt: JwtCheck | undefined;
  /** Credential fields (CREDENTIAL_FIELDS) the auth stages read. */
  private readonly credentialFields: readonly string[];
  /** Every request field the auth stages read from the client (forward-auth's requestFields, JWT's). */
  readonly readFields: ReadonlySet<string>;
  /**
   * Who judges the rate limit's field (by header), so that a request the auth passed
   * vouches for its value: forward-auth when it sends the field to the auth service,
   * JWT when the field is Authorization and carried the token. Otherwise the value is
   * never believed (a token holder could invent one per request) and the address pays.
   */
  private readonly fieldJudgedBy: { forwardAuth: boolean; bearer: boolean };

  constructor(rules: GuardRules, deps: GuardDeps) {
    const at = deps.keyPrefix ?? 'edge';
    const reuse = deps.reuse ?? (<T>(_stage: StatefulStage, _rules: unknown, make: () => T): T => make());
    checkSettable(`${at}.forwardAuth.identityFields`, rules.forwardAuth.identityFields);
    checkSettable(`${at}.jwt.claimFields`, Object.values(rules.jwt.claimFields));
    if (rules.rateLimit.requestsPerS > 0 && rules.rateLimit.by === 'header' && rules.rateLimit.header === '') {
      throw new GuardConfigError(`${at}.rateLimit.header: empty while ${at}.rateLimit.by is header (expected the request field naming the client, e.g. x-api-key)`);
    }
    this.filter = new RequestFilter(rules.filters);
    this.limiter = rules.rateLimit.requestsPerS > 0 ? reuse('rateLimit', rules.rateLimit, () => new RateLimiter(rules.rateLimit, deps.clock)) : undefined;
    this.forwardAuth = rules.forwardAuth.url !== '' ? reuse('forwardAuth', rules.forwardAuth, () => new ForwardAuth(rules.forwardAuth, deps.clock)) : undefined;
    this.jwt =
      rules.jwt.jwksUrl !== '' || rules.jwt.keyFiles.length > 0
        ? reuse('jwt', { ...rules.jwt, keyFilesDigest: keyFilesDigest(rules.jwt.keyFiles, deps.readFile) }, () => jwtCheck(rules.jwt, deps, at))
        : undefined;
    this.active = !this.filter.empty || this.limiter !== undefined || this.forwardAuth !== undefined || this.jwt !== undefined;
    this.strippedFields = new Set([...(this.forwardAuth ? rules.forwardAuth.identityFields : []), ...(this.jwt ? Object.values(rules.jwt.claimFields) : [])]);
    this.hiddenResponseFields = new Set(rules.hideResponseFields);
    this.publicAfterAuth = rules.publicAfterAuth;
    this.skipAuthPreflight = rules.skipAuthPreflight;
    const creds = new Set<string>(this.forwardAuth ? rules.forwardAuth.requestFields : []);
    if (this.jwt) {
      creds.add('authorization');
      if (rules.jwt.cookie !== '') creds.add('cookie');
    }
    this.credentialFields = [...creds].filter((f) => CREDENTIAL_FIELDS.has(f));
    this.readFields = creds;
    const field = this.limiter && rules.rateLimit.by === 'header' ? rules.rateLimit.header : '';
    this.fieldJudgedBy = {
      forwardAuth: field !== '' && this.forwardAuth !== undefined && rules.forwardAuth.requestFields.includes(field),
      bearer: field === 'authorization' && this.jwt !== undefined,
    };
  }

  /** The one per-request call: pass (with what to add for the origin) or the refusal to answer. */
  check(req: GuardRequest): GuardVerdict | Promise<GuardVerdict> {
    const rule = this.filter.empty ? undefined : this.filter.deniedBy(req);
    if (rule !== undefined) return { ...refusal('FILTER_DENIED', `request denied by filter rule "${rule}"`), rule };
    // The field's digest once per request: the rate limit takes by it here and the auth vouches for it below.
    const rateClient = this.limiter?.clientKey(req.headers);
    if (this.limiter) {
      const r = this.limiter.takeFor(req.clientAddress, rateClient, !this.forwardAuth && !this.jwt);
      if (!r.ok) return refusal('RATE_LIMITED', `request rate limit exceeded; retry after ${r.retryAfterS} s`, ['retry-after', String(r.retryAfterS)]);
    }
    // PURGE carries the admin token in Authorization and is checked by the purge module.
    if (req.method === 'PURGE' || (!this.forwardAuth && !this.jwt) || (this.skipAuthPreflight && isPreflight(req))) return PASS;
    return this.authorise(req, rateClient);
  }

  /** `rateClient`: the rate limit's key for the request's field value (RateLimiter.clientKey). */
  private async authorise(req: GuardRequest, rateClient: string | undefined): Promise<GuardVerdict> {
    let add: HeaderMap | undefined;
    if (this.forwardAuth) {
      const d = await this.forwardAuth.check(req);
      if (d.kind === 'unavailable') return refusal('AUTH_UNAVAILABLE', d.reason);
      if (d.kind === 'deny') {
        const code: ErrorCode = d.status === 401 ? 'AUTH_REQUIRED' : d.status === 403 ? 'AUTH_FORBIDDEN' : 'AUTH_REDIRECT';
        return refusal(code, `the auth service answered ${d.status}`, d.headers, d.status);
      }
      if (Object.keys(d.identity).length) add = d.identity;
    }
    if (this.jwt) {
      const v = await this.jwt.verify(req.headers);
      if (v.kind === 'missing') return refusal('AUTH_REQUIRED', 'a bearer token is required', ['www-authenticate', bearerChallenge()]);
      if (v.kind === 'invalid') return refusal('TOKEN_INVALID', `bearer token refused: ${v.reason}`, ['www-authenticate', bearerChallenge('invalid_token', v.reason)]);
      if (v.kind === 'unavailable') return refusal('AUTH_UNAVAILABLE', v.reason);
      const claims = this.jwt.claimFields(v.claims);
      if (Object.keys(claims).length) add = { ...add, ...claims };
    }
    // Passed: the rate limit may believe this request's client field from now on, if an auth stage judged its value.
    if (this.fieldJudgedBy.forwardAuth || (this.fieldJudgedBy.bearer && this.jwt!.bearerOf(req.headers) !== undefined)) this.limiter?.vouch(rateClient);
    return { pass: true, add, checked: this.credentialFields.filter((f) => req.headers[f] !== undefined) };
  }

  /** Response fields as clients may see them (hideResponseFields removed). */
  filterResponseFields(headers: HeaderMap): HeaderMap {
    const out: HeaderMap = {};
    for (const name in headers) if (!this.hiddenResponseFields.has(name)) out[name] = headers[name]!;
    return out;
  }

  /** What the guard holds, for /stats: remembered forward-auth decisions and verified tokens, rate buckets. */
  figures(): { rememberedDecisions: number; rememberedTokens: number; rateBuckets: number } {
    return { rememberedDecisions: this.forwardAuth?.rememberedCount ?? 0, rememberedTokens: this.jwt?.rememberedCount ?? 0, rateBuckets: this.limiter?.size ?? 0 };
  }

  async close(): Promise<void> {
    await this.forwardAuth?.close();
  }
}
