// Single flight per cache key: while one origin fetch for a key is in flight,
// later requests for that key join it instead of starting their own (collapsed
// forwarding). A flight is listed from its start until its work is done (the
// response is stored, or found unshareable), so a request arriving between the
// origin's last byte and the cache commit still joins rather than refetching.
//
// Keys whose responses could not be shared are remembered for a while (Varnish's
// hit-for-pass): requests for them go to the origin at once instead of queueing
// behind a fetch whose answer they would not be able to use.
//
// What a flight produces, and how a follower uses it, is the pipeline's business:
// this module only keeps the books.
//
// Why the table holds a listing, emptied when the flight is unlisted, and not the
// flight: a long-lived Map that is written and deleted on every miss is rehashed
// into new backing tables, and an obsolete table left in the old generation still
// points at what it held. The scavenger keeps whatever such a dead table points at
// until the next full collection, so a flight listed there — its outcome, the
// response, the shared body, the clients' requests — was promoted to the old
// generation on almost every miss (7.8 KB a miss, a third of a miss's CPU in GC;
// bench/RESULTS.md). An emptied listing keeps 32 bytes alive instead.

import { SLICE_KEY_MARK } from '../cache/slicing.js';
import type { Clock } from '../util/clock.js';
import { BoundedKeys, type KeyBounds, type KeyFigures } from '../util/bounded-keys.js';

export interface Flight<T, W = unknown> {
  readonly key: string;
  /** The fetch's result, shared by the leader and every follower. */
  readonly outcome: Promise<T>;
  /** Requests that joined after the leader. */
  followers: number;
  /** Where the flight fetches from, as its leader chose (the pipeline's business: a peer request joins only some). */
  readonly route?: string;
  /** Who waits on the flight, as its leader keeps them (the pipeline's business): on the flight, not in a table beside it (see above). */
  waiting?: W;
}

/** A flight's place in the table: emptied when it is unlisted (see above). */
interface Listing<T, W> {
  flight: Flight<T, W> | undefined;
}

export interface FlightWork<T> {
  outcome: Promise<T>;
  /** Resolves when the flight's work is over (stored, or not storable); it is then unlisted. */
  done: Promise<unknown>;
}

export class Coalescer<T, W = unknown> {
  private readonly flights = new Map<string, Listing<T, W>>();
  /** Hit-for-pass: key → until (ms), oldest mark first; bounded by count and key bytes, so a crawler of uncacheable (long) URLs cannot grow it without limit. */
  private readonly passUntil: BoundedKeys<number>;
  /** Flights listed under a key longer than its URI's (keyed after "#", a slice's): while none is, forgetUri() needs no scan. */
  private derivedFlights = 0;

  constructor(
    private readonly clock: Clock,
    private hitForPassMs: number,
    passBounds: KeyBounds = { maxKeys: 100_000, maxKeyBytes: 16 * 2 ** 20 },
  ) {
    this.passUntil = new BoundedKeys(passBounds);
  }

  /** A reload's hit-for-pass settings: marks made from now on use them (existing marks keep their end). */
  reconfigure(hitForPassMs: number, passBounds: KeyBounds): void {
    this.hitForPassMs = hitForPassMs;
    this.passUntil.setBounds(passBounds);
  }

  /** The flight in progress for `key`, counting the caller as a follower. */
  join(key: string, accept?: (f: Flight<T, W>) => boolean): Flight<T, W> | undefined {
    const f = this.flights.get(key)?.flight;
    if (!f || (accept && !accept(f))) return undefined;
    f.followers++;
    return f;
  }

  /** Whether a fetch for `key` is in flight (without joining it). */
  has(key: string): boolean {
    return this.flights.has(key);
  }

  /** Start and list a flight for `key`. */
  lead(key: string, start: () => FlightWork<T>, route?: string): Flight<T, W> {
    const work = start();
    const flight: Flight<T, W> = { key, outcome: work.outcome, followers: 0, ...(route === undefined ? {} : { route }) };
    // A flight listed already (one a peer's request would not join) is replaced: it finishes for its clients.
    const prior = this.flights.get(key);
    if (prior) prior.flight = undefined;
    else if (isDerived(key)) this.derivedFlights++;
    this.flights.set(key, { flight });
    const unlist = () => this.unlist(flight);
    work.done.then(unlist, unlist);
    return flight;
  }

  /** Unlist `flight` (if still listed): later requests start a fetch of their own. */
  unlist(flight: Flight<T, W>): void {
    if (this.flights.get(flight.key)?.flight === flight) this.unlistKey(flight.key);
  }

  /** Whatever flight is listed under `key` goes (its clients keep it). */
  private unlistKey(key: string): void {
    const listing = this.flights.get(key);
    if (listing === undefined) return;
    listing.flight = undefined;
    this.flights.delete(key);
    if (isDerived(key)) this.derivedFlights--;
  }

  /** Requests for `key` should not wait for one another for a while. */
  markPass(key: string): void {
    if (this.hitForPassMs <= 0) return;
    // Set as the most recent: past a bound the oldest marks go.
    this.passUntil.set(key, this.clock.now() + this.hitForPassMs);
  }

  /** Fetches listed now (joinable). */
  get flightCount(): number {
    return this.flights.size;
  }

  /** Keys remembered as hit-for-pass now (expired marks are dropped when next asked). */
  get passKeys(): number {
    return this.passUntil.size;
  }

  /** The hit-for-pass marks' keys and key bytes (/stats remembered). */
  get passFigures(): KeyFigures {
    return this.passUntil.figures;
  }

  clearPass(key: string): void {
    this.passUntil.delete(key);
  }

  passing(key: string): boolean {
    if (this.passUntil.size === 0) return false;
    const until = this.passUntil.get(key);
    if (until === undefined) return false;
    if (until > this.clock.now()) return true;
    this.passUntil.delete(key);
    return false;
  }

  /**
   * forget() for one URI, an unsafe method's invalidation (RFC 9111 §4.4, told by the
   * store: TieredStore.invalidate): the flight under its primary key, found without a
   * scan, and those of its keyed versions (`primaryKey#…`, cache/key.ts keySuffix) and of
   * its slices (`primaryKey slice …`, cache/slicing.ts sliceKey; a keyed version's too) and
   * its refetches (`primaryKey\n…`, pipeline/shared-fetch.ts refetchFlight), which need
   * one, made only while such a flight is listed. Hit-for-pass marks of the key go too (its answers may be shareable now); a keyed version's stay: a mark sends requests
   * to the origin, never to an older answer.
   */
  forgetUri(primaryKey: string): void {
    this.unlistKey(primaryKey);
    this.passUntil.delete(primaryKey);
    if (this.derivedFlights === 0) return;
    const keyed = primaryKey + '#';
    const sliced = primaryKey + SLICE_KEY_MARK;
    const refetch = primaryKey + '\n';
    for (const key of [...this.flights.keys()]) if (key.startsWith(keyed) || key.startsWith(sliced) || key.startsWith(refetch)) this.unlistKey(key);
  }

  /**
   * Unlist the flights whose key matches, so later requests start a fetch of their
   * own (a purge must not let a request join a fetch begun before it). The
   * unlisted flights still finish for the clients already on them.
   */
  forget(match: (key: string) => boolean): number {
    let n = 0;
    for (const key of [...this.flights.keys()]) {
      if (match(baseKey(key))) {
        this.unlistKey(key);
        n++;
      }
    }
    for (const key of [...this.passUntil.keys()]) if (match(key)) this.passUntil.delete(key);
    return n;
  }
}

/**
 * A key a route keyed after "#" (cache/key.ts keySuffix: no request target contains one), a
 * slice's, or a refetch's (after "\n": pipeline/shared-fetch.ts refetchFlight).
 */
function isDerived(key: string): boolean {
  return key.includes('#') || key.includes(SLICE_KEY_MARK) || key.includes('\n');
}

/** The key a refetch's flight was derived from (before its "\n"): what a purge's selector names. */
function baseKey(key: string): string {
  const nl = key.indexOf('\n');
  return nl < 0 ? key : key.slice(0, nl);
}
