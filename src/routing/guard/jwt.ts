// Bearer token (JWT) checking with jose: signature against static keys (PEM
// public keys or certificates, JWK / JWKS files) and/or a remote JWKS (jose's
// createRemoteJWKSet: fetched on an unknown key id, kept for jwksCacheS), then
// issuer, audience, expiry and not-before with a clock skew, on this node's
// (injected) clock. "none" is never accepted (jose refuses it).
//
// The token is Authorization's bearer, else the cookie jwt.cookie. No token an
// origin might read in those places goes unchecked: that cookie sent more than once
// with different values is invalid (a name percent-encoded counts, as PHP and Rack
// decode names), since origins disagree on which one counts (Django the last, PHP
// the first); beside a bearer token, the cookie must verify too.
//
// Outcomes: missing (no token), invalid (a token that does not verify, with the
// reason for error_description, RFC 6750 §3.1), unavailable (the JWKS could not
// be fetched: the guard fails closed), or the verified claims.
//
// A verified token is remembered (by the SHA-256 of its canonical spelling,
// jws-form.ts: the spellings of one signature are one entry, in a bounded LRU)
// until it expires or for REMEMBER_MS at most, so a client's every request does
// not pay a signature check (~0.1-0.2 ms for ES256/RS256): its expiry is still
// checked against the clock on every use. Refusals are not remembered.

import { createHash, createPublicKey, createSecretKey, X509Certificate, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { createRemoteJWKSet, JWK, JWTPayload, JWTVerifyOptions, KeyInput } from 'jose';
import type { HeaderMap } from '../../http/headers.js';
import { cookieOccurrences } from '../../http/cookies.js';
import type { Clock } from '../../util/clock.js';
import { GuardConfigError } from './config-error.js';
import { canonicalJws } from './jws-form.js';
import { withoutPassword } from '../../config/kinds.js';

export interface JwtRules {
  jwksUrl: string;
  keyFiles: readonly string[];
  issuer: string;
  audience: readonly string[];
  algorithms: readonly string[];
  clockSkewS: number;
  acceptWithoutExpiry: boolean;
  cookie: string;
  claimFields: Readonly<Record<string, string>>;
  jwksCacheS: number;
  jwksTimeoutMs: number;
}

export type TokenVerdict =
  | { kind: 'valid'; claims: JWTPayload }
  | { kind: 'missing' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'unavailable'; reason: string };

interface StaticKey {
  kty: string;
  kid?: string;
  key: KeyInput;
  file: string;
}

/** cookieToken: the token cookie is sent more than once with different values. */
const AMBIGUOUS = Symbol('ambiguous token cookie');

/** How long a verified token is trusted without checking its signature again, at most. */
const REMEMBER_MS = 60_000;
/** Verified tokens remembered at most (~1 KiB each with their claims). */
const REMEMBER_MAX = 10_000;

/** jose errors that say the token is bad (anything else from a remote JWKS says the JWKS is unusable). */
const TOKEN_FAULTS = new Set([
  'ERR_JWT_EXPIRED',
  'ERR_JWT_CLAIM_VALIDATION_FAILED',
  'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  'ERR_JWS_INVALID',
  'ERR_JWT_INVALID',
  'ERR_JOSE_ALG_NOT_ALLOWED',
  'ERR_JOSE_NOT_SUPPORTED',
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWKS_MULTIPLE_MATCHING_KEYS',
]);

/** Key type a JWS algorithm needs (RFC 7518 §3.1, RFC 8037). */
function ktyOf(alg: string | undefined): string | undefined {
  if (!alg) return undefined;
  if (alg.startsWith('HS')) return 'oct';
  if (alg.startsWith('RS') || alg.startsWith('PS')) return 'RSA';
  if (alg.startsWith('ES')) return 'EC';
  if (alg === 'EdDSA' || alg === 'Ed25519') return 'OKP';
  return undefined;
}

function ktyOfKeyObject(k: KeyObject): string {
  if (k.type === 'secret') return 'oct';
  const t = k.asymmetricKeyType;
  return t === 'rsa' || t === 'rsa-pss' ? 'RSA' : t === 'ec' ? 'EC' : 'OKP';
}

/** Thrown while loading keys; the message names the file and what was expected. */
export class KeyFileError extends Error {}

function fromJwk(jwk: JWK & { d?: string }, file: string): StaticKey {
  if (jwk.d !== undefined) throw new KeyFileError(`${file}: holds a private key (expected public keys only; never give the edge a signing key)`);
  if (jwk.kty === 'oct') {
    if (!jwk.k) throw new KeyFileError(`${file}: "oct" JWK without k`);
    return { kty: 'oct', ...(jwk.kid ? { kid: jwk.kid } : {}), key: createSecretKey(Buffer.from(jwk.k, 'base64url')), file };
  }
  try {
    const key = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    return { kty: ktyOfKeyObject(key), ...(jwk.kid ? { kid: jwk.kid } : {}), key, file };
  } catch (err) {
    throw new KeyFileError(`${file}: not a usable JWK (${(err as Error).message})`);
  }
}

/** Keys from one file's text: PEM public key or certificate, a JWK, or a JWKS. */
export function parseKeyFile(file: string, text: string): StaticKey[] {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) throw new KeyFileError(`${file}: is a private key (expected the public key or certificate)`);
  if (text.includes('-----BEGIN CERTIFICATE-----')) {
    const key = new X509Certificate(text).publicKey;
    return [{ kty: ktyOfKeyObject(key), key, file }];
  }
  if (text.includes('-----BEGIN')) {
    try {
      const key = createPublicKey(text);
      return [{ kty: ktyOfKeyObject(key), key, file }];
    } catch (err) {
      throw new KeyFileError(`${file}: not a PEM public key (${(err as Error).message})`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new KeyFileError(`${file}: neither PEM nor JSON (expected a PEM public key or certificate, a JWK or a JWKS)`);
  }
  const keys = (json as { keys?: unknown }).keys;
  if (Array.isArray(keys)) return keys.map((k) => fromJwk(k as JWK, file));
  return [fromJwk(json as JWK, file)];
}

export class JwtCheck {
  private readonly staticKeys: StaticKey[];
  private remote: ReturnType<typeof createRemoteJWKSet> | undefined;
  /** jose (~0.1 s of CPU to load, ESM only) is loaded by a node that checks tokens, from its start. */
  private readonly jose = import('jose');
  private readonly verified = new LRUCache<string, { claims: JWTPayload; untilMs: number }>({ max: REMEMBER_MAX });

  constructor(
    private readonly rules: JwtRules,
    private readonly clock: Clock,
    readFile: (path: string) => string,
  ) {
    this.staticKeys = rules.keyFiles.flatMap((f) => {
      let text: string;
      try {
        text = readFile(f);
      } catch (err) {
        throw new GuardConfigError(`edge.jwt.keyFiles: ${f}: cannot read (${(err as Error).message.split('\n')[0]})`);
      }
      try {
        return parseKeyFile(f, text);
      } catch (err) {
        if (err instanceof KeyFileError) throw new GuardConfigError(`edge.jwt.keyFiles: ${err.message}`);
        throw err;
      }
    });
  }

  /** The bearer token in Authorization (RFC 6750 §2.1), if that is where the request carries one. */
  bearerOf(headers: HeaderMap): string | undefined {
    return /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i.exec(headers['authorization'] ?? '')?.[1];
  }

  /**
   * The token in the configured cookie. AMBIGUOUS: that cookie holds different values
   * (origins disagree on which one counts: the one checked here might not be the one an
   * origin reads).
   */
  cookieToken(headers: HeaderMap): string | typeof AMBIGUOUS | undefined {
    if (this.rules.cookie === '' || headers['cookie'] === undefined) return undefined;
    const values = cookieOccurrences(headers['cookie'], this.rules.cookie).map((o) => o.value.trim());
    if (values.some((v) => v !== values[0])) return AMBIGUOUS;
    return values[0] || undefined;
  }

  /**
   * The claims of the bearer token (else the cookie's). A token cookie beside a bearer
   * token must verify too: an origin that reads the cookie (its session) would otherwise
   * take a token nobody checked.
   */
  async verify(headers: HeaderMap): Promise<TokenVerdict> {
    const bearer = this.bearerOf(headers);
    const cookie = this.cookieToken(headers);
    if (cookie === AMBIGUOUS) return { kind: 'invalid', reason: `cookie ${this.rules.cookie} sent more than once with different values` };
    // Authorization says Bearer but holds no single token: not a reason to take the cookie instead (an origin
    // splitting "Bearer <token> x" on blanks reads a token nobody checked).
    if (bearer === undefined && /^bearer(?:[ \t]|$)/i.test(headers['authorization'] ?? '')) return { kind: 'invalid', reason: 'malformed Authorization: Bearer (expected one token)' };
    const token = bearer ?? cookie;
    if (token === undefined) return { kind: 'missing' };
    const v = await this.verifyOne(token);
    if (v.kind !== 'valid' || bearer === undefined || cookie === undefined || cookie === bearer) return v;
    const c = await this.verifyOne(cookie);
    if (c.kind === 'valid') return v;
    return c.kind === 'invalid' ? { kind: 'invalid', reason: `cookie ${this.rules.cookie}: ${c.reason}` } : c;
  }

  /** One token, remembered when it verified (see the header). */
  private async verifyOne(token: string): Promise<TokenVerdict> {
    const digest = createHash('sha256').update(canonicalJws(token)).digest('base64');
    const known = this.verified.get(digest);
    const now = this.clock.now();
    if (known && now < known.untilMs) return { kind: 'valid', claims: known.claims };
    const v = await this.check(token);
    if (v.kind === 'valid') {
      // Until it expires (with the skew), as jose judged it now; never past REMEMBER_MS.
      const expMs = typeof v.claims.exp === 'number' ? (v.claims.exp + this.rules.clockSkewS) * 1000 : Infinity;
      this.verified.set(digest, { claims: v.claims, untilMs: Math.min(expMs, now + REMEMBER_MS) });
    }
    return v;
  }

  private async check(token: string): Promise<TokenVerdict> {
    const opts: JWTVerifyOptions = {
      currentDate: new Date(this.clock.now()),
      clockTolerance: this.rules.clockSkewS,
      ...(this.rules.issuer !== '' ? { issuer: this.rules.issuer } : {}),
      ...(this.rules.audience.length ? { audience: [...this.rules.audience] } : {}),
      ...(this.rules.algorithms.length ? { algorithms: [...this.rules.algorithms] } : {}),
      ...(this.rules.acceptWithoutExpiry ? {} : { requiredClaims: ['exp'] }),
    };
    const { decodeProtectedHeader, jwtVerify, createRemoteJWKSet } = await this.jose;
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return { kind: 'invalid', reason: 'malformed token' };
    }
    // The header is the sender's JSON, typed as jose declares it: an alg that is no string made ktyOf throw (a 500).
    if (typeof header.alg !== 'string') return { kind: 'invalid', reason: 'malformed token (alg is not a string)' };
    const kty = ktyOf(header.alg);
    const candidates = this.staticKeys.filter((k) => k.kty === kty && (header.kid === undefined || k.kid === undefined || k.kid === header.kid));
    let lastFault: string | undefined;
    for (const k of candidates) {
      try {
        return { kind: 'valid', claims: (await jwtVerify(token, k.key, opts)).payload };
      } catch (err) {
        const code = (err as { code?: string }).code;
        // Another key may have signed it; any other fault is the token's whatever the key.
        if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') {
          lastFault = 'signature verification failed';
          continue;
        }
        return { kind: 'invalid', reason: reasonOf(err) };
      }
    }
    if (this.rules.jwksUrl === '') return { kind: 'invalid', reason: lastFault ?? `no key for this token (alg ${header.alg ?? 'none'}${header.kid ? `, kid ${header.kid}` : ''})` };
    try {
      this.remote ??= createRemoteJWKSet(new URL(this.rules.jwksUrl), { timeoutDuration: this.rules.jwksTimeoutMs, cacheMaxAge: this.rules.jwksCacheS * 1000 });
      return { kind: 'valid', claims: (await jwtVerify(token, this.remote, opts)).payload };
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== undefined && TOKEN_FAULTS.has(code)) return { kind: 'invalid', reason: reasonOf(err) };
      return { kind: 'unavailable', reason: `JWKS ${withoutPassword(this.rules.jwksUrl)} unusable (${(err as Error).message})` };
    }
  }

  get rememberedCount(): number {
    return this.verified.size;
  }

  /** Request fields for the origin from the claims (claimFields); dotted claims read inside objects. */
  claimFields(claims: JWTPayload): HeaderMap {
    const out: HeaderMap = {};
    for (const [claim, field] of Object.entries(this.rules.claimFields)) {
      let v: unknown = claims;
      for (const part of claim.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
      if (v === undefined || v === null) continue;
      out[field] = fieldValue(typeof v === 'object' ? JSON.stringify(v) : String(v));
    }
    return out;
  }
}

/** A UTF-16 surrogate without its pair: JSON (and so a claim) may hold one; UTF-8 cannot. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * A claim as a field value: no control characters; non-ASCII percent-encoded as
 * UTF-8 (fields are ASCII on the wire), and "%" itself as %25, so the value decodes
 * to the claim and no other (a claim "%C3%A9" is not "é"); a lone surrogate as
 * U+FFFD first (String.prototype.toWellFormed's rule): encodeURIComponent throws
 * URIError on one, and a signed token must not make its request fail.
 */
function fieldValue(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]/g, '').replace(/[^\x20-\x24\x26-\x7e]+/g, (m) => encodeURIComponent(m.replace(LONE_SURROGATE, '\ufffd')));
}

function reasonOf(err: unknown): string {
  const e = err as { code?: string; message?: string; claim?: string };
  switch (e.code) {
    case 'ERR_JWT_EXPIRED':
      return 'token expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return `claim ${e.claim ?? ''} check failed: ${e.message ?? ''}`.replace(/\s+/g, ' ').trim();
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return 'no key for this token';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'signature verification failed';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'signing algorithm not allowed';
    default:
      return e.message ?? 'invalid token';
  }
}
