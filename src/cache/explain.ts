// `GET /explain`: why a URL is or is not cached, as JSON and as plain sentences.
// A pure function of what the node knows about the URL (its stored variants and
// the tiers holding them, the last refusal to store, hit-for-pass, whether the
// disk index is still loading) and the clock: no I/O. The admin route gathers the
// facts (admin/explain.ts).
//
// The freshness source is recomputed from the stored headers with the same
// precedence as storing (RFC 9213 §2.1 via effectiveDirectives; RFC 9111 §4.2.1
// for Expires and the heuristic); the numbers are the stored ones (lifetime,
// corrected initial age) and RFC 9111 §4.2.3 current_age now (currentAge).

import type { EntryMeta } from '../entry.js';
import { deltaSeconds, parseCacheControl } from '../http/cache-control.js';
import { parseHttpDate } from '../http/dates.js';
import { currentAge } from './reuse.js';
import { staleWindow } from './stale-window.js';
import { effectiveDirectives, type NotStoredReason, type NotStoredRecord } from './storable.js';
import { ABSENT } from './vary.js';

export type Tier = 'memory' | 'disk' | 'both';

/** Where a stored response's freshness lifetime came from. */
export type FreshnessSource = 'targeted-field' | 'cdn-cache-control' | 'cache-control' | 'expires' | 'heuristic' | 'none';

/** What a stored variant may do now. */
export type VariantState = 'fresh' | 'stale-while-revalidate' | 'stale' | 'no-cache';

export interface ExplainInput {
  /** The absolute URL explained, and how its host was chosen. */
  url: string;
  hostRule: string;
  primaryKey: string;
  /** The stored variants of the primary key and the tier(s) holding each. */
  variants: readonly { meta: EntryMeta; tier: Tier }[];
  notStored: NotStoredRecord | undefined;
  hitForPass: boolean;
  diskLoading: boolean;
  nowMs: number;
  /** Node-specific targeted field, lower-case (config.cache.targetedField). */
  targetedField: string;
  /** Operator's stale windows for responses that name none (config.cache). */
  defaults: { staleWhileRevalidateS: number; staleIfErrorS: number };
}

export interface ExplainedVariant {
  key: string;
  tier: Tier;
  status: number;
  vary: { names: string[]; values: Record<string, string | null> };
  state: VariantState;
  freshness: { source: FreshnessSource; field: string | null; directive: string | null; value: string | null };
  lifetimeS: number;
  initialAgeS: number;
  ageS: number;
  /** Lifetime minus current age; negative when stale. */
  ttlS: number;
  fresh: boolean;
  storedAt: string;
  staleWhileRevalidate: { seconds: number; from: 'response' | 'default' };
  staleIfError: { seconds: number; from: 'response' | 'default' };
  staleForbidden: boolean;
  staleForbiddenBy: string[];
  noCache: boolean;
  tags: string[];
  slice: EntryMeta['slice'] | null;
}

export interface Explanation {
  url: string;
  hostRule: string;
  primaryKey: string;
  cached: boolean;
  variants: ExplainedVariant[];
  lastNotStored: { reason: NotStoredReason; meaning: string; status: number; at: string; agoS: number } | null;
  hitForPass: boolean;
  diskLoading: boolean;
  why: string[];
}

/** One sentence per refusal to store (names as in Cache-Status detail). */
export const NOT_STORED_MEANING: Record<NotStoredReason, string> = {
  method: 'only GET responses are stored',
  status: 'its status is not storable without explicit freshness (or was an error while a stale entry was kept)',
  'partial-content': 'a 206 partial response is never stored whole',
  'no-store': 'the response said no-store',
  'request-no-store': 'the request said no-store (that request only)',
  private: 'the response said private',
  authorization: 'the request carried Authorization and the response did not allow a shared cache to store it (public, s-maxage or must-revalidate)',
  'set-cookie': 'the response set a cookie (cache.storeSetCookie is off)',
  'vary-star': 'the response said Vary: *',
  'cookie-heuristic': 'the request carried Cookie and the response had no explicit freshness, public or Vary: Cookie',
  'varies-on-credential': 'the response varied on a credential the edge had checked (edge.publicAfterAuth): it is that credential holder\'s alone',
  'not-reusable': 'the response had neither freshness, nor a validator, nor a stale window of its own, so it could never be reused',
  'url-too-long': 'the URL is longer than cache.maxStoredUrlBytes',
  'headers-too-large': 'the response fields exceed cache.maxStoredHeaderBytes',
  'too-many-variants': 'the URL already has cache.maxVariants variants stored',
  'edge-copy': 'another node of the cluster owns it and cluster.edgeCopies keeps no copy of it here (none, or memory and the body exceeds cache.memoryMaxObjectBytes)',
};

const round = (n: number): number => Math.round(n * 1000) / 1000;
const iso = (ms: number): string => new Date(ms).toISOString();

/** Which field and directive gave the lifetime, recomputed from the stored headers. */
export function freshnessSource(meta: EntryMeta, targetedField: string): ExplainedVariant['freshness'] {
  const { value, targeted } = effectiveDirectives(meta.headers, targetedField);
  const field = !targeted ? 'cache-control' : meta.headers[targetedField] === value ? targetedField : 'cdn-cache-control';
  const source: FreshnessSource = !targeted ? 'cache-control' : field === targetedField ? 'targeted-field' : 'cdn-cache-control';
  const cc = parseCacheControl(value);
  for (const d of ['s-maxage', 'max-age']) {
    if (cc.has(d)) return { source, field, directive: d, value: `${d}=${String(deltaSeconds(cc, d) ?? cc.get(d))}` };
  }
  // RFC 9111 §4.2.1: Expires counts only when no targeted field was used (RFC 9213 §2.1).
  if (!targeted && meta.headers['expires'] !== undefined) return { source: 'expires', field: 'expires', directive: null, value: meta.headers['expires'] };
  // RFC 9111 §4.2.2: a fraction of the time since Last-Modified.
  if (!Number.isNaN(parseHttpDate(meta.headers['last-modified']))) return { source: 'heuristic', field: 'last-modified', directive: null, value: meta.headers['last-modified']! };
  return { source: 'none', field: null, directive: null, value: null };
}

/** The directives that forbid serving this entry stale (RFC 9111 §4.2.4). */
function staleForbiddenBy(meta: EntryMeta): string[] {
  if (!meta.staleForbidden) return [];
  const cc = parseCacheControl(meta.cacheControl);
  const by = ['must-revalidate', 'proxy-revalidate', 's-maxage'].filter((d) => cc.has(d));
  return by.length ? by : [`status ${meta.status} (not one Strata knows: reused while fresh only)`];
}

function explainVariant(meta: EntryMeta, tier: Tier, input: ExplainInput): ExplainedVariant {
  const ageS = currentAge(meta, input.nowMs);
  const ttlS = meta.freshnessLifetimeS - ageS;
  const swr = staleWindow(meta, 'stale-while-revalidate', input.defaults.staleWhileRevalidateS);
  const fresh = !meta.noCache && ttlS > 0;
  const state: VariantState = meta.noCache ? 'no-cache' : fresh ? 'fresh' : !meta.staleForbidden && -ttlS <= swr.seconds ? 'stale-while-revalidate' : 'stale';
  const values: Record<string, string | null> = {};
  for (const n of meta.varyNames) values[n] = meta.varyValues[n] === ABSENT || meta.varyValues[n] === undefined ? null : meta.varyValues[n]!;
  return {
    key: meta.key,
    tier,
    status: meta.status,
    vary: { names: meta.varyNames, values },
    state,
    freshness: freshnessSource(meta, input.targetedField),
    lifetimeS: meta.freshnessLifetimeS,
    initialAgeS: round(meta.initialAgeS),
    ageS: round(ageS),
    ttlS: round(ttlS),
    fresh,
    storedAt: iso(meta.responseTimeMs),
    staleWhileRevalidate: swr,
    staleIfError: staleWindow(meta, 'stale-if-error', input.defaults.staleIfErrorS),
    staleForbidden: meta.staleForbidden,
    staleForbiddenBy: staleForbiddenBy(meta),
    noCache: meta.noCache,
    tags: meta.tags,
    slice: meta.slice ?? null,
  };
}

const TIER_WORDS: Record<Tier, string> = { memory: 'in memory', disk: 'on disk', both: 'in memory and on disk' };

function sourceWords(f: ExplainedVariant['freshness'], lifetimeS: number): string {
  switch (f.source) {
    case 'targeted-field':
    case 'cdn-cache-control':
    case 'cache-control': {
      const why = f.source === 'targeted-field' ? ' (the node-specific targeted field, which beats CDN-Cache-Control and Cache-Control)' : f.source === 'cdn-cache-control' ? ' (which beats Cache-Control)' : '';
      return `Its lifetime of ${lifetimeS} s comes from ${f.field}: ${f.value}${why}.`;
    }
    case 'expires':
      return `Its lifetime of ${lifetimeS} s comes from Expires: ${f.value} (Cache-Control has no max-age or s-maxage).`;
    case 'heuristic':
      return `Its lifetime of ${lifetimeS} s is heuristic: a fraction of the time since Last-Modified: ${f.value} (no explicit freshness), capped by cache.heuristicMaxS.`;
    case 'none':
      return `It has no explicit freshness and no Last-Modified: a lifetime of ${lifetimeS} s, so every use is validated with the origin.`;
  }
}

/** "slice 0, bytes 0–65535 of 1048576": the part of the object a slice entry holds. */
function sliceWords(slice: NonNullable<ExplainedVariant['slice']>): string {
  const first = slice.index * slice.bytes;
  const last = Math.min(first + slice.bytes, slice.totalBytes) - 1;
  return `slice ${slice.index}, bytes ${first}–${last} of ${slice.totalBytes}`;
}

function variantSentences(v: ExplainedVariant, many: boolean): string[] {
  // A slice is a part of one object, not a variant (it varies on nothing): named by its bytes.
  const name = v.slice ? `The ${sliceWords(v.slice)}` : many ? `The variant for ${Object.entries(v.vary.values).map(([k, x]) => `${k}=${x ?? '(absent)'}`).join(', ')}` : 'The stored response';
  const out = [`${name} (status ${v.status}) is held ${TIER_WORDS[v.tier]}, stored at ${v.storedAt}.`];
  out.push(sourceWords(v.freshness, v.lifetimeS));
  const ttl = Math.round(v.ttlS);
  out.push(`Its age is ${Math.round(v.ageS)} s (${Math.round(v.initialAgeS)} s when received, RFC 9111 §4.2.3), so it ${ttl > 0 ? `is fresh for ${ttl} s more` : `has been stale for ${-ttl} s`}.`);
  if (v.noCache) out.push('It says no-cache: every use is validated with the origin first.');
  if (v.staleForbidden) out.push(`It is never served stale (${v.staleForbiddenBy.join(', ')}).`);
  else {
    const swr = v.staleWhileRevalidate;
    const sie = v.staleIfError;
    out.push(`Once stale it may be served while revalidating for ${swr.seconds} s (${swr.from === 'response' ? 'stale-while-revalidate' : 'cache.staleWhileRevalidateS'}) and when the origin fails for ${sie.seconds} s (${sie.from === 'response' ? 'stale-if-error' : 'cache.staleIfErrorS'}).`);
  }
  if (v.state === 'stale-while-revalidate') out.push('Now it is served stale while a background fetch revalidates it.');
  else if (v.state === 'stale') out.push('The next request for it is revalidated with the origin.');
  if (v.tags.length) out.push(`Tags: ${v.tags.join(', ')}.`);
  return out;
}

export function explain(input: ExplainInput): Explanation {
  const variants = input.variants.map((v) => explainVariant(v.meta, v.tier, input));
  const ns = input.notStored;
  const lastNotStored = ns ? { reason: ns.reason, meaning: NOT_STORED_MEANING[ns.reason], status: ns.status, at: iso(ns.atMs), agoS: round((input.nowMs - ns.atMs) / 1000) } : null;
  const why: string[] = [];
  if (variants.length === 0) why.push(`Not cached: nothing is stored under ${input.primaryKey}.`);
  else {
    // Slices of an object are counted apart from its variants (they are parts, not alternatives).
    const slices = variants.filter((v) => v.slice);
    const whole = variants.filter((v) => !v.slice);
    const count = (n: number, noun: string) => `${n} ${noun}${n > 1 ? 's' : ''}`;
    const parts = [whole.length ? count(whole.length, 'variant') : '', slices.length ? count(slices.length, 'slice') : ''].filter(Boolean);
    const fresh = variants.filter((v) => v.fresh).length;
    why.push(`Cached: ${parts.join(' and ')} stored under ${input.primaryKey}, ${fresh} fresh now.`);
    for (const v of variants) why.push(...variantSentences(v, whole.length > 1 || v.vary.names.length > 0));
  }
  if (lastNotStored) {
    why.push(`The last response not stored (status ${lastNotStored.status}, ${Math.round(lastNotStored.agoS)} s ago) was refused: ${lastNotStored.reason} — ${lastNotStored.meaning}.`);
  }
  if (input.hitForPass) why.push('It is in hit-for-pass now: its last response could not be shared, so requests go to the origin at once instead of waiting for one another.');
  if (input.diskLoading) why.push(variants.length === 0 ? 'The disk index is still loading: an entry on disk may not be loaded yet (until then it answers as a miss).' : 'The disk index is still loading: more variants may be on disk.');
  if (variants.length === 0 && !lastNotStored && !input.diskLoading) why.push('No refusal to store it is remembered (the last 10,000 URLs refused since start): it was not requested, or its entry was evicted or purged.');
  return { url: input.url, hostRule: input.hostRule, primaryKey: input.primaryKey, cached: variants.length > 0, variants, lastNotStored, hitForPass: input.hitForPass, diskLoading: input.diskLoading, why };
}
