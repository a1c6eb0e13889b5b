// Large objects in slices (what nginx's slice module does): an object above
// `slices.thresholdBytes` whose origin answers range requests (seen from the 206
// to a range request that missed, or from a whole 200 that advertises byte
// ranges: the fetch names that one "sliceable") is fetched and stored as fixed-size slices,
// each its own entry under the object's primary key
// (so a purge or an invalidation removes them with the rest), each fetched with
// one origin range request through the coalescer (one fetch per slice in flight).
//
// The object is presented to the deliverer as an ordinary StoredEntry whose Body
// reads slices in order as a range is streamed: a range request fetches only the
// slices it needs, a full GET streams every slice in turn, and the client gets
// bytes as they arrive, never after the whole object.
//
// A range request that misses on an object no larger than one slice is answered
// by a 206 holding all of it: that 206 is stored too, as a one-slice object
// (storing partial content, RFC 9111 §3.3, §3.4).
//
// An origin that ignores Range answers a slice's range request with its whole
// 200: that complete response goes to the whole-object fetcher (storeWhole) as if
// it had fetched it, and the caller answers from it (on-miss.ts fromWhole); the
// object is never fetched a second time for it.
//
// A stale slice whose fetch fails answers as a stale whole entry would; a stored one
// found damaged before a byte of it went out is fetched again in its place.
//
// Versions are never stitched: every slice records the object's validator (strong
// ETag, else Last-Modified) and complete length. A slice whose validator or length
// differs from the first one the answer was built on fails the body (the deliverer
// cuts the connection), and the slices of the outdated version are dropped so the
// next request refetches a consistent set.
//
// One slice's origin request, and whether its answer is stored as a slice: slice-fetch.ts.

import type { Logger } from 'pino';
import { Readable } from 'node:stream';
import { readerOf } from '../coalesce/shared-body.js';
import type { MissFlights } from './context.js';
import type { SharedMeta } from './shared-meta.js';
import { urlOfKey } from '../cache/key.js';
import { isOriginError, requestFacts, staleOnFailure, type GraceWindows } from '../cache/decide.js';
import { currentAge, requestDirectives } from '../cache/reuse.js';
import { noSlicesKey, reusableSlice, sliceKey, sliceSpan, slicesCover } from '../cache/slicing.js';
import { REQUEST_SPECIFIC_REASONS, type StoragePolicyOptions } from '../cache/storable.js';
import { StrataError } from '../errors.js';
import type { HeaderMap } from '../http/headers.js';
import { parseContentRange, unsatisfiedRangeLength } from '../http/range.js';
import type { Stats } from '../observability/stats.js';
import type { OriginClient } from '../origin/client.js';
import type { Body, EntryMeta, Purgeable, Store, StoredEntry } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import { isWholeAnswer, newsOfObject, objectHeaders, ownSlice, sameVersion, SliceChangedError, trimmed, whyNot, type SlicedObject, type WholeAnswer, type SliceSource, type SliceVersion } from './slice-parts.js';
import type { FetchDeps, FetchOutcome, FetchRequest, FetchWork } from './fetch-outcome.js';
import { failureOf } from './fetch-source.js';
import { fetchSlice } from './slice-fetch.js';

export interface SliceDeps {
  store: Store & Purgeable;
  origin: OriginClient;
  coalescer: MissFlights;
  clock: Clock;
  logger: Logger;
  stats: Stats;
  policy: StoragePolicyOptions;
  windowBytes: number;
  thresholdBytes: number;
  sliceBytes: number;
  /** The cluster: slices of an object another node owns come through the owner (fetch-source.ts fetchFrom). */
  cluster?: FetchDeps['cluster'];
  edgeCopy?: FetchDeps['edgeCopy'];
  /** Values and empty lists shared between stored entries (the fetcher's own, so both share one table). */
  sharedMeta: SharedMeta;
  /** The route's stale windows: a stale slice answers an origin failure as a stale whole entry would. */
  grace: GraceWindows;
  /** The whole-object fetcher (fetch-and-store.ts), given a whole 200 a slice's range request received. */
  storeWhole?: (req: FetchRequest) => FetchWork;
}

export interface SliceRequest {
  id: number;
  /** The object's primary key. */
  key: string;
  target: string;
  requestHeaders: HeaderMap;
  /** Credential fields the edge checked and took out of requestHeaders (edge.publicAfterAuth). */
  vouched?: readonly string[] | undefined;
  /** Fields for the origin, without the client's Range and conditionals. */
  originHeaders: HeaderMap;
  /** Through the cluster (false: a peer's request, answered from the origin). */
  viaCluster?: boolean;
  /** only-if-cached (RFC 9111 §5.2.1.7): stored slices only; a missing one fails, never fetched. */
  cachedOnly?: boolean;
}

export function createSlicer(deps: SliceDeps) {
  const { store, coalescer, clock, logger, stats, sliceBytes, thresholdBytes } = deps;

  /** Slice metadata stored for this object (any version). */
  function storedSlices(primaryKey: string): EntryMeta[] {
    // A slice's metadata is whole in every tier (the disk keeps it in RAM: store/disk/records.ts).
    return store.variants(primaryKey).filter((m): m is EntryMeta => m.slice !== undefined && m.slice.bytes === sliceBytes && 'headers' in m);
  }

  /** Remove every slice of the object not of version `keep` (all of them when undefined). */
  async function dropVersion(primaryKey: string, keep: SliceVersion | undefined): Promise<void> {
    const stale = storedSlices(primaryKey).filter((m) => !keep || !sameVersion(m.slice!, keep));
    if (stale.length === 0) return;
    stats.inc('sliceVersionDrops');
    await Promise.all(stale.map((m) => store.delete(m.key).catch(() => false)));
  }

  /** Slice `index` from the origin, sharing a fetch already in flight for it (`joined`). */
  async function fetchShared(req: SliceRequest, index: number): Promise<{ outcome: FetchOutcome; joined: boolean }> {
    const key = sliceKey(req.key, sliceBytes, index);
    const joined = coalescer.join(key);
    if (joined) {
      stats.inc('joined');
      return { outcome: await joined.outcome, joined: true };
    }
    return { outcome: await coalescer.lead(key, () => fetchSlice(deps, req, index)).outcome, joined: false };
  }

  /** The stored slice `index`, of `version` when one is given (one of another length is another version even under the same validator). */
  async function storedOf(req: SliceRequest, index: number, version: SliceVersion | undefined): Promise<StoredEntry | undefined> {
    const key = sliceKey(req.key, sliceBytes, index);
    const e = store.peek(key) ?? (await store.get(key).catch(() => undefined));
    return e?.meta.slice && (!version || sameVersion(e.meta.slice, version)) ? e : undefined;
  }

  /** A fresh stored slice, of `version` when one is given, if there is one. */
  async function storedSlice(req: SliceRequest, index: number, version: SliceVersion | undefined): Promise<StoredEntry | undefined> {
    const e = await storedOf(req, index, version);
    return e && reusableSlice(e.meta, undefined, requestDirectives(req.requestHeaders), clock.now()) ? e : undefined;
  }

  /**
   * A stale stored slice that may answer for the origin's failure `o` (no answer, or a
   * 500/502/503/504), under the rules a stale whole entry answers by (stale-if-error, the route's
   * stale-if-disconnected window): a sliced object is no less available than a whole one.
   */
  async function staleSlice(req: SliceRequest, index: number, version: SliceVersion | undefined, o: FetchOutcome): Promise<SliceSource | undefined> {
    if (o.kind !== 'failed' && (o.kind !== 'passing' || !isOriginError(o.status))) return undefined;
    const e = await storedOf(req, index, version);
    const stale = e && staleOnFailure(requestFacts(req.requestHeaders), e.meta, clock.now(), deps.grace, o.kind === 'failed' ? failureOf(o.error) : 'error');
    return stale ? { ...storedSource(req, index, e), stale } : undefined;
  }

  function storedSource(req: SliceRequest, index: number, e: StoredEntry): SliceSource {
    const version = e.meta.slice!;
    return { meta: e.meta, version, read: (from, to) => storedOrFetched(req, index, version, e.body.stream(from, to), from, to), release: () => {} };
  }

  /**
   * A stored slice's bytes. One found damaged before its first byte went out (the disk
   * checks a body whole on its first read, and removes it) is fetched again in its
   * place: the answer goes on, never with a damaged byte, where it was cut.
   */
  async function* storedOrFetched(req: SliceRequest, index: number, version: SliceVersion, stored: Readable, from: number, to: number): AsyncGenerator<Buffer> {
    let sent = false;
    try {
      for await (const chunk of stored as AsyncIterable<Buffer>) {
        sent = true;
        yield chunk;
      }
      return;
    } catch (err) {
      if (sent || (err as NodeJS.ErrnoException).code !== 'EINTEGRITY') throw err;
    }
    const s = await slice(req, index, version);
    if ('outcome' in s) throw new SliceChangedError(`slice ${index} was damaged on disk and could not be fetched again (${whyNot(s.outcome)})`);
    if (sameVersion(s.version, version)) return yield* s.read(from, to);
    s.release();
    throw new SliceChangedError(`slice ${index} was damaged on disk and the origin now has another version`);
  }

  /**
   * Slice `index` as a readable source, from the cache or the origin. `version`: the
   * object the answer is built on (none for its first slice), which a slice this
   * request alone may not store can still be read from (ownSlice).
   */
  async function slice(req: SliceRequest, index: number, version: SliceVersion | undefined): Promise<SliceSource | { outcome: FetchOutcome; joined?: boolean }> {
    const stored = await storedSlice(req, index, version);
    if (stored) return storedSource(req, index, stored);
    if (req.cachedOnly) return { outcome: { kind: 'failed', error: new StrataError('ONLY_IF_CACHED_MISS') } };
    let { outcome: o, joined } = await fetchShared(req, index);
    // The origin ignored the range: its whole response is no slice, the caller answers from it.
    if (isWholeAnswer(o)) return { outcome: o, joined };
    let reader = o.kind === 'storing' ? readerOf(o.body) : undefined;
    // Joined too late to read the shared body from its start, or joined a fetch whose
    // answer was another request's own (its no-store, its credentials): fetch this slice alone.
    if (joined && (o.kind === 'storing' ? !reader : o.kind === 'passing' && REQUEST_SPECIFIC_REASONS.has(o.reason))) {
      joined = false;
      o = await fetchSlice(deps, req, index).outcome;
      reader = o.kind === 'storing' ? readerOf(o.body) : undefined;
    }
    if (o.kind === 'passing' && version) return ownSlice(o, index, sliceBytes, version) ?? (await staleSlice(req, index, version, o)) ?? { outcome: o };
    if (o.kind !== 'storing' || !reader) return (await staleSlice(req, index, version, o)) ?? { outcome: o };
    const r = reader;
    return { meta: o.stored, version: o.stored.slice!, read: (from, to) => trimmed(r, from, to), upstream: o.upstream, joined, release: () => r.destroy() };
  }

  /** The object's body: slices read in order as a range is streamed. */
  function slicedBody(req: SliceRequest, first: { index: number; source: SliceSource }): Body {
    const version = first.source.version;
    const { totalBytes, validator } = version;
    let firstUnused: SliceSource | undefined = first.source;
    return {
      size: totalBytes,
      stream(start = 0, end = totalBytes - 1): Readable {
        async function* bytes(): AsyncGenerator<Buffer> {
          const last = Math.floor(end / sliceBytes);
          let ahead: Promise<SliceSource | { outcome: FetchOutcome }> | undefined;
          try {
            for (let i = Math.floor(start / sliceBytes); i <= last; i++) {
              let src: SliceSource;
              if (i === first.index && firstUnused) {
                src = firstUnused;
                firstUnused = undefined;
              } else {
                const s = await (ahead ?? slice(req, i, version));
                ahead = undefined;
                if ('outcome' in s) {
                  // The origin answered, but not with a slice of this object (it shrank, lost
                  // range support, now refuses storing): no stored slice of it is usable any more.
                  // Its failure (isOriginError) or a refusal that is this request's own proves nothing of the object.
                  // Then slicing is off for it, as when its first slice is found so (on-miss.ts): fetched whole, not cut here again.
                  if (newsOfObject(s.outcome)) {
                    coalescer.markPass(noSlicesKey(req.key));
                    await dropVersion(req.key, undefined);
                  }
                  throw new SliceChangedError(`slice ${i} could not be fetched (${whyNot(s.outcome)})`);
                }
                src = s;
              }
              const m = src.version;
              if (!sameVersion(m, version)) {
                // The origin's object changed under this answer: never stitch two versions.
                // The slice that differs was just fetched (storedSlice reads only this version): it is the newer one.
                logger.warn({ id: req.id, url: urlOfKey(req.key), slice: i, was: validator, now: m.validator, wasBytes: totalBytes, nowBytes: m.totalBytes }, 'object changed between slices; answer cut, outdated slices dropped');
                await dropVersion(req.key, m);
                throw new SliceChangedError(`slice ${i} belongs to another version of the object`);
              }
              // One slice ahead: the next origin request (its round trip, its slow start)
              // overlaps this slice's delivery, at the cost of at most one slice more in
              // memory per answer.
              if (i < last && !(i + 1 === first.index && firstUnused)) ahead = slice(req, i + 1, version);
              const span = sliceSpan(i, sliceBytes, totalBytes);
              yield* src.read(Math.max(start, span.start) - span.start, Math.min(end, span.end) - span.start);
            }
          } finally {
            // An answer that ends early lets go of the slice fetched ahead (its fill goes on).
            if (ahead) void ahead.then((s) => ('outcome' in s ? undefined : s.release()), () => undefined);
          }
        }
        return Readable.from(bytes(), { objectMode: false });
      },
    };
  }

  return {
    /** Whether slices of this object are stored (any request for it is then answered from slices). */
    knows(primaryKey: string): boolean {
      return storedSlices(primaryKey).length > 0;
    },

    /**
     * Whether every slice a request needs is stored, fresh for it and of one version
     * (cache/slicing.ts): an only-if-cached request is then answered from them, with
     * no origin request and nothing cut short. A store failure: not held.
     */
    holds(primaryKey: string, requestHeaders: HeaderMap): boolean {
      try {
        return slicesCover(storedSlices(primaryKey), primaryKey, sliceBytes, requestHeaders, clock.now());
      } catch {
        return false;
      }
    },

    /**
     * The object as a stored entry built on the slice holding `firstByte`. Nothing
     * is sent to the client yet: an unsliceable object is the caller's to answer.
     */
    async open(req: SliceRequest, firstByte: number): Promise<SlicedObject> {
      const known = storedSlices(req.key)[0]?.slice;
      // Past the end of a known object: the first slice still carries the length for a 416.
      const index = known && firstByte >= known.totalBytes ? 0 : Math.floor(firstByte / sliceBytes);
      const s = await slice(req, index, undefined);
      if ('outcome' in s) {
        const o = s.outcome;
        if (isWholeAnswer(o)) return { kind: 'whole', outcome: o as WholeAnswer, collapsed: s.joined === true };
        if (o.kind === 'failed') return { kind: 'failed', error: o.error };
        if (o.kind === 'passing' && isOriginError(o.status)) return { kind: 'unsliceable', why: 'origin-error' };
        // A 416 names the length (RFC 9110 §14.4): a small object's (an empty one's probe is always a 416) is stored
        // whole like any small one; past the threshold, a range beyond the end says nothing about slicing.
        const total = o.kind !== 'passing' ? undefined : o.status === 206 ? parseContentRange(o.headers['content-range'])?.total : o.status === 416 ? unsatisfiedRangeLength(o.headers['content-range']) : undefined;
        if (o.kind === 'passing' && o.status === 416 && (total === undefined || total > thresholdBytes)) return { kind: 'unsliceable', why: 'unsatisfiable' };
        return { kind: 'unsliceable', why: total !== undefined && total <= thresholdBytes ? 'small' : whyNot(o) };
      }
      const meta = s.meta;
      // Read without a version to read against, a slice is always a stored one (ownSlice needs one).
      if (!meta) return { kind: 'failed', error: new StrataError('INTERNAL', 'first slice of an answer has no stored metadata') };
      const fromCache = s.upstream === undefined;
      // A newer version fetched: slices stored for another version are outdated.
      if (storedSlices(req.key).some((m) => !sameVersion(m.slice!, meta.slice!))) await dropVersion(req.key, meta.slice!);
      const objectMeta: EntryMeta = { ...meta, key: req.key, status: 200, headers: objectHeaders(meta), bodySize: meta.slice!.totalBytes };
      delete objectMeta.integrity;
      return {
        kind: 'object',
        entry: { meta: objectMeta, body: slicedBody(req, { index, source: s }) },
        ageS: currentAge(meta, clock.now()),
        fromCache,
        collapsed: s.joined === true,
        ...(s.stale ? { stale: s.stale } : {}),
        ...(s.upstream ? { upstream: s.upstream } : {}),
        // An answer that never read its first slice (HEAD, 304, 416, a suffix range)
        // must not hold that slice's shared body.
        release: () => s.release(),
      };
    },
  };
}

export type Slicer = ReturnType<typeof createSlicer>;
