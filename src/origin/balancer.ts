// Balancer algorithms: pure choices over a list of upstream views. No I/O, no
// timers, no health logic — the caller passes only the upstreams it may use
// (available ones, minus those a retry already tried), and every algorithm
// returns one of them. Randomness is injected so tables can test p2c.
//
// Invariants: `pick` never returns an upstream outside `candidates`; a weight
// of N means N times the share of a weight-1 upstream (exactly for round-robin,
// in expectation for the others).

import type { BalancerName } from '../config/types.js';

export type { BalancerName };


/** What an algorithm may look at. `cost` is the latency estimate (ms) right now. */
export interface UpstreamView {
  readonly name: string;
  readonly weight: number;
  readonly inFlight: number;
  cost(): number;
}

export interface Balancer {
  /** `candidates` is non-empty; `key` identifies the object (the cache key). */
  pick<U extends UpstreamView>(candidates: readonly U[], key: string): U;
}

export function createBalancer(name: BalancerName, random: () => number = Math.random): Balancer {
  switch (name) {
    case 'round-robin':
      return new SmoothWeightedRoundRobin();
    case 'least-connections':
      return new LeastConnections();
    case 'p2c-ewma':
      return new PowerOfTwoChoices(random);
    case 'consistent-hash':
      return new RendezvousHash();
  }
}

/**
 * nginx's smooth weighted round-robin: weights 5,1,1 give a a b a c a a rather
 * than a a a a a b c, so a heavy upstream never receives a burst. State is kept
 * per name because the candidate list changes as upstreams leave and return.
 */
export class SmoothWeightedRoundRobin implements Balancer {
  private readonly current = new Map<string, number>();

  pick<U extends UpstreamView>(candidates: readonly U[]): U {
    let total = 0;
    let best = candidates[0]!;
    let bestWeight = -Infinity;
    for (const u of candidates) {
      const w = (this.current.get(u.name) ?? 0) + u.weight;
      this.current.set(u.name, w);
      total += u.weight;
      if (w > bestWeight) {
        bestWeight = w;
        best = u;
      }
    }
    this.current.set(best.name, bestWeight - total);
    return best;
  }
}

/**
 * Fewest requests in flight per unit of weight. Ties (the usual case when the
 * pool is idle) go through smooth weighted round-robin, as in nginx, so an idle
 * pool still honours the weights instead of always choosing the first upstream.
 */
export class LeastConnections implements Balancer {
  private readonly tieBreak = new SmoothWeightedRoundRobin();

  pick<U extends UpstreamView>(candidates: readonly U[]): U {
    let least = Infinity;
    for (const u of candidates) least = Math.min(least, u.inFlight / u.weight);
    const tied = candidates.filter((u) => u.inFlight / u.weight === least);
    return tied.length === 1 ? tied[0]! : this.tieBreak.pick(tied);
  }
}

/**
 * Power of two choices on peak-EWMA latency (Finagle, linkerd): draw two distinct
 * upstreams at random and take the cheaper, where cost is the latency estimate
 * times the requests in flight (plus one). An upstream with no sample yet takes
 * one request at a time until its first answer (see UNSAMPLED_PENALTY). A slow or overloaded upstream loses
 * every draw it is in, yet its estimate fades while it is not chosen
 * (upstream.ts), so it is tried again once it may have recovered.
 *
 * Weight here is capacity, not a traffic share: cost is divided by it, so an
 * upstream of weight 2 is expected to carry twice the requests in flight at the
 * same latency. Under concurrent load that yields shares close to the weights;
 * an idle pool sends its trickle to whichever upstream answers fastest.
 */
export class PowerOfTwoChoices implements Balancer {
  constructor(private readonly random: () => number) {}

  pick<U extends UpstreamView>(candidates: readonly U[]): U {
    const n = candidates.length;
    if (n === 1) return candidates[0]!;
    const i = Math.floor(this.random() * n);
    const j = (i + 1 + Math.floor(this.random() * (n - 1))) % n;
    const a = candidates[i]!;
    const b = candidates[j]!;
    const ca = load(a);
    const cb = load(b);
    if (ca === cb) return this.random() < 0.5 ? a : b;
    return ca < cb ? a : b;
  }
}

// Finagle's PeakEwma penalty: the cost of an upstream with no latency sample yet
// and a request in flight. Without it such an upstream (added by a reload) looked
// like the cheapest at any queue shorter than the others' latency in ms, and a
// burst went to it before its first answer said how fast it is.
const UNSAMPLED_PENALTY = 1e9;

function load(u: UpstreamView): number {
  const cost = u.cost();
  if (cost === 0 && u.inFlight > 0) return (UNSAMPLED_PENALTY * u.inFlight) / u.weight;
  // +1 ms so an upstream with no latency sample yet still weighs its queue.
  return ((cost + 1) * (u.inFlight + 1)) / u.weight;
}

/**
 * Weighted rendezvous (highest random weight) hashing on the cache key: every
 * key ranks the upstreams by score = -weight / ln(h(key, upstream)), and takes
 * the best. When an upstream leaves, only the keys it owned move (each to its
 * own second choice); when it returns, exactly those keys come back. No ring to
 * rebuild, and the same scheme DESIGN.md names for the peer ring.
 */
export class RendezvousHash implements Balancer {
  private readonly seeds = new Map<string, number>();

  pick<U extends UpstreamView>(candidates: readonly U[], key: string): U {
    const k = fnv1a(key);
    let best = candidates[0]!;
    let bestScore = -Infinity;
    for (const u of candidates) {
      let seed = this.seeds.get(u.name);
      if (seed === undefined) {
        seed = fmix32(fnv1a(u.name));
        this.seeds.set(u.name, seed);
      }
      // (h + 0.5) / 2^32 is uniform in (0, 1): ln never sees 0 or 1.
      const h = (fmix32((k ^ seed) >>> 0) + 0.5) / 4294967296;
      const score = -u.weight / Math.log(h);
      if (score > bestScore || (score === bestScore && u.name < best.name)) {
        bestScore = score;
        best = u;
      }
    }
    return best;
  }
}

/** 32-bit FNV-1a over UTF-16 code units; spread further by fmix32. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** MurmurHash3's finaliser: every input bit affects every output bit. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
