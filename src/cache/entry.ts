// Stored metadata built from a storage decision: one place that maps what the
// policy decided (storable.ts) onto the EntryMeta the store keeps.

import { ENTRY_FORMAT, type EntryMeta } from '../entry.js';
import type { StorageDecision } from './storable.js';
import { tagsOf } from './tags.js';

export interface EntryPlace {
  key: string;
  primaryKey: string;
  url: string;
  status: number;
  varyValues: Record<string, string>;
  requestTimeMs: number;
  responseTimeMs: number;
  /** -1 when unknown until the body ends. */
  bodySize: number;
  /** The slice of a larger object this entry is (slices.ts). */
  slice?: EntryMeta['slice'];
}

/**
 * The one builder of a new entry's metadata (a fill, a slice). Why one object literal
 * naming every field, `integrity` too (set when the body is written), rather than
 * spreads: a spread builds the object field by field and puts the fields past the
 * first few in a separate property array — one more object per stored entry for
 * every full collection to mark — and a field added later (integrity) does the same.
 * Every entry built here has one shape.
 */
export function newEntryMeta(d: StorageDecision, at: EntryPlace): EntryMeta {
  const meta: EntryMeta = {
    v: ENTRY_FORMAT,
    key: at.key,
    primaryKey: at.primaryKey,
    url: at.url,
    status: at.status,
    headers: d.headers,
    varyNames: d.varyNames,
    varyValues: at.varyValues,
    requestTimeMs: at.requestTimeMs,
    responseTimeMs: at.responseTimeMs,
    initialAgeS: d.initialAgeS,
    freshnessLifetimeS: d.freshnessLifetimeS,
    cacheControl: d.cacheControl,
    noCache: d.noCache,
    staleForbidden: d.staleForbidden,
    staleWhileRevalidateS: d.staleWhileRevalidateS,
    staleIfErrorS: d.staleIfErrorS,
    bodySize: at.bodySize,
    integrity: undefined,
    // From the stored fields, so a 304 that brings new tags (RFC 9111 §4.3.4) retags the entry.
    tags: tagsOf(d.headers),
  };
  if (at.slice) meta.slice = at.slice;
  return meta;
}
