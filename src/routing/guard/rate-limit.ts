// Per-client request rates: one token bucket per client (its address, an IPv6
// client by its /64, or the value of a request field), refilled continuously at
// the configured rate up to the burst size. Memory is bounded: buckets live in an
// LRU of maxClients; a forgotten client comes back with a full bucket, which only
// ever errs towards letting a request through.
//
// By field value, a value is only believed once something vouched for it: on a
// route with an auth stage, a request bearing it that the auth passed, and only
// when that auth judged the field itself (guard.ts: forward-auth sends it to the
// auth service, or JWT read its token from Authorization); until then (and
// whenever it is refused, or the auth never reads the field) its address pays.
// Else anyone, a token holder included, could invent a value per request and get
// a bucket each. On a route without auth the field is taken as sent (a proxy in
// front sets it): a new value then costs its address a token. One limiter may
// serve both kinds of route (an inherited edge.rateLimit), so each bucket says
// which it is: taken as sent, or approved by an auth stage. A route with auth
// uses approved buckets only; a value that has only a taken-as-sent bucket pays
// its address there, as an unknown one does (else a route without auth would
// mint buckets that skip the auth route's limit). Values are compared
// normalised (runs of blanks as one; Authorization's scheme in any case, token
// padding optional, a JWT's signature in one spelling), so one credential written
// several ways is one client.
//
// Connection counts per client address are the listener's (limits.maxConnectionsPerClient,
// src/server/listener.ts): they are counted at accept, before any request exists.

import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { HeaderMap } from '../../http/headers.js';
import type { Clock } from '../../util/clock.js';
import { clientOf } from '../../http/patterns.js';
import { canonicalJws } from './jws-form.js';

export interface RateLimitRules {
  requestsPerS: number;
  burst: number;
  by: 'address' | 'header';
  header: string;
  maxClients: number;
}

interface Bucket {
  tokens: number;
  atMs: number;
  /** Made or vouched for by an auth stage (vouch); false: a value taken as sent, on a route without auth. */
  approved: boolean;
}

export type RateVerdict = { ok: true } | { ok: false; retryAfterS: number; client: string };

/**
 * A field value as the client it names: runs of blanks as one; in Authorization the
 * scheme is case-insensitive (RFC 9110 §11.1) and a token68's trailing "=" optional,
 * and a bearer token that is a signed JWT is written in its one canonical spelling
 * (jws-form.ts), or each of its equivalent signatures would be a client.
 */
export function clientValue(field: string, value: string): string {
  const v = value.trim().replace(/[ \t]+/g, ' ');
  if (field !== 'authorization') return v;
  const sp = v.indexOf(' ');
  if (sp < 0) return v.toLowerCase();
  const scheme = v.slice(0, sp).toLowerCase();
  const credential = v.slice(sp + 1).replace(/=+$/, '');
  return `${scheme} ${scheme === 'bearer' ? canonicalJws(credential) : credential}`;
}

export class RateLimiter {
  private readonly buckets: LRUCache<string, Bucket>;
  private readonly perMs: number;

  constructor(
    private readonly rules: RateLimitRules,
    private readonly clock: Clock,
  ) {
    this.buckets = new LRUCache({ max: rules.maxClients });
    this.perMs = rules.requestsPerS / 1000;
  }

  /**
   * The bucket key of the request's field value (by header), a digest: a value may be
   * a whole header section long. Undefined when there is none (or the limit is by
   * address). Computed once per request and given to takeFor and vouch.
   */
  clientKey(headers: HeaderMap): string | undefined {
    if (this.rules.by !== 'header' || this.rules.header === '') return undefined;
    const v = headers[this.rules.header];
    return v === undefined || v === '' ? undefined : `h:${createHash('sha256').update(clientValue(this.rules.header, v)).digest('base64url')}`;
  }

  /**
   * Take one token for the request's client, or say how long until one is there.
   * By field value (`client`: clientKey()): a value with a bucket this route may use
   * pays its own bucket (many clients behind one address each have theirs); any
   * other pays its address's. `trusted`: the route has no auth stage, the value is
   * believed as sent and any bucket of it will do; otherwise only an approved one.
   */
  takeFor(clientAddress: string, client: string | undefined, trusted: boolean): RateVerdict {
    const address = `a:${clientOf(clientAddress)}`;
    // Without the field the client is its address: omitting it is no way around the limit.
    if (client === undefined) return this.take(address);
    const own = this.buckets.get(client);
    if (own !== undefined && (trusted || own.approved)) return this.spend(client, own);
    const paid = this.take(address);
    if (paid.ok && trusted) this.take(client);
    return paid;
  }

  /**
   * The auth stages passed a request: its field value (`client`: clientKey()) names a
   * client from now on. Its request was paid by the address: a new bucket starts one
   * token short, and a bucket the value had as sent (from a route without auth)
   * becomes approved and pays for it too, keeping what it had spent.
   */
  vouch(client: string | undefined): void {
    if (client === undefined) return;
    const b = this.buckets.get(client);
    if (b === undefined) this.buckets.set(client, { tokens: this.rules.burst - 1, atMs: this.clock.now(), approved: true });
    else if (!b.approved) {
      b.approved = true;
      this.spend(client, b);
    }
  }

  /** Take one token from `client`'s bucket (a new client starts full, taken as sent). */
  private take(client: string): RateVerdict {
    let b = this.buckets.get(client);
    if (b === undefined) {
      b = { tokens: this.rules.burst, atMs: this.clock.now(), approved: false };
      this.buckets.set(client, b);
    }
    return this.spend(client, b);
  }

  /** Refill `b` (the bucket of `client`) for the time passed, then take one token from it. */
  private spend(client: string, b: Bucket): RateVerdict {
    const now = this.clock.now();
    // A clock stepping back refills nothing (and never drains).
    const elapsed = Math.max(0, now - b.atMs);
    b.tokens = Math.min(this.rules.burst, b.tokens + elapsed * this.perMs);
    b.atMs = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    // RFC 9110 §10.2.3: Retry-After in whole seconds, rounded up so the client is not early.
    return { ok: false, retryAfterS: Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000)), client };
  }

  get size(): number {
    return this.buckets.size;
  }
}
