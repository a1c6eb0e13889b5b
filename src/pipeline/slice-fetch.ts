// One origin range request for one slice of a large object (slices.ts): stored as
// that slice when the answer is a slice of a sliceable object (a 206 of the expected
// span, with a validator, storable, not varied), passed on otherwise, and handed to the
// whole-object fetcher when the origin ignored Range and sent its whole 200.

import { SharedBody } from '../coalesce/shared-body.js';
import { newEntryMeta } from '../cache/entry.js';
import { urlOfKey } from '../cache/key.js';
import { objectValidator, sliceKey, sliceRange, sliceSpan } from '../cache/slicing.js';
import { assessStorage } from '../cache/storable.js';
import { StrataError } from '../errors.js';
import { parseContentRange } from '../http/range.js';
import type { EntryMeta } from '../store/types.js';
import { startFill } from './fill.js';
import type { FetchOutcome, FetchWork } from './fetch-outcome.js';
import { edgeTiersOf, fetchFrom, softPurgedLike, whenDistrusted } from './fetch-source.js';
import type { SliceDeps, SliceRequest } from './slices.js';

/** A slice fill is never joined by another worker's request (FillProgress.streaming). */
const NOT_JOINED: Promise<boolean> = Promise.resolve(false);

/** One origin range request for slice `index`, stored when it is a slice of a sliceable object. */
export function fetchSlice(deps: SliceDeps, req: SliceRequest, index: number): FetchWork {
  const { store, clock, logger, stats, policy, sliceBytes, thresholdBytes, sharedMeta } = deps;
  let finish!: (stored: boolean) => void;
  const done = new Promise<boolean>((r) => (finish = r));
  const outcome = (async (): Promise<FetchOutcome> => {
    const headers = { ...req.originHeaders, range: sliceRange(index, sliceBytes) };
    const requestTimeMs = clock.now();
    // Taken before the fetch: a purge while it is in flight keeps this slice out of the store.
    const purgeMark = store.purgeMark();
    // A slice's waiters on other workers wait for it stored (they ask with a Range: a slice fill is not joined).
    const res = await fetchFrom(deps, req.viaCluster, { method: 'GET', target: req.target, headers, key: req.key, vouched: req.vouched }, { stored: done, streaming: NOT_JOINED });
    const responseTimeMs = clock.now();
    // RFC 9110 §14.2: a server may ignore Range. Its whole 200 is a complete response:
    // stored (when storable) and shared as a whole object's fetch is, never fetched again.
    if (res.status === 200 && deps.storeWhole) {
      const whole = deps.storeWhole({ id: req.id, key: req.key, requestHeaders: req.requestHeaders, vouched: req.vouched, originHeaders: req.originHeaders, target: req.target, maySlice: false, viaCluster: req.viaCluster, answered: { res, requestTimeMs, responseTimeMs, purgeMark } });
      void whole.done.then((stored) => finish(stored === true), () => finish(false));
      return whole.outcome;
    }
    const cr = parseContentRange(res.headers['content-range']);
    const expected = cr && sliceSpan(index, sliceBytes, cr.total);
    // A 206 holding the whole representation is complete (RFC 9111 §3.4): a one-slice
    // object, never combined with another, so it needs no validator against stitching.
    const complete = res.status === 206 && cr !== undefined && cr.start === 0 && cr.end === cr.total - 1 && cr.total > 0;
    const validator = objectValidator(res.headers) ?? (complete ? `complete:${cr.total}` : undefined);
    const whole = { ...res.headers };
    delete whole['content-range'];
    delete whole['content-length'];
    const verdict =
      res.status === 206 && cr && validator
        ? assessStorage({ method: 'GET', url: urlOfKey(req.key), requestHeaders: req.requestHeaders, vouched: req.vouched, status: 200, responseHeaders: whole, requestTimeMs, responseTimeMs }, policy)
        : undefined;
    const edgeTiers = edgeTiersOf(deps, res);
    const sliceable =
      edgeTiers !== 'none' && verdict?.store && verdict.decision.varyNames.length === 0 && (cr!.total > thresholdBytes || complete) && cr!.start === expected!.start && cr!.end === expected!.end;
    if (!sliceable) {
      const body = new SharedBody(res.body, { windowBytes: deps.windowBytes, expectedLength: -1 }, Promise.resolve());
      setImmediate(() => body.abandonIfUnread());
      finish(false);
      const reason = edgeTiers === 'none' ? 'edge-copy' : res.status !== 206 ? 'status' : !cr || !validator ? 'not-reusable' : verdict && !verdict.store ? verdict.reason : 'status';
      return { kind: 'passing', upstream: res.upstream, status: res.status, headers: res.headers, body, reason, shareable: false, hitForPass: false };
    }
    const d = verdict.decision;
    // A slice of a copy the owner soft-purged is soft-purged here too (fetch-source.ts).
    const meta: EntryMeta = softPurgedLike(res, newEntryMeta(d, {
      key: sliceKey(req.key, sliceBytes, index),
      primaryKey: req.key,
      url: urlOfKey(req.key),
      status: 206,
      varyValues: {},
      requestTimeMs,
      responseTimeMs,
      bodySize: cr!.end - cr!.start + 1,
      slice: { index, bytes: sliceBytes, totalBytes: cr!.total, validator: validator! },
    }));
    sharedMeta.share(meta);
    const body = startFill(res.body, store.open(meta, edgeTiers === 'memory' ? { purgeMark, memoryOnly: true } : { purgeMark }), {
      windowBytes: deps.windowBytes,
      expectedLength: meta.bodySize,
      logger,
      logFields: { id: req.id, url: meta.url, slice: index },
      notStored: 'slice not stored',
      committed: () => {
        stats.inc('stored');
        stats.inc('slicesStored');
      },
      over: finish,
    });
    // Its connection then carried bytes nobody asked for: this slice may be such bytes (origin/connection-trust.ts).
    res.onDistrust?.(whenDistrusted({ stats, logger, store }, meta.key, body.sealedAt));
    return { kind: 'storing', upstream: res.upstream, status: 206, headers: res.headers, body, stored: meta, purgeMark };
  })().catch((err: unknown): FetchOutcome => {
    finish(false);
    return { kind: 'failed', error: err instanceof StrataError ? err : new StrataError('INTERNAL', (err as Error).message) };
  });
  return { outcome, done };
}
