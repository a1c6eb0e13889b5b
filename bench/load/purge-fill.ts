// Fills a running node's store directly through the Store API (no HTTP): `n`
// entries under /purge/prefix/ and `n` more under /purge/tagged/ carrying the tag
// "bench-tag", each a small body in both tiers, as a fill from the origin would
// leave them. The purge scenario then purges each group of `n` in one call.

import { newEntryMeta } from '../../src/cache/entry.js';
import { primaryKey, urlOfKey } from '../../src/cache/key.js';
import { assessStorage, type StoragePolicyOptions } from '../../src/cache/storable.js';
import type { Config } from '../../src/config/types.js';
import type { Store } from '../../src/store/types.js';

export const FILL_HOST = 'bench.local';
export const PREFIX_GROUP = '/purge/prefix/';
export const TAG_GROUP = '/purge/tagged/';
export const BENCH_TAG = 'bench-tag';

/**
 * Writes per batch; each batch waits until its disk writes have landed (a commit
 * resolves once memory holds the entry, so without it every write would be in
 * flight at once).
 */
const BATCH = 1024;

export async function fillForPurge(store: Store & { flush(): Promise<void> }, config: Readonly<Config>, n: number, nowMs: number): Promise<void> {
  const policy: StoragePolicyOptions = {
    targetedField: config.cache.targetedField.toLowerCase(),
    storeSetCookie: false,
    heuristicFraction: config.cache.heuristicFraction,
    heuristicMaxS: config.cache.heuristicMaxS,
  };
  const one = async (i: number) => {
    const tagged = i >= n;
    const path = `${tagged ? TAG_GROUP : PREFIX_GROUP}${i % n}`;
    const body = Buffer.from(`purge bench body ${path}\n`);
    const responseHeaders: Record<string, string> = {
      'cache-control': 'max-age=86400',
      'content-type': 'text/plain',
      'content-length': String(body.length),
      'surrogate-key': tagged ? `${BENCH_TAG} item-${i}` : `other item-${i}`,
    };
    const key = primaryKey('http', FILL_HOST, path);
    const verdict = assessStorage({ method: 'GET', url: urlOfKey(key), requestHeaders: {}, status: 200, responseHeaders, requestTimeMs: nowMs, responseTimeMs: nowMs }, policy);
    if (!verdict.store) throw new Error(`fill: not storable (${verdict.reason})`);
    const meta = newEntryMeta(verdict.decision, { key, primaryKey: key, url: urlOfKey(key), status: 200, varyValues: {}, requestTimeMs: nowMs, responseTimeMs: nowMs, bodySize: body.length });
    const w = store.open(meta);
    await w.write(body);
    await w.commit();
  };
  for (let start = 0; start < 2 * n; start += BATCH) {
    const batch: Promise<void>[] = [];
    for (let i = start; i < Math.min(2 * n, start + BATCH); i++) batch.push(one(i));
    await Promise.all(batch);
    await store.flush();
  }
}
