// Content-coding negotiation (RFC 9110 §12.5.3): which of the codings Strata can
// produce a client's Accept-Encoding prefers. Pure; the one result per distinct
// header value is memoised (browsers send a handful of spellings, each millions of
// times), bounded so a client inventing values cannot grow it.
//
// Choices where the RFC leaves room (CACHING.md lists them):
// - absent field: identity (most clients that omit it cannot decode anything);
// - empty field, or a malformed one: identity (malformed is treated as absent);
// - identity not listed and not covered by `*`: acceptable, but below any coding
//   the client listed, so "gzip;q=0.5" still gets gzip; covered by `*`, it has the
//   weight of `*` ("gzip;q=0.5, *" gets identity; `*;q=0` excludes it);
// - nothing acceptable (`identity;q=0` or `*;q=0`, and no coding we have): identity all
//   the same, never 406: §12.5.3 lets a server disregard the field, RFC 7231 moved away
//   from 406 on purpose, and nginx and Varnish answer so too.

import { hasNoTransform } from '../http/cache-control.js';
import type { HeaderMap } from '../http/headers.js';

export const IDENTITY = 'identity';

/** What one Accept-Encoding value allows. */
export interface Acceptance {
  /** The coding to answer with: one of the offered codings, or identity. */
  readonly chosen: string;
  /** Whether the client accepts `coding` (q > 0; identity unless excluded). */
  accepts(coding: string): boolean;
  /**
   * False when the request said Cache-Control: no-transform (RFC 9110 §7.7): nothing may be
   * made for it, encoded or decoded; it gets the origin's bytes as they are.
   */
  readonly mayTransform: boolean;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/** Weights by lower-case coding name (x-gzip folded into gzip), or undefined when malformed. */
export function parseAcceptEncoding(value: string): Map<string, number> | undefined {
  const weights = new Map<string, number>();
  for (const member of value.split(',')) {
    const parts = member.split(';');
    const name = parts[0]!.trim().toLowerCase();
    if (name === '') {
      // Empty list members are allowed (RFC 9110 §5.6.1), but not with parameters.
      if (parts.length > 1) return undefined;
      continue;
    }
    if (!TOKEN.test(name)) return undefined;
    let q = 1;
    for (const p of parts.slice(1)) {
      const eq = p.indexOf('=');
      if (eq < 0) return undefined;
      const k = p.slice(0, eq).trim().toLowerCase();
      if (!TOKEN.test(k)) return undefined;
      const v = p.slice(eq + 1).trim();
      if (k !== 'q') continue; // other parameters carry no meaning for codings
      if (!QVALUE.test(v)) return undefined;
      q = Number(v);
    }
    const coding = name === 'x-gzip' ? 'gzip' : name;
    // A repeated coding keeps its highest weight.
    weights.set(coding, Math.max(q, weights.get(coding) ?? 0));
  }
  return weights;
}

const IDENTITY_ONLY: Acceptance = { chosen: IDENTITY, accepts: (c) => c === IDENTITY, mayTransform: true };

function fromWeights(weights: Map<string, number>, offered: readonly string[]): Acceptance {
  const star = weights.get('*');
  const weightOf = (c: string): number => {
    const w = weights.get(c);
    if (w !== undefined) return w;
    if (star !== undefined) return star;
    // Identity is acceptable unless excluded, but below anything listed.
    return c === IDENTITY ? 0.0001 : 0;
  };
  let chosen = IDENTITY;
  let best = 0;
  for (const c of offered) {
    const w = weightOf(c);
    // Ties go to the earlier coding in the operator's preference order.
    if (w > best) {
      best = w;
      chosen = c;
    }
  }
  // Identity preferred ("gzip;q=0.5, identity") beats a lighter coding; so does identity weighted by
  // `*` when not named ("gzip;q=0.5, *": RFC 9110 §12.5.3, `*` matches every coding not listed, identity
  // too). Unlisted and uncovered, it comes below every coding listed (weightOf).
  const idW = weights.get(IDENTITY) ?? star ?? -1;
  if (chosen !== IDENTITY && idW > best) chosen = IDENTITY;
  return { chosen, accepts: (c) => weightOf(c) > 0, mayTransform: true };
}

/** The codings on offer, in preference order, with a bounded memo of header value → Acceptance. */
export class Negotiator {
  private readonly memo = new Map<string, Acceptance>();
  /** An acceptance as a no-transform request has it, one per acceptance (gone with it when the memo drops it). */
  private readonly untransformed = new WeakMap<Acceptance, Acceptance>();

  constructor(
    readonly offered: readonly string[],
    private readonly memoMax = 1024,
  ) {}

  acceptance(value: string | undefined): Acceptance {
    if (value === undefined) return IDENTITY_ONLY;
    let a = this.memo.get(value);
    if (a) return a;
    const weights = parseAcceptEncoding(value);
    a = weights === undefined ? IDENTITY_ONLY : fromWeights(weights, this.offered);
    if (this.memo.size >= this.memoMax) this.memo.clear();
    this.memo.set(value, a);
    return a;
  }

  /** What a request allows: its Accept-Encoding, and whether its Cache-Control says no-transform. */
  forRequest(headers: HeaderMap): Acceptance {
    const a = this.acceptance(headers['accept-encoding']);
    if (!hasNoTransform(headers['cache-control'])) return a;
    let u = this.untransformed.get(a);
    if (!u) this.untransformed.set(a, (u = { chosen: a.chosen, accepts: a.accepts, mayTransform: false }));
    return u;
  }

}
