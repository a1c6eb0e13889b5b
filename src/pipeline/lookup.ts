// Finding the stored variant for a request among every variant under the primary
// key (the caller has already tried the unvaried memory entry, the hot path). When
// several variants match, the most recent wins (RFC 9111 §4.1). With compression
// on, the choice is transform/select.ts's (Accept-Encoding by negotiated coding).

import { ServerResponse } from 'node:http';
import type { HeaderMap } from '../http/headers.js';
import { varyMatches } from '../cache/vary.js';
import type { Store, StoredEntry, VariantMeta } from '../store/types.js';

export type Lookup =
  | { found: StoredEntry }
  | { found: undefined; miss: 'uri-miss' | 'vary-miss' };

/**
 * The variant for a request among a URL's stored variants; `whole`: some entry is not a
 * slice. Variants may carry no more than VariantMeta, or a VariantSummary (a disk entry
 * keeping its metadata on disk, entry.ts): get() gives the whole metadata.
 */
export type Choose = (variants: readonly VariantMeta[], req: HeaderMap) => { meta?: VariantMeta; whole: boolean };

export const chooseByVary: Choose = (variants, req) => {
  let best: VariantMeta | undefined;
  let whole = false;
  const seen = new Map<string, string>();
  for (const m of variants) {
    // A slice is part of an object, never an answer on its own (pipeline/slices.ts).
    if (m.slice) continue;
    whole = true;
    if (varyMatches(m.varyNames, m.varyValues, req, seen) && (!best || m.responseTimeMs > best.responseTimeMs)) best = m;
  }
  return best ? { meta: best, whole } : { whole };
};

type Picked = { meta: VariantMeta } | { meta: undefined; miss: 'uri-miss' | 'vary-miss' };

/** The variant's metadata, chosen without I/O, or why there is none. */
function pick(store: Store, primaryKey: string, req: HeaderMap, choose: Choose = chooseByVary): Picked {
  const variants = store.variants(primaryKey);
  if (variants.length === 0) return { meta: undefined, miss: 'uri-miss' };
  const c = choose(variants, req);
  if (!c.meta) return { meta: undefined, miss: c.whole ? 'vary-miss' : 'uri-miss' };
  return { meta: c.meta };
}

const URI_MISS: Lookup = { found: undefined, miss: 'uri-miss' };

function looked(entry: StoredEntry | undefined): Lookup {
  return entry ? { found: entry } : URI_MISS;
}

/**
 * The variant chosen (pick()), then its entry. Synchronous when the store answers at once
 * (memory, or Store.find: a disk hit whose metadata is in RAM), a promise otherwise; a
 * store failure throws or rejects.
 */
export function lookup(store: Store, primaryKey: string, req: HeaderMap, choose?: Choose): Lookup | Promise<Lookup> {
  const p = pick(store, primaryKey, req, choose);
  if (!p.meta) return { found: undefined, miss: p.miss };
  const key = p.meta.key;
  // find() is get() without a promise when it can: memory first, as peek().
  const entry = store.find ? store.find(key) : (store.peek(key) ?? store.get(key));
  return entry instanceof Promise ? entry.then(looked) : looked(entry);
}

/**
 * A hit answered from `entry` by this request alone: a body in a lent buffer
 * (Body.release, a disk hit read whole) is lent again once the socket needs none of
 * its bytes — at once when end() wrote them all, else when node:http says the answer
 * finished (its last write completed). Only
 * when the answer was written at once from the buffer (`answered` not a promise: a
 * variant made from the body may outlive the answer) and only over HTTP/1.1 (an h2
 * response says 'finish' when its stream closes, possibly before the session wrote
 * the bytes). Otherwise nothing: the buffer is simply not reused.
 */
export function lendAgainWhenSent(res: ServerResponse, entry: StoredEntry, answered: void | Promise<void>): void | Promise<void> {
  const release = entry.body.release;
  if (release === undefined || answered !== undefined || !(res instanceof ServerResponse)) return answered;
  // Written whole already (end() handed every byte to the socket, which wrote them at
  // once: the usual case for a small body): lent again now, no listener per answer.
  if (res.writableFinished) release.call(entry.body);
  else res.once('finish', () => release.call(entry.body));
  return answered;
}
