// RFC 5861 stale windows of a stored entry: the response's own when it names one,
// else the operator's default (cache.staleWhileRevalidateS, cache.staleIfErrorS).
//
// Invariant: an explicit `stale-if-error=0` / `stale-while-revalidate=0` is the
// origin saying "no window", and wins over the default. EntryMeta keeps 0 both for
// "absent" and "explicit 0" (its records and packed memory form stay as they
// are), so a 0 is told apart by reading the stored directives — only when a
// default would otherwise apply, i.e. never on a fresh hit.

import type { EntryMeta } from '../entry.js';
import { deltaSeconds, parseCacheControl } from '../http/cache-control.js';

export type StaleDirective = 'stale-while-revalidate' | 'stale-if-error';

export interface StaleWindow {
  seconds: number;
  /** "response": the entry's own directive (0 included); "default": the operator's setting. */
  from: 'response' | 'default';
}

export function staleWindow(meta: Pick<EntryMeta, 'cacheControl' | 'staleWhileRevalidateS' | 'staleIfErrorS'>, directive: StaleDirective, defaultS: number): StaleWindow {
  const ownS = directive === 'stale-if-error' ? meta.staleIfErrorS : meta.staleWhileRevalidateS;
  if (ownS > 0) return { seconds: ownS, from: 'response' };
  // Explicit 0 or absent: only the stored directives tell (and only matter when a default is set).
  if (defaultS > 0 && deltaSeconds(parseCacheControl(meta.cacheControl), directive) === 0) return { seconds: 0, from: 'response' };
  return { seconds: defaultS, from: 'default' };
}
