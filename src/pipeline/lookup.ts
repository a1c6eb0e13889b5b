// Finding the stored variant for a request among every variant under the primary
// key (the caller has already tried the unvaried memory entry, the hot path). When
// several variants match, the most recent wins (RFC 9111 §4.1).

import type { HeaderMap } from '../http/headers.js';
import { varyMatches } from '../cache/vary.js';
import type { Store, StoredEntry, VariantMeta } from '../store/types.js';

export type Lookup =
  | { found: StoredEntry }
  | { found: undefined; miss: 'uri-miss' | 'vary-miss' };

export async function lookup(store: Store, primaryKey: string, req: HeaderMap): Promise<Lookup> {
  const variants = store.variants(primaryKey);
  if (variants.length === 0) return { found: undefined, miss: 'uri-miss' };
  let best: VariantMeta | undefined;
  let whole = false;
  const seen = new Map<string, string>();
  for (const m of variants) {
    // A slice is part of an object, never an answer on its own (pipeline/slices.ts).
    if (m.slice) continue;
    whole = true;
    if (varyMatches(m.varyNames, m.varyValues, req, seen) && (!best || m.responseTimeMs > best.responseTimeMs)) best = m;
  }
  if (!best) return { found: undefined, miss: whole ? 'vary-miss' : 'uri-miss' };
  const entry = store.peek(best.key) ?? (await store.get(best.key));
  return entry ? { found: entry } : { found: undefined, miss: 'uri-miss' };
}
