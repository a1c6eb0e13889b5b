// Which stored entries a PurgeSelector takes, shared by every tier. Exact URLs and
// tags are found through the tiers' indexes; paths, prefixes and `all` need one
// pass over the tier's entries (a few milliseconds per 100,000), never one per
// selector part.

import type { EntryMeta, PurgeSelector } from './types.js';
import type { TagIndex } from './tag-index.js';
import type { VariantIndex } from './variant-index.js';

/** Path and query of an absolute URL ("http://h:1/a?b" → "/a?b"). */
export function pathOfUrl(url: string): string {
  const scheme = url.indexOf('://');
  const slash = url.indexOf('/', scheme < 0 ? 0 : scheme + 3);
  return slash < 0 ? '/' : url.slice(slash);
}

/** Does the selector need a pass over every entry (rather than index look-ups)? */
export function needsScan(sel: PurgeSelector): boolean {
  return sel.all || sel.paths.length > 0 || sel.urlPrefixes.length > 0 || sel.pathPrefixes.length > 0;
}

export function selectorMatcher(sel: PurgeSelector): (meta: EntryMeta) => boolean {
  if (sel.all) return () => true;
  const keys = new Set(sel.primaryKeys);
  const paths = new Set(sel.paths);
  const tags = new Set(sel.tags);
  const { urlPrefixes, pathPrefixes } = sel;
  return (meta) => {
    if (keys.has(meta.primaryKey)) return true;
    for (const t of meta.tags) if (tags.has(t)) return true;
    for (const p of urlPrefixes) if (meta.url.startsWith(p)) return true;
    if (paths.size === 0 && pathPrefixes.length === 0) return false;
    const path = pathOfUrl(meta.url);
    if (paths.has(path)) return true;
    for (const p of pathPrefixes) if (path.startsWith(p)) return true;
    return false;
  };
}

/**
 * Metadata of the entries a selector matches in one tier. `every` lists the tier's
 * entries (used only when the selector needs a scan); `metaOf` reads one by key.
 */
export function matchingEntries(
  sel: PurgeSelector,
  indexes: { variants: VariantIndex; tags: TagIndex },
  every: () => Iterable<EntryMeta>,
  metaOf: (key: string) => EntryMeta | undefined,
): EntryMeta[] {
  const matches = selectorMatcher(sel);
  const out: EntryMeta[] = [];
  if (needsScan(sel)) {
    for (const meta of every()) if (matches(meta)) out.push(meta);
    return out;
  }
  const seen = new Set<string>();
  const take = (key: string) => {
    if (seen.has(key)) return;
    seen.add(key);
    const meta = metaOf(key);
    if (meta) out.push(meta);
  };
  for (const pk of sel.primaryKeys) for (const k of indexes.variants.keys(pk)) take(k);
  for (const tag of sel.tags) for (const k of indexes.tags.keys(tag)) take(k);
  return out;
}

/** A selector that matches nothing, to build on. */
export function emptySelector(): PurgeSelector {
  return { primaryKeys: [], paths: [], urlPrefixes: [], pathPrefixes: [], tags: [], all: false };
}
