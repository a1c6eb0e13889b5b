// Which stored entries a PurgeSelector takes, shared by every tier. Exact URLs and
// tags are found through the tiers' indexes, prefixes as runs of their URL order
// (url-order.ts); paths, `all` and selectors mixing prefixes with anything else
// need one pass over the tier's entries, never one per selector part.

import type { EntryMeta, PurgeSelector } from '../types.js';

/** What purge selection reads of an entry. */
type Selectable = Pick<EntryMeta, 'key' | 'primaryKey' | 'url' | 'tags'>;
import type { TagIndex } from '../tag-index.js';
import type { UrlOrder } from '../url-order.js';
import type { VariantIndex } from '../variant-index.js';

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
  // A URL prefix ending at "#" names every keyed version of one URL (admin/purge.ts):
  // looked up by the URL's part up to its "#", not tested one prefix at a time.
  const keyedBases = new Set<string>();
  const urlPrefixes: string[] = [];
  for (const p of sel.urlPrefixes) {
    if (p.indexOf('#') === p.length - 1) keyedBases.add(p);
    else urlPrefixes.push(p);
  }
  const { pathPrefixes } = sel;
  if (keyedBases.size) {
    checks.push((m) => {
      const hash = m.url.indexOf('#');
      return hash >= 0 && keyedBases.has(m.url.slice(0, hash + 1));
    });
  }
  if (urlPrefixes.length) {
    checks.push((m) => {
      for (let i = 0; i < urlPrefixes.length; i++) if (m.url.startsWith(urlPrefixes[i]!)) return true;
      return false;
    });
  }
  // A path names every version of it: what a route keyed after "#" is matched without that part.
  const paths = new Set(sel.paths);
  if (paths.size || pathPrefixes.length) {
    checks.push((m) => {
      const url = m.url;
      const at = pathStart(url);
      for (let i = 0; i < pathPrefixes.length; i++) if (url.startsWith(pathPrefixes[i]!, at)) return true;
      if (paths.size === 0) return false;
      const hash = url.indexOf('#', at);
      const end = hash < 0 ? url.length : hash;
      return paths.has(at === end ? '/' : url.slice(at, end));
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
 * Visits every item; when `inSlices`, yields to other work every SLICE_MS (looked at
 * every 256 items), so a pass over a large tier does not stall the requests served
 * meanwhile. A Map's or Set's iterator stays valid while the tier changes between slices.
 */
export async function eachInSlices<T>(items: Iterable<T>, visit: (item: T, index: number) => void, inSlices = true): Promise<void> {
  const it = items[Symbol.iterator]();
  let i = 0;
  for (;;) {
    const until = performance.now() + SLICE_MS;
    for (;;) {
      const next = it.next();
      if (next.done) return;
      visit(next.value, i++);
      if (inSlices && (i & 255) === 0 && performance.now() >= until) break;
    }
    await nextTurn();
  }
}

/** What counting a purge's matches reads of a tier (memory.ts, disk/disk-purge.ts). */
export interface CountedTier<T extends { readonly meta: Selectable }> {
  indexes: { order: UrlOrder; variants: VariantIndex; tags: TagIndex };
  /** Its purge bans: whether an entry is still alive, and how many bans are pending. */
  bans: { alive(entry: T): boolean; readonly active: number };
  byKey(key: string): T | undefined;
  /** Every entry (a scan reads the tier's own iterator: a generator per entry would double its cost). */
  entries(): Iterable<T>;
}

/**
 * Entries of `tier` the selector matches that no earlier purge has taken; only those
 * `countIf` accepts are counted (the tiered store counts an entry both tiers hold
 * once). Counted in slices that yield to other work when `inSlices`.
 */
export function countMatching<T extends { readonly meta: Selectable }>(sel: PurgeSelector, tier: CountedTier<T>, countIf?: (key: string) => boolean, inSlices = false): Promise<number> {
  const { indexes, bans } = tier;
  const alive = (k: string) => {
    if (countIf && !countIf(k)) return false;
    const e = tier.byKey(k);
    return e !== undefined && bans.alive(e);
  };
  // With no ban pending and nothing to exclude, every key the indexes name is counted: their sizes are the count.
  const sizes = !countIf && bans.active === 0;
  const runs = prefixRuns(sel, indexes.order);
  if (runs) {
    if (sizes) return Promise.resolve(indexes.order.countRuns(runs));
    return countKeys(indexes.order.keysIn(runs), alive, inSlices);
  }
  if (!needsScan(sel)) {
    const n = sizes ? indexedCount(sel, indexes) : undefined;
    return n !== undefined ? Promise.resolve(n) : countKeys(indexedKeyList(sel, indexes), alive, inSlices);
  }
  const matches = selectorMatcher(sel);
  let n = 0;
  return eachInSlices(tier.entries(), (e) => {
    if (matches(e.meta) && bans.alive(e) && (!countIf || countIf(e.meta.key))) n++;
  }, inSlices).then(() => n);
}

/** Of keys already known to match (runs of the URL order, the keys the indexes name): those `counts` accepts. */
async function countKeys(keys: Iterable<string>, counts: (key: string) => boolean, inSlices: boolean): Promise<number> {
  let n = 0;
  await eachInSlices(keys, (k) => {
    if (counts(k)) n++;
  }, inSlices);
  return n;
}

/** A selector that matches nothing, to build on. */
export function emptySelector(): PurgeSelector {
  return { primaryKeys: [], paths: [], urlPrefixes: [], pathPrefixes: [], tags: [], all: false };
}
