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
// front sets it): a new value then costs its address a token. Values are compared
// normalised (runs of blanks as one; Authorization's scheme in any case, token
// padding optional), so one credential written several ways is one client.
//
// Connection counts per client address are the listener's (limits.maxConnectionsPerClient,
// src/server/listener.ts): they are counted at accept, before any request exists.

import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { HeaderMap } from '../../http/headers.js';
import type { Clock } from '../../util/clock.js';
import { clientOf } from '../../http/patterns.js';

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
}

export type RateVerdict = { ok: true } | { ok: false; retryAfterS: number; client: string };

/**
 * A field value as the client it names: runs of blanks as one; in Authorization the
 * scheme is case-insensitive (RFC 9110 §11.1) and a token68's trailing "=" optional.
 */
export function clientValue(field: string, value: string): string {
  const v = value.trim().replace(/[ \t]+/g, ' ');
  if (field !== 'authorization') return v;
  const sp = v.indexOf(' ');
  return sp < 0 ? v.toLowerCase() : `${v.slice(0, sp).toLowerCase()} ${v.slice(sp + 1).replace(/=+$/, '')}`;
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
   * By field value (`client`: clientKey()): a value already vouched for pays its own
   * bucket (many clients behind one address each have theirs); any other pays its
   * address's. `trusted`: no auth stage will vouch, the value is believed as sent.
   */
  takeFor(clientAddress: string, client: string | undefined, trusted: boolean): RateVerdict {
    const address = `a:${clientOf(clientAddress)}`;
    // Without the field the client is its address: omitting it is no way around the limit.
    if (client === undefined) return this.take(address);
    if (this.buckets.has(client)) return this.take(client);
    const paid = this.take(address);
    if (paid.ok && trusted) this.take(client);
    return paid;
  }

  /** The auth stages passed a request: its field value (`client`: clientKey()) names a client from now on. */
  vouch(client: string | undefined): void {
    if (client !== undefined && !this.buckets.has(client)) this.buckets.set(client, { tokens: this.rules.burst - 1, atMs: this.clock.now() });
  }

  /** Take one token from `client`'s bucket (a new client starts full). */
  private take(client: string): RateVerdict {
    const now = this.clock.now();
    const { burst } = this.rules;
    let b = this.buckets.get(client);
    if (!b) {
      b = { tokens: burst, atMs: now };
      this.buckets.set(client, b);
    } else {
      // A clock stepping back refills nothing (and never drains).
      const elapsed = Math.max(0, now - b.atMs);
      b.tokens = Math.min(burst, b.tokens + elapsed * this.perMs);
      b.atMs = now;
    }
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
