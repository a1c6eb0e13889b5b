// Which stored entries a PurgeSelector takes, shared by every tier. Exact URLs and
// tags are found through the tiers' indexes, prefixes as runs of their URL order
// (url-order.ts); paths, `all` and selectors mixing prefixes with anything else
// need one pass over the tier's entries, never one per selector part.

import type { EntryMeta, PurgeSelector } from './types.js';

/** What purge selection reads of an entry. */
type Selectable = Pick<EntryMeta, 'key' | 'primaryKey' | 'url' | 'tags'>;
import type { TagIndex } from './tag-index.js';
import type { UrlOrder } from './url-order.js';
import type { VariantIndex } from './variant-index.js';

/** Index where the path of an absolute URL starts ("http://h:1/a?b" → 9); the length when it has none. */
export function pathStart(url: string): number {
  const scheme = url.indexOf('://');
  const slash = url.indexOf('/', scheme < 0 ? 0 : scheme + 3);
  return slash < 0 ? url.length : slash;
}

/** Path and query of an absolute URL ("http://h:1/a?b" → "/a?b"). */
export function pathOfUrl(url: string): string {
  const at = pathStart(url);
  return at === url.length ? '/' : url.slice(at);
}

/**
 * The runs of a tier's URL order a selector of URL and path prefixes alone takes
 * (url-order.ts): counting them is a few binary searches. Undefined for any other
 * selector.
 */
export function prefixRuns(sel: PurgeSelector, order: UrlOrder): string[] | undefined {
  if (sel.all || sel.paths.length || sel.primaryKeys.length || sel.tags.length) return undefined;
  if (sel.urlPrefixes.length + sel.pathPrefixes.length === 0) return undefined;
  return order.prefixRuns(sel.urlPrefixes, sel.pathPrefixes);
}

/** Does the selector need a pass over every entry (rather than index look-ups)? */
export function needsScan(sel: PurgeSelector): boolean {
  return sel.all || sel.paths.length > 0 || sel.urlPrefixes.length > 0 || sel.pathPrefixes.length > 0;
}

/**
 * A predicate for the selector, built from only the parts it uses: it runs once per
 * entry in a scan and in the purge walk (100,000s of times), so it allocates nothing.
 */
export function selectorMatcher(sel: PurgeSelector): (meta: Pick<EntryMeta, 'primaryKey' | 'url' | 'tags'>) => boolean {
  if (sel.all) return () => true;
  const checks: ((meta: Pick<EntryMeta, 'primaryKey' | 'url' | 'tags'>) => boolean)[] = [];
  const keys = new Set(sel.primaryKeys);
  if (keys.size) checks.push((m) => keys.has(m.primaryKey));
  const tags = new Set(sel.tags);
  if (tags.size) {
    checks.push((m) => {
      for (let i = 0; i < m.tags.length; i++) if (tags.has(m.tags[i]!)) return true;
      return false;
    });
  }
  const { urlPrefixes, pathPrefixes } = sel;
  if (urlPrefixes.length) {
    checks.push((m) => {
      for (let i = 0; i < urlPrefixes.length; i++) if (m.url.startsWith(urlPrefixes[i]!)) return true;
      return false;
    });
  }
  const paths = new Set(sel.paths);
  if (paths.size || pathPrefixes.length) {
    checks.push((m) => {
      const url = m.url;
      const at = pathStart(url);
      for (let i = 0; i < pathPrefixes.length; i++) if (url.startsWith(pathPrefixes[i]!, at)) return true;
      return paths.size > 0 && paths.has(at === url.length ? '/' : url.slice(at));
    });
  }
  if (checks.length === 0) return () => false;
  if (checks.length === 1) return checks[0]!;
  return (m) => {
    for (let i = 0; i < checks.length; i++) if (checks[i]!(m)) return true;
    return false;
  };
}

/**
 * The keys a selector names through a tier's indexes (every variant of each URL,
 * every entry of each tag), each once. Only for selectors that need no scan.
 */
export function* indexedKeys(sel: PurgeSelector, indexes: { variants: VariantIndex; tags: TagIndex }): Generator<string> {
  const lists: Iterable<string>[] = [];
  for (const pk of sel.primaryKeys) lists.push(indexes.variants.keys(pk));
  for (const tag of sel.tags) lists.push(indexes.tags.keys(tag));
  // One list (one URL or one tag, the usual purge) has no duplicates to skip.
  const seen = lists.length > 1 ? new Set<string>() : undefined;
  for (const list of lists) {
    for (const key of list) {
      if (seen) {
        if (seen.has(key)) continue;
        seen.add(key);
      }
      yield key;
    }
  }
}

/**
 * The keys the indexes name for a selector that needs no scan, each once: the index's
 * own set when one tag names them all (the usual tag purge: no generator, no set of
 * keys seen). No matcher is needed over them: a tier adds, removes and re-tags an
 * entry in its indexes in one call (tier-index.ts), so a key listed under a tag or a
 * URL is an entry that carries it.
 */
export function indexedKeyList(sel: PurgeSelector, indexes: { variants: VariantIndex; tags: TagIndex }): Iterable<string> {
  const tag = onlyTag(sel);
  return tag === undefined ? indexedKeys(sel, indexes) : indexes.tags.keys(tag);
}

/** The selector's one tag when one tag names everything it selects from the indexes (no primary keys). */
function onlyTag(sel: PurgeSelector): string | undefined {
  return sel.primaryKeys.length === 0 && sel.tags.length === 1 ? sel.tags[0] : undefined;
}

/**
 * How many keys the indexes name for the selector, without visiting them, when one
 * tag names them all; undefined otherwise (count the keys of indexedKeyList()).
 */
export function indexedCount(sel: PurgeSelector, indexes: { tags: TagIndex }): number | undefined {
  const tag = onlyTag(sel);
  return tag === undefined ? undefined : indexes.tags.count(tag);
}

/** Does the selector match any entry of `every`? Stops at the first (for scans). */
export function anyMatch<T extends { readonly meta: Selectable }>(sel: PurgeSelector, every: Iterable<T>): boolean {
  const matches = selectorMatcher(sel);
  for (const e of every) if (matches(e.meta)) return true;
  return false;
}

/**
 * Longest a purge's pass over entries (counting here, the ban walk) runs before it
 * yields to other work: hits waiting meanwhile wait at most about this long.
 */
export const SLICE_MS = 5;

/** Resolves on the next turn of the event loop, after pending I/O callbacks. */
export function nextTurn(): Promise<void> {
  return new Promise<void>((r) => setImmediate(r));
}

/**
 * Count the entries of `every` the selector matches and `counts` accepts; when
 * `inSlices`, yield to other work every SLICE_MS, so a purge over a large tier
 * does not stall the requests served meanwhile.
 */
export async function countInSlices<T extends { readonly meta: Selectable }>(sel: PurgeSelector, every: Iterator<T>, counts: (entry: T) => boolean, inSlices = true): Promise<number> {
  const matches = selectorMatcher(sel);
  let n = 0;
  for (;;) {
    const until = performance.now() + SLICE_MS;
    for (let i = 1; ; i++) {
      const next = every.next();
      if (next.done) return n;
      if (matches(next.value.meta) && counts(next.value)) n++;
      if (inSlices && (i & 255) === 0 && performance.now() >= until) break;
    }
    await nextTurn();
  }
}

/**
 * As countInSlices, over keys already known to match (runs of the URL order, the keys
 * the indexes name): those `counts` accepts. A Set's iterator stays valid while the
 * tier changes between slices.
 */
export async function countKeysInSlices(keys: Iterable<string>, counts: (key: string) => boolean, inSlices = true): Promise<number> {
  const it = keys[Symbol.iterator]();
  let n = 0;
  for (;;) {
    const until = performance.now() + SLICE_MS;
    for (let i = 1; ; i++) {
      const next = it.next();
      if (next.done) return n;
      if (counts(next.value)) n++;
      if (inSlices && (i & 255) === 0 && performance.now() >= until) break;
    }
    await nextTurn();
  }
}

/** A selector that matches nothing, to build on. */
export function emptySelector(): PurgeSelector {
  return { primaryKeys: [], paths: [], urlPrefixes: [], pathPrefixes: [], tags: [], all: false };
}
