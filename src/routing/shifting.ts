// Traffic shifting between a route's two pools (primary and canary): which side
// a request goes to. Weighted (the canary's percent, changed live), and split
// one of four ways:
//   random  each request drawn by the weight (no stickiness);
//   cookie  by a hash of the named cookie's value, so a user stays on one side;
//           a client without it gets a fresh random id in that cookie (Set-Cookie
//           on its answer) and keeps it from then on;
//   header  by a hash of the named header's value (absent: drawn at random);
//   client  by a hash of the client address (A/B by address; an IPv6 client by its
//           /64, an IPv4-mapped one as IPv4: router.ts).
// Hashed splits are monotone in the weight: a user's bucket (0-9999) is fixed,
// and the canary takes buckets below percent × 100, so raising 5 → 10 moves only
// primary users to the canary, lowering moves only canary users back, and 0 or
// 100 moves everyone. Pure apart from the injected randomness.

import { fmix32, fnv1a } from '../origin/balancer.js';
import { cookieValue } from '../http/cookies.js';
import type { HeaderMap } from '../http/headers.js';
import type { SplitBy } from '../config/sites.js';

export type Side = 'primary' | 'canary';

export interface Split {
  /** 0-100, the canary's share. */
  percent: number;
  by: SplitBy;
  /** Cookie or header name (cookie, header). */
  name: string;
}

export interface SideChoice {
  side: Side;
  /** A Set-Cookie value to send with the answer (a new sticky id), when one was made. */
  setCookie?: string;
}

/** How long a sticky cookie lasts: long enough for an experiment, short of forever. */
const STICKY_MAX_AGE_S = 30 * 86400;

/** A value's fixed bucket, 0-9999. */
export function bucketOf(value: string): number {
  return fmix32(fnv1a(value)) % 10_000;
}

function byBucket(value: string, percent: number): Side {
  return bucketOf(value) < percent * 100 ? 'canary' : 'primary';
}

function byDraw(random: () => number, percent: number): Side {
  // 0 and 100 are exact: a rollback to 0 sends nothing, whatever the draw.
  if (percent <= 0) return 'primary';
  if (percent >= 100) return 'canary';
  return random() * 100 < percent ? 'canary' : 'primary';
}

export function chooseSide(split: Split, headers: HeaderMap, clientAddress: string, random: () => number): SideChoice {
  switch (split.by) {
    case 'random':
      return { side: byDraw(random, split.percent) };
    case 'client':
      return { side: byBucket(clientAddress, split.percent) };
    case 'header': {
      const v = headers[split.name];
      return { side: v === undefined || v === '' ? byDraw(random, split.percent) : byBucket(v, split.percent) };
    }
    case 'cookie': {
      const v = cookieValue(headers['cookie'], split.name);
      if (v !== undefined && v !== '') return { side: byBucket(v, split.percent) };
      const id = newId(random);
      return { side: byBucket(id, split.percent), setCookie: `${split.name}=${id}; Path=/; Max-Age=${STICKY_MAX_AGE_S}; HttpOnly; SameSite=Lax` };
    }
  }
}

function newId(random: () => number): string {
  let s = '';
  for (let i = 0; i < 4; i++) s += Math.floor(random() * 0x1_0000_0000).toString(16).padStart(8, '0');
  return s;
}
