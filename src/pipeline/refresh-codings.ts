// The other codings of a response a 304 validated, refreshed by that 304 too (RFC 9111
// §4.3.4: a 304 updates every stored response it selects). With compression a response is
// stored once per coding (the origin's body, the variants made from it or decoded from it,
// transform/coding-key.ts sameResponseCodings): refreshing the one that was validated alone
// left the others stale with the old fields, each sent back to the origin when next asked for.
//
// Invariant: each coding is refreshed from its own stored metadata (its body's fields kept,
// revalidate.ts mergeNotModified), only while it still holds the same response (validators
// read again from the whole record), and never when the 304 no longer selects it (a
// no-transform 304 selects no made variant). One no longer storable after the 304 is removed,
// as the validated entry is.

import type { Logger } from 'pino';
import { headerBytes } from '../cache/entry-bounds.js';
import { mergeNotModified, notModifiedMatches, type NotModifiedInput } from '../cache/revalidate.js';
import type { StoragePolicyOptions } from '../cache/storable.js';
import { etagOf, isWhole, lastModifiedOf } from '../entry.js';
import type { EntryMeta, Purgeable, Store } from '../store/types.js';
import { sameResponseCodings } from '../transform/coding-key.js';

export interface RefreshCodingsDeps {
  store: Store & Purgeable;
  policy: StoragePolicyOptions;
  logger: Logger;
  /** cache.maxStoredHeaderBytes: a coding whose merged fields exceed it is left as it was (stale), as the validated one is. */
  maxHeaderBytes: number;
  /** Shares the refreshed metadata's values with other entries (shared-meta.ts). */
  share(meta: EntryMeta): void;
}

/** The refreshed metadata of every other coding of `validated`'s response, by key. */
export async function refreshOtherCodings(deps: RefreshCodingsDeps, validated: EntryMeta, notModified: Omit<NotModifiedInput, 'meta'>, purgeMark: number, id: number): Promise<Map<string, EntryMeta>> {
  const { store } = deps;
  const refreshed = new Map<string, EntryMeta>();
  const listed = sameResponseCodings(store.variants(validated.primaryKey), validated);
  await Promise.all(
    listed.map(async (v) => {
      try {
        const meta = isWhole(v) ? v : store.readMeta ? await store.readMeta(v.key) : (await store.get(v.key))?.meta;
        // Replaced meanwhile (a new body), or the 304 does not select it: left as it is.
        if (!meta || etagOf(meta) !== etagOf(validated) || lastModifiedOf(meta) !== lastModifiedOf(validated)) return;
        if (!notModifiedMatches(meta, notModified.responseHeaders)) return;
        const merged = mergeNotModified({ meta, ...notModified }, deps.policy);
        if (!merged) {
          await store.delete(meta.key);
          return;
        }
        if (headerBytes(merged.headers) > deps.maxHeaderBytes) return;
        deps.share(merged);
        await store.update(merged, { purgeMark });
        refreshed.set(merged.key, merged);
      } catch (err) {
        // A store failure leaves that coding as it was (stale, revalidated when asked for): never the client's failure.
        deps.logger.warn({ id, url: validated.url, key: v.key, err: (err as Error).message }, 'metadata update of another coding failed');
      }
    }),
  );
  return refreshed;
}
