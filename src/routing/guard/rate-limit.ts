// Per-client request rates: one token bucket per client (its address, an IPv6
// client by its /64, or the value of a request field — whose every new value
// first costs its address a token), refilled continuously at
// the configured rate up to the burst size. Memory is bounded: buckets live in an
// LRU of maxClients; a forgotten client comes back with a full bucket, which only
// ever errs towards letting a request through.
//
// Connection counts per client address are the listener's (limits.maxConnectionsPerClient,
// src/server/listener.ts): they are counted at accept, before any request exists.

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
   * Take one token for the request's client, or say how long until one is there.
   * By header, the field's value names the client, but nothing has verified it
   * yet (the limit runs before auth): a value not seen before first costs its
   * address a token, so inventing values is limited at the address's rate, while
   * a known value (many clients behind one address) pays only its own bucket.
   */
  takeFor(clientAddress: string, headers: HeaderMap): RateVerdict {
    const address = `a:${clientOf(clientAddress)}`;
    if (this.rules.by !== 'header' || this.rules.header === '') return this.take(address);
    const v = headers[this.rules.header];
    // Without the field the client is its address: omitting it is no way around the limit.
    if (v === undefined || v === '') return this.take(address);
    const client = `h:${v}`;
    if (!this.buckets.has(client)) {
      const paid = this.take(address);
      if (!paid.ok) return paid;
    }
    return this.take(client);
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
