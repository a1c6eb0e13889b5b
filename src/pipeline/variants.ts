// Variants made for clients (transform/): the identity body of a response encoded
// in the client's coding, or an origin's coding decoded for a client that does
// not accept it. Made once per variant: the first client's request starts a fill
// (fast level, shared body like any origin fill, stored beside the source);
// clients asking for the same variant of the same source body meanwhile read the
// same fill (a client of a newer body makes its own); later ones
// hit the stored copy. An encoded variant is then queued for recompression at
// the best level (transform/recompress.ts). A variant over cache.maxVariants (made
// ones count like the origin's), or made for a request with no-store, is made for
// its client and streamed, not stored. Made from a shared origin body, a variant's
// reader is shed when it falls behind and continues from the stored source
// (resume-from-store.ts): neither a slow client nor a gone one paces the fill.
//
// Invariants: a made body is stored only when whole (fill.ts); a source or a
// coding that fails (corrupt, past the decoding limit) cuts the client's
// connection and stores nothing, and a stored source that fails to decode is
// deleted (it would fail every client without its coding); a purge since the source was fetched, looked
// up (a disk read) or validated keeps the variant out of the store (the write carries the mark taken before).

import type { Readable } from 'node:stream';
import type { CacheOutcome } from '../cache/outcome.js';
import { ageFields, baseHeaders, deliverNotModified } from '../deliver/respond.js';
import { isNotModified } from '../http/conditionals.js';
import { SharedBody } from '../coalesce/shared-body.js';
import { overBound, type EntryBounds, type OverBound } from '../cache/entry-bounds.js';
import { requestDirectives } from '../cache/reuse.js';
import type { EntryMeta } from '../store/types.js';
import { isSummarized } from '../entry.js';
import { compressor, decoded, isBadCoding, through } from '../transform/codings.js';
import { sameSource, type Plan } from '../transform/select.js';
import { derivedMeta, presentedHeaders } from '../transform/variant-meta.js';
import { deliverFor, settle, type NodeEnv, type RequestContext } from './context.js';
import { startFill } from './fill.js';
import { resumeFromStore } from './resume-from-store.js';

interface Made {
  meta: EntryMeta;
  body: SharedBody;
  /** Being stored (a late client may continue from the stored copy); false: streamed for one client. */
  stored: boolean;
}

/** Where a variant is made from: the source's metadata, its size (-1: not known yet), a reader of its bytes. */
export interface VariantSource {
  meta: EntryMeta;
  bytes: number;
  read: () => Readable | undefined;
  /**
   * The purge mark taken before the source was fetched, looked up or validated: a purge since
   * keeps the variant out of the store. Absent: now (a source looked up without awaiting anything).
   */
  purgeMark?: number | undefined;
  /** false: a variant made from it is made for its client and streamed, never stored nor joined. */
  storable?: boolean;
}

/**
 * A variant being made, as later clients may join it: its store key and the body it is made
 * from (key, times, validators). A client of another body — a newer one, or one stored after
 * an invalidation — never joins a fill of the old one (it would get the old bytes).
 */
function fillKey(meta: EntryMeta, source: EntryMeta): string {
  return `${meta.key}\n${source.key}\n${source.requestTimeMs} ${source.responseTimeMs}\n${source.headers['etag'] ?? ''}\n${source.headers['last-modified'] ?? ''}`;
}

export function createVariants(env: NodeEnv) {
  const { store, logger, stats } = env;
  /** Variants being made and stored, by fillKey(). */
  const inflight = new Map<string, Made>();
  // Made variants count against cache.maxVariants like the origin's (cache/entry-bounds.ts).
  const c = env.config.cache;
  const bounds: EntryBounds = { maxUrlBytes: c.maxStoredUrlBytes, maxHeaderBytes: c.maxStoredHeaderBytes, maxVariants: c.maxVariants };

  /** A stored body in a coding that does not decode (corrupt, or past the limit) would cut every client without it: it goes. */
  async function dropUndecodable(source: EntryMeta): Promise<void> {
    // Whole or summarized (the disk tier's, store/disk/records.ts): validators are enough to say it is the same body.
    const now = store.variants(source.primaryKey).find((m) => m.key === source.key);
    if (!now || !isSummarized(now) || !sameSource(source, now, -1)) return;
    stats.inc('badCoding');
    await store.delete(source.key).catch(() => false);
  }

  /** The variant's bytes, made from the source as it is read; undefined when the source's start is gone. */
  function make(src: VariantSource, plan: NonNullable<Plan>): Readable | undefined {
    const input = src.read();
    if (!input) return undefined;
    const maxDecoded = env.compress!.maxDecodedBytes;
    const out = plan.op === 'encode' ? through(input, compressor(plan.coding, 'fast', src.bytes)) : decoded(input, plan.from, maxDecoded);
    stats.inc(plan.op === 'encode' ? 'compressed' : 'decoded');
    if (plan.op === 'decode') out.once('error', (err) => isBadCoding(err) && void dropUndecodable(src.meta));
    return out;
  }

  /** Why the variant is made for this client alone and not stored; undefined: it is stored. */
  function notStored(meta: EntryMeta): OverBound | undefined {
    const variants = store.variants(meta.primaryKey);
    return overBound({ url: meta.primaryKey, headers: meta.headers, variantsStored: variants.length, replacesVariant: variants.some((m) => m.key === meta.key) }, bounds);
  }

  /** A variant made for one client and not stored: streamed, paced by that client. */
  function streamOnly(meta: EntryMeta, src: VariantSource, plan: NonNullable<Plan>): Made | undefined {
    const out = make(src, plan);
    if (!out) return undefined;
    return { meta, body: new SharedBody(out, { windowBytes: env.config.coalesce.windowBytes, expectedLength: -1 }, Promise.resolve()), stored: false };
  }

  /** A variant made and stored, listed under `key` (fillKey) while it is made, for later clients to join. */
  function start(meta: EntryMeta, src: VariantSource, plan: NonNullable<Plan>, key: string): Made | undefined {
    const out = make(src, plan);
    if (!out) return undefined;
    const purgeMark = src.purgeMark ?? store.purgeMark();
    const made: Made = { meta, body: undefined as unknown as SharedBody, stored: true };
    made.body = startFill(out, store.open(meta, { purgeMark }), {
      windowBytes: env.config.coalesce.windowBytes,
      expectedLength: -1,
      logger,
      logFields: { url: meta.url, coding: meta.transform?.coding },
      notStored: 'variant not stored',
      committed: async () => {
        stats.inc('stored');
        // The source was replaced while this was made (a new body from the origin): not a variant of it.
        // Judged from its validators and size, which its summary has when the disk tier keeps no more in RAM.
        const now = store.variants(src.meta.primaryKey).find((m) => m.key === src.meta.key);
        if (!sameSource(src.meta, now && isSummarized(now) ? now : undefined, src.bytes)) {
          await store.delete(meta.key);
          return;
        }
        if (plan.op === 'encode') env.recompressor?.enqueue(meta, src.meta.key);
      },
      over: () => {
        if (inflight.get(key) === made) inflight.delete(key);
      },
    });
    inflight.set(key, made);
    return made;
  }

  return {
    /**
     * Answer one client with the variant `plan` makes from `src`: a 304 when its
     * conditional matches the variant, else the variant's fill (joined when one
     * is in flight). "alone" (nothing written or settled): the source's start is
     * gone (a shared body past its window), the client must fetch its own.
     */
    async answer(ctx: RequestContext, src: VariantSource, plan: NonNullable<Plan>, ageS: number, outcome: CacheOutcome): Promise<'alone' | undefined> {
      const meta = derivedMeta(src.meta, plan, 'fast', src.bytes);
      if (isNotModified(ctx.headers, presentedHeaders(meta))) {
        deliverNotModified(ctx.res, meta, ageS, settle(env, ctx, outcome), deliverFor(env, ctx));
        return undefined;
      }
      if (ctx.method === 'HEAD') {
        // The fields the GET would get (RFC 9110 §9.3.2: Content-Encoding, the variant's ETag, Vary); nothing made.
        ctx.res.writeHead(200, baseHeaders(meta, deliverFor(env, ctx)).concat(ageFields(meta, ageS, deliverFor(env, ctx)), 'cache-status', settle(env, ctx, outcome)));
        ctx.res.end();
        return undefined;
      }
      // RFC 9111 §5.2.1.5: the request's no-store forbids storing any response to it, a variant made for it
      // included; nor does it join a variant being stored for others.
      const alone = src.storable === false || requestDirectives(ctx.headers).cc.has('no-store');
      const key = alone ? undefined : fillKey(meta, src.meta);
      let made = key === undefined ? undefined : inflight.get(key);
      if (!made || !made.body.available) {
        // Over a bound (the URL's variants): made for this client, not stored, and said so as the origin's would be.
        const over = key === undefined ? undefined : notStored(meta);
        if (over) outcome.detail ??= over;
        made = key === undefined || over ? streamOnly(meta, src, plan) : start(meta, src, plan, key);
      }
      if (!made) return 'alone';
      // Cache-Status says this answer was made for the client (it cost CPU), unless it already says why it was served.
      outcome.detail ??= plan.op === 'encode' ? `compress-${plan.coding}` : `decode-${plan.from}`;
      const raw = baseHeaders(made.meta, deliverFor(env, ctx)).concat(ageFields(made.meta, ageS, deliverFor(env, ctx)), 'cache-status', settle(env, ctx, outcome));
      ctx.res.writeHead(200, raw);
      const sending = made.body.sendTo(ctx.res, made.stored, ctx);
      // Made for this client alone, and it is gone already (sendTo attached nothing): unread, it
      // would hold its source for good (a shared body's window, the fill with it; a stored file).
      if (!made.stored) made.body.abandonIfUnread();
      if (!sending) {
        ctx.res.destroy();
        return undefined;
      }
      const r = await sending;
      if (r.lagged) await resumeFromStore(store, made.meta, made.body.sealedAt, ctx.res, r.sent, ctx);
      // A source that did not decode is logged once, by the fill of the variant.
      else if (r.error && !isBadCoding(r.error)) logger.warn({ id: ctx.id, url: ctx.target, err: r.error.message }, 'variant failed mid-transfer; nothing stored, client connection cut');
      return undefined;
    },
  };
}

export type Variants = ReturnType<typeof createVariants>;
