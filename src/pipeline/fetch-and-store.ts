// One origin fetch for a cacheable request, and the store work that follows it,
// independent of any client: the result (FetchOutcome) is shared by every client
// collapsed onto the fetch, and a background revalidation uses it with no client
// at all.
//
// - A 304 that matches the stored entry refreshes its metadata, and that of every other
//   coding stored of the same response (refresh-codings.ts): "validated".
// - A storable response is written to the tiers by the fill (fill.ts), which reads
//   the shared body like any client; the body's end reaches clients after the commit.
// - A response that is not storable replaces nothing stored unless the refusal is
//   the response's own (not this request's) and its status below 500 and not one
//   that can be a client's own (cache/storable.ts CLIENTS_OWN_STATUSES); nobody fills, and if no client takes
//   the body, the origin transfer is stopped. Its collapsed followers may share it
//   only when it is an origin error that is safe to share: storable, or answering
//   a request without Cookie or Authorization.
// - With compression, a 200 in a coding the client does not accept (the fetch asked
//   for identity; the origin sent it anyway) is decoded for it, stored or not. The
//   variant key and the bounds are decided from the fields before anything reads
//   the body: a response passed on is read by its clients alone.
// - A transport failure is "failed"; each client decides (stale-if-error or error).
// - A large storable 200 that could be stored in slices, when the request allows
//   it, is "sliceable": stopped before anyone reads it.
// - A response already received (FetchRequest.answered: a slice's range request the
//   origin answered whole, slices.ts) is taken as this fetch's own: no origin request.

import { SharedBody } from '../coalesce/shared-body.js';
import { isOriginError } from '../cache/decide.js';
import { newEntryMeta } from '../cache/entry.js';
import { headerBytes, overBound } from '../cache/entry-bounds.js';
import { requestDirectives } from '../cache/reuse.js';
import { canValidate, mayRefreshShared, mergeNotModified, notModifiedAnswer, notModifiedMatches, ownNotModifiedAnswer, validatorHeaders } from '../cache/revalidate.js';
import { assessStorage, CLIENTS_OWN_STATUSES, REQUEST_SPECIFIC_REASONS, type NotStoredReason, type StorageVerdict } from '../cache/storable.js';
import { urlOfKey } from '../cache/key.js';
import { worthSlicing } from '../cache/slicing.js';
import { selectingValues, variantKey } from '../cache/vary.js';
import { StrataError } from '../errors.js';
import type { HeaderMap } from '../http/headers.js';
import { hasNoContent } from '../http/no-content.js';
import type { OriginRequest, OriginResponse } from '../origin/client.js';
import type { EntryMeta, StoredEntry } from '../store/types.js';
import type { FillProgress } from './context.js';
import { startFill } from './fill.js';
import { edgeTiersOf, fetchFrom, softPurgedLike, whenDistrusted } from './fetch-source.js';
import { decodedForClient, displaceable, keyByCoding, siblingCodings } from '../transform/coding-key.js';
import { isBadCoding } from '../transform/codings.js';
import type { FetchDeps, FetchOutcome, FetchRequest, FetchWork } from './fetch-outcome.js';
import { refreshOtherCodings, type RefreshCodingsDeps } from './refresh-codings.js';

export function createFetcher(deps: FetchDeps): (req: FetchRequest) => FetchWork {
  const { store, origin, clock, logger, stats, policy } = deps;
  const shared = deps.sharedMeta;
  const codingsDeps: RefreshCodingsDeps = { store, policy, logger, maxHeaderBytes: deps.bounds.maxHeaderBytes, share: (m) => shared.share(m) };

  async function deleteKeys(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((k) => store.delete(k).catch(() => false)));
  }

  /** Variants stored under another Vary field list are outdated by this response; undefined when there are none. */
  function dropOtherVaryShapes(meta: EntryMeta): Promise<void> | undefined {
    const shape = meta.varyNames.join(',');
    const stale = store.variants(meta.primaryKey).filter((m) => m.key !== meta.key && m.varyNames.join(',') !== shape);
    return stale.length ? deleteKeys(stale.map((m) => m.key)) : undefined;
  }

  /** What a committed response makes obsolete, removed; undefined when nothing is (the common miss: no promise to wait for). */
  function tidyAfterCommit(meta: EntryMeta, displaced: readonly string[], coded: boolean): Promise<void> | undefined {
    if (displaced.length === 0 && !coded) return dropOtherVaryShapes(meta);
    return (async () => {
      if (displaced.length) await deleteKeys(displaced);
      await dropOtherVaryShapes(meta);
      // A new body of the response: the variants made from (or sent for) the old one go.
      if (coded) await deleteKeys(siblingCodings(store.variants(meta.primaryKey), meta));
    })();
  }

  /**
   * A response that is not stored: clients stream it; if none takes it in its first turn, the transfer stops.
   * Nothing has read its body yet. A coding the request does not accept (the fetch asked the origin for
   * identity) is decoded for it, as a stored one would be.
   */
  function passing(req: FetchRequest, res: OriginResponse, reason: NotStoredReason, announced: number, finish: (stored: boolean) => void, safeToShare: boolean): FetchOutcome {
    deps.notStored?.record(req.key, { reason, status: res.status, atMs: clock.now() });
    const requestsOwn = REQUEST_SPECIFIC_REASONS.has(reason);
    const plain = deps.compress ? decodedForClient(res, req.requestHeaders, deps.compress) : undefined;
    if (plain) {
      stats.inc('decoded');
      plain.body.once('error', (err) => isBadCoding(err) && stats.inc('badCoding'));
    }
    const body = new SharedBody(plain?.body ?? res.body, { windowBytes: deps.passWindowBytes, expectedLength: plain ? -1 : announced }, Promise.resolve());
    setImmediate(() => body.abandonIfUnread());
    finish(false);
    return {
      kind: 'passing',
      upstream: res.upstream,
      status: res.status,
      headers: plain?.headers ?? res.headers,
      body,
      reason,
      // An origin error is the same for everyone waiting: shared, not multiplied;
      // but an error page made for one client's credentials is not another's.
      shareable: res.status >= 500 && (reason === 'status' || reason === 'not-reusable') && safeToShare,
      hitForPass: res.status < 500 && !requestsOwn,
    };
  }

  return function fetchAndStore(req: FetchRequest): FetchWork {
    let finish!: (stored: boolean) => void;
    const done = new Promise<boolean>((r) => (finish = r));
    let known!: (streaming: boolean) => void;
    const fill: FillProgress = { stored: done, streaming: new Promise<boolean>((r) => (known = r)) };
    const outcome = run(req, req.stored, finish, fill).catch((err: unknown): FetchOutcome => {
      finish(false);
      return { kind: 'failed', error: err instanceof StrataError ? err : new StrataError('INTERNAL', (err as Error).message) };
    });
    // The outcome is decided once the response is in: a storing one has its fill streaming already.
    void outcome.then((o) => known(o.kind === 'storing'));
    return { outcome, done };
  };

  async function run(req: FetchRequest, stored: StoredEntry | undefined, finish: (stored: boolean) => void, fill: FillProgress): Promise<FetchOutcome> {
    const validating = stored !== undefined && canValidate(stored.meta) && req.answered === undefined;
    const headers = validating ? { ...req.originHeaders, ...validatorHeaders(stored.meta) } : req.originHeaders;
    const answered = req.answered;
    const requestTimeMs = answered?.requestTimeMs ?? clock.now();
    // Taken before the fetch: a purge while it is in flight keeps its response out of the store.
    const purgeMark = answered?.purgeMark ?? store.purgeMark();
    let res: OriginResponse;
    if (answered) res = answered.res;
    else {
      // Literals, not spreads of optional parts: a spread is a runtime copy on every miss.
      const originReq: OriginRequest & { key: string; vouched?: readonly string[]; validatedTags?: readonly string[] } = req.onInterim
        ? { method: 'GET', target: req.target, headers, key: req.key, onInterim: req.onInterim }
        : { method: 'GET', target: req.target, headers, key: req.key };
      if (req.signal) originReq.signal = req.signal;
      if (req.vouched) originReq.vouched = req.vouched;
      // A peer's 304 is checked against the purges applied here by the tags of what it validates (cluster/peer-fetch.ts).
      if (validating && stored.meta.tags.length > 0) originReq.validatedTags = stored.meta.tags;
      res = await fetchFrom(deps, req.viaCluster, originReq, fill);
    }
    const responseTimeMs = answered?.responseTimeMs ?? clock.now();

    if (validating && res.status === 304) {
      res.body.resume();
      // A 304 for another representation: fetch the whole response instead.
      if (!notModifiedMatches(stored.meta, res.headers)) return run(req, undefined, finish, fill);
      stats.inc('revalidated');
      let refreshed = false;
      try {
        const notModified = { responseHeaders: res.headers, requestTimeMs, responseTimeMs };
        const exchange = { meta: stored.meta, ...notModified };
        const merged = softPurgedLike(res, mergeNotModified(exchange, policy));
        // Not refreshed, the client still gets the 304's fields (its no-store, Set-Cookie, Date)
        // and age, never the old entry's; a response no longer storable is its client's alone.
        const unshared = (detail: string, own: boolean): FetchOutcome => ({
          kind: 'validated',
          upstream: res.upstream,
          entry: { meta: merged ?? notModifiedAnswer(exchange), body: stored.body },
          refreshed: false,
          detail,
          purgeMark,
          notModified,
          ...(own || merged === undefined ? { own: true } : {}),
        });
        // A request's no-store forbids storing anything from this exchange.
        if (requestDirectives(req.requestHeaders).cc.has('no-store')) return unshared('request-no-store', false);
        // RFC 9111 §3.5: a 304 to a request with Authorization, unless public, must-revalidate or
        // s-maxage allow it, answers that client alone (the stored body is the one it validated)
        // and leaves the shared entry as it was: neither refreshed for others nor removed.
        if (!mayRefreshShared(req.requestHeaders, merged)) return unshared('authorization', true);
        // RFC 9111 §4.3.4: the 304 updates every coding stored of this response, not only the one it validated.
        const otherCodings = stored.meta.byCoding ? refreshOtherCodings(codingsDeps, stored.meta, notModified, purgeMark, req.id) : undefined;
        if (!merged) {
          await Promise.all([deleteKeys([stored.meta.key]), otherCodings]);
          return unshared('no-longer-storable', true);
        }
        // Over a bound, served, not stored (cache/entry-bounds.ts), as a 200 with these fields would be:
        // the stored entry is left as it was, stale, so the next request validates it again.
        if (headerBytes(merged.headers) > deps.bounds.maxHeaderBytes) {
          deps.notStored?.record(req.key, { reason: 'headers-too-large', status: res.status, atMs: clock.now() });
          return unshared('headers-too-large', false);
        }
        shared.share(merged);
        await store.update(merged, { purgeMark, refreshes: stored }).catch((err: unknown) => logger.warn({ id: req.id, err: (err as Error).message }, 'metadata update failed'));
        const others = await otherCodings;
        refreshed = true;
        const leaderMeta = ownNotModifiedAnswer(exchange, merged);
        return { kind: 'validated', upstream: res.upstream, entry: { meta: merged, body: stored.body }, refreshed: true, purgeMark, notModified, ...(leaderMeta ? { leaderMeta } : {}), ...(others?.size ? { otherCodings: others } : {}) };
      } finally {
        finish(refreshed);
      }
    }

    const assessed: StorageVerdict = assessStorage(
      { method: 'GET', url: urlOfKey(req.key), requestHeaders: req.requestHeaders, vouched: req.vouched, status: res.status, responseHeaders: res.headers, requestTimeMs, responseTimeMs },
      policy,
    );
    const verdict: StorageVerdict = isOriginError(res.status) && req.keepStaleOnError ? { store: false, reason: 'status' } : assessed;
    // Safe for collapsed followers: a response a shared cache could store, or one to a request without
    // credentials (checked ones the edge took out of view included: a private answer stays its client's).
    const safeToShare = assessed.store || (!carriesCredentials(req.requestHeaders) && req.vouched === undefined);
    const cl = res.headers['content-length'];
    // A 304 (unasked for) or 204 has no content whatever its Content-Length says (http/no-content.ts).
    let announced = hasNoContent('GET', res.status) ? 0 : cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : -1;
    if (!verdict.store) {
      // The new response replaces the stored one unless the refusal, or the status, can be this request's own.
      if (stored && res.status < 500 && !CLIENTS_OWN_STATUSES.has(res.status) && !REQUEST_SPECIFIC_REASONS.has(verdict.reason)) await deleteKeys([stored.meta.key]);
      return passing(req, res, verdict.reason, announced, finish, safeToShare);
    }

    if (req.maySlice && worthSlicing(res.status, res.headers, deps.sliceThresholdBytes)) {
      // Stopped before anything of it is read: the object is fetched again in slices.
      res.body.destroy();
      finish(false);
      return { kind: 'sliceable', upstream: res.upstream };
    }

    // With compression: keyed by the coding of the stored bytes, decoded first when the client cannot take it.
    // Decided from the fields alone: nothing reads the body until it is known to be stored, so a response
    // over a bound below is passed on from the origin's body itself (one reader, never a stalled second one).
    const coded = deps.compress ? keyByCoding(res, verdict.decision, req.requestHeaders, deps.compress) : undefined;
    const d = coded?.decision ?? verdict.decision;
    const selected = selectingValues(d.varyNames, req.requestHeaders);
    const varyValues = coded?.varyValues ? { ...selected, ...coded.varyValues } : selected;
    const key = variantKey(req.key, d.varyNames, varyValues);
    const variants = store.variants(req.key);
    let over = overBound({ url: req.key, headers: d.headers, variantsStored: variants.length, replacesVariant: variants.some((m) => m.key === key) }, deps.bounds);
    // Variants Strata encoded are made again at will, the origin's body is not: it takes their place (removed at its commit).
    const displaced = over === 'too-many-variants' ? displaceable(variants, variants.length + 1 - deps.bounds.maxVariants) : [];
    if (displaced.length) over = undefined;
    if (over) return passing(req, res, over, announced, finish, safeToShare);
    // A decoded body's length is known at its end only.
    if (coded?.decoding) announced = -1;
    // A copy of an object another node owns: kept where cluster.edgeCopies says.
    const edgeTiers = edgeTiersOf(deps, res);
    if (edgeTiers === 'none' || (edgeTiers === 'memory' && announced > deps.edgeCopy!.memoryMaxObjectBytes)) return passing(req, res, 'edge-copy', announced, finish, safeToShare);
    const source = coded ? coded.storedBody(res.body) : res.body;
    if (coded?.decoding) stats.inc('decoded');
    if (source !== res.body) source.once('error', (err) => isBadCoding(err) && stats.inc('badCoding'));
    const meta = softPurgedLike(res, newEntryMeta(d, {
      key,
      primaryKey: req.key,
      url: urlOfKey(req.key),
      status: res.status,
      varyValues,
      requestTimeMs,
      responseTimeMs,
      bodySize: announced,
    }));
    if (coded) meta.byCoding = true;
    if (coded?.decoding) meta.transform = coded.decoding;
    shared.share(meta);
    const body = startFill(source, store.open(meta, edgeTiers === 'memory' ? { purgeMark, memoryOnly: true } : { purgeMark }), {
      windowBytes: deps.windowBytes,
      expectedLength: announced,
      logger,
      logFields: { id: req.id, url: meta.url },
      notStored: 'response not stored',
      committed: () => {
        stats.inc('stored');
        return tidyAfterCommit(meta, displaced, coded !== undefined);
      },
      over: finish,
    });
    // Its connection then carried bytes nobody asked for: this response may be such bytes (origin/connection-trust.ts).
    res.onDistrust?.(whenDistrusted(deps, meta.key, body.sealedAt, { id: req.id, url: meta.url, upstream: res.upstream }));
    const clientHeaders = coded ? coded.clientHeaders(meta) : res.headers;
    return { kind: 'storing', upstream: res.upstream, status: res.status, headers: clientHeaders, body, stored: meta, purgeMark };
  }
}

/** The request carries credentials (Cookie, Authorization): an answer to it may be made for this client alone. */
function carriesCredentials(headers: HeaderMap): boolean {
  return headers['cookie'] !== undefined || headers['authorization'] !== undefined;
}
