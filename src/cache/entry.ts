// Stored metadata built from a storage decision: one place that maps what the
// policy decided (storable.ts) onto the EntryMeta the store keeps.

import { ENTRY_FORMAT, type EntryMeta } from '../entry.js';
import type { StorageDecision } from './storable.js';
import { tagsOf } from './tags.js';

/** The EntryMeta fields that come from the policy's decision. */
export function decidedFields(d: StorageDecision): Pick<
  EntryMeta,
  'headers' | 'varyNames' | 'initialAgeS' | 'freshnessLifetimeS' | 'cacheControl' | 'noCache' | 'staleForbidden' | 'staleWhileRevalidateS' | 'staleIfErrorS' | 'tags'
> {
  return {
    headers: d.headers,
    varyNames: d.varyNames,
    initialAgeS: d.initialAgeS,
    freshnessLifetimeS: d.freshnessLifetimeS,
    cacheControl: d.cacheControl,
    noCache: d.noCache,
    staleForbidden: d.staleForbidden,
    staleWhileRevalidateS: d.staleWhileRevalidateS,
    staleIfErrorS: d.staleIfErrorS,
    // From the stored fields, so a 304 that brings new tags (RFC 9111 §4.3.4) retags the entry.
    tags: tagsOf(d.headers),
  };
}

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
}

export function newEntryMeta(d: StorageDecision, at: EntryPlace): EntryMeta {
  return { v: ENTRY_FORMAT, ...at, ...decidedFields(d) };
}
