// Draining upstreams for a deploy: a drained upstream gets no new request from
// any pool that lists it (src/origin/pool.ts asks `isDrained`), the requests it
// has in flight finish, and once none is left it is reported "drained" — safe to
// stop, swap or restart. Undrain puts it back into rotation.
//
// Upstreams are named by URL (origin + path prefix, as in /stats), across every
// route's pools: an operator restarting the process behind a URL wants it out of
// all of them. In-flight counts come from the pools themselves (a request is in
// flight until its response body is finished or abandoned), those a reload
// replaced included until they are closed: a transfer that began before the
// reload is still load on the upstream.
//
// A drain is the operator's word about a URL and outlives reloads, one that
// removes the upstream from every pool included (it may be on its way back): it is
// listed, reported "drained" with pools 0, and undrained as any other. A reload
// that lists a drained upstream it did not list before says so in a warning.

/** One upstream as the pools report it. */
export interface UpstreamLoad {
  name: string;
  inFlight: number;
}

export type DrainState = 'serving' | 'draining' | 'drained';

export interface DrainStatus {
  upstream: string;
  state: DrainState;
  /** Requests in flight on this upstream, over every pool that lists it. */
  inFlight: number;
  /** How many pools list this upstream (a pool a reload replaced counts until it is closed). */
  pools: number;
}

/** The canonical name of an upstream URL, as pools name their upstreams (no trailing "/"). */
export function upstreamName(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  return u.origin + u.pathname.replace(/\/+$/, '');
}

export class DrainSet {
  private readonly drained = new Set<string>();

  /** Read by the pools on every choice of upstream. */
  readonly isDrained = (name: string): boolean => this.drained.size > 0 && this.drained.has(name);

  drain(name: string): void {
    this.drained.add(name);
  }

  undrain(name: string): void {
    this.drained.delete(name);
  }

  names(): string[] {
    return [...this.drained];
  }

  /**
   * The state of `name` given every pool's upstreams now; undefined when no pool lists
   * it, unless it is drained: a reload that removed it keeps its drain (README), which
   * stays visible and can be undone until a reload lists it again.
   */
  status(name: string, loads: readonly UpstreamLoad[]): DrainStatus | undefined {
    let inFlight = 0;
    let pools = 0;
    for (const l of loads) {
      if (l.name !== name) continue;
      pools++;
      inFlight += l.inFlight;
    }
    if (pools === 0) return this.drained.has(name) ? { upstream: name, state: 'drained', inFlight: 0, pools: 0 } : undefined;
    const state: DrainState = !this.drained.has(name) ? 'serving' : inFlight === 0 ? 'drained' : 'draining';
    return { upstream: name, state, inFlight, pools };
  }
}
