// Where a fetch goes and what becomes of its answer, for whole objects
// (fetch-and-store.ts) and slices (slices.ts) alike: the cluster or an upstream,
// which tiers keep a peer's copy, and what a response found to be unsolicited
// bytes does to the entry stored from it.

import type { OriginFailure } from '../cache/decide.js';
import { expiredSince } from '../cache/soft-purge.js';
import type { EntryMeta } from '../entry.js';
import type { StrataError } from '../errors.js';
import type { OriginRequest, OriginResponse } from '../origin/client.js';
import type { ClusterPath, FillProgress } from './context.js';
import type { FetchDeps } from './fetch-outcome.js';

/**
 * The fetch step's one choice, for whole objects and slices alike: through the
 * cluster (the owner peer when the key is not ours: cluster/peer-fetch.ts), else
 * an upstream. A peer's request (viaCluster false) goes to an upstream, or, to an
 * owner within its handoff window, to the previous owner only-if-cached first.
 */
export function fetchFrom(deps: Pick<FetchDeps, 'origin' | 'cluster'>, viaCluster: boolean | undefined, req: OriginRequest & { key: string; vouched?: readonly string[] | undefined; validatedTags?: readonly string[] }, fill: FillProgress): Promise<OriginResponse> {
  if (!deps.cluster) return deps.origin.request(req);
  return viaCluster ? deps.cluster.request(req, deps.origin, fill) : deps.cluster.forPeer(req, deps.origin);
}

/** Where a copy of what `res` brought is kept: undefined for this node's own objects (every tier). */
export function edgeTiersOf(deps: Pick<FetchDeps, 'edgeCopy'>, res: OriginResponse): ClusterPath['edgeCopies'] | undefined {
  return res.peer !== undefined ? deps.edgeCopy?.tiers : undefined;
}

/**
 * What is kept of a peer's answer from a copy it had soft-purged is soft-purged too, at
 * the same instant (cluster/peer-fetch.ts): stale here as there, its stale windows
 * counting from the purge. Its fields cannot say so: read as fresh, a peer's stale
 * answer would be kept fresh for the rest of its max-age.
 */
export function softPurgedLike<M extends EntryMeta | undefined>(res: OriginResponse, meta: M): M {
  return res.softPurgedAtMs === undefined || meta === undefined ? meta : (expiredSince(meta, res.softPurgedAtMs) as M);
}

/**
 * What to do when the response stored under `key` turns out to be bytes nobody asked for.
 * Built outside the fetch, from scalars and the seal alone: the connection's tracker keeps
 * the callback for seconds after the response ended (origin/connection-trust.ts), and a
 * closure made inside run() would keep the whole fetch — request, response, shared body,
 * the client's request context — alive that long, promoted to the old generation on
 * every miss.
 */
export function whenDistrusted(
  deps: Pick<FetchDeps, 'stats' | 'logger' | 'store'>,
  key: string,
  sealedAt: Promise<void>,
  logged?: { id: number; url: string; upstream: string },
): () => void {
  const { stats, logger, store } = deps;
  // Scalars only: the log line's object is made if it is ever needed.
  const id = logged?.id;
  const url = logged?.url;
  const upstream = logged?.upstream;
  return () => {
    stats.inc('distrusted');
    if (url !== undefined) logger.warn({ id, url, upstream }, 'origin connection sent an unsolicited response; the response stored from it is removed');
    void sealedAt.then(() => store.delete(key).catch(() => false));
  };
}

/**
 * A fetch that got no response at all — the origin refused or reset the
 * connection, or did not answer in time — is "disconnected"; a response that is
 * not HTTP, or a failure of Strata's own, is not.
 */
export function failureOf(err: StrataError): OriginFailure {
  return err.code === 'ORIGIN_UNREACHABLE' || err.code === 'ORIGIN_TIMEOUT' ? 'disconnected' : 'error';
}
