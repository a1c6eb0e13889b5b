// RFC 9111 §4.3: validating a stored response with the origin. Builds the
// conditional request fields and merges a 304 into the stored metadata
// (§4.3.4) — header fields from the 304 replace stored ones, except those that
// describe the stored body; the age restarts from the 304.

import { parseCacheControl } from '../http/cache-control.js';
import type { EntryMeta } from '../entry.js';
import { newEntryMeta } from './entry.js';
import { assessStorage, correctedInitialAge, type StoragePolicyOptions } from './storable.js';
import { PEER_AGE, withoutDigests, withoutHopByHop, type HeaderMap } from '../http/headers.js';
import { formatHttpDate } from '../http/dates.js';

/** Conditional fields to send when validating `meta` (RFC 9111 §4.3.1). */
export function validatorHeaders(meta: EntryMeta): HeaderMap {
  const out: HeaderMap = {};
  const etag = meta.headers['etag'];
  const lastModified = meta.headers['last-modified'];
  if (etag !== undefined) out['if-none-match'] = etag;
  if (lastModified !== undefined) out['if-modified-since'] = lastModified;
  return out;
}

export function canValidate(meta: EntryMeta): boolean {
  return meta.headers['etag'] !== undefined || meta.headers['last-modified'] !== undefined;
}

/**
 * Fields of a 304 that must not overwrite those of the stored body. Content-Length by RFC 9111
 * §3.2; Content-Encoding and Content-Range because the stored bytes are what they describe.
 * Deviation (CACHING.md): Content-Type too, though §3.2 would update it — an origin that
 * stamps a default type on every 304 (PHP's text/html) would relabel every stored image.
 */
const BODY_FIELDS = new Set(['content-length', 'content-encoding', 'content-range', 'transfer-encoding', 'content-type']);

/**
 * Does the 304 refer to the stored response? (RFC 9111 §4.3.4, selection by validator.) Not
 * when the stored body is one Strata transformed (encoded or decoded) and the 304 now says
 * no-transform: refreshed, it would be sent under that directive (RFC 9110 §7.7).
 */
export function notModifiedMatches(meta: EntryMeta, res: HeaderMap): boolean {
  if (meta.transform !== undefined && parseCacheControl(res['cache-control']).has('no-transform')) return false;
  const newTag = res['etag'];
  const oldTag = meta.headers['etag'];
  if (newTag !== undefined) {
    if (oldTag === undefined) return false;
    // A strong validator in the 304 selects only a stored response with the same strong validator.
    if (!newTag.trim().startsWith('W/')) return oldTag.trim() === newTag.trim();
    return stripWeak(oldTag.trim()) === stripWeak(newTag.trim());
  }
  const newLm = res['last-modified'];
  if (newLm !== undefined && meta.headers['last-modified'] !== undefined) return newLm === meta.headers['last-modified'];
  return true;
}

function stripWeak(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

export interface NotModifiedInput {
  meta: EntryMeta;
  responseHeaders: HeaderMap;
  requestTimeMs: number;
  responseTimeMs: number;
}

/**
 * The stored fields updated by a 304 (RFC 9111 §4.3.4): all but those describing the
 * stored body. A 304 without Date is dated when it arrived (RFC 9110 §6.6.1), so the
 * Date goes with the Age that restarts from it.
 */
function notModifiedFields(input: NotModifiedInput): HeaderMap {
  const { meta } = input;
  const headers: HeaderMap = { ...meta.headers };
  for (const name in input.responseHeaders) {
    if (BODY_FIELDS.has(name)) continue;
    headers[name] = input.responseHeaders[name]!;
  }
  if (input.responseHeaders['date'] === undefined) headers['date'] = formatHttpDate(input.responseTimeMs);
  // The time a peer's copy had spent in the cluster: a 304 from the origin restarts it (the copy's
  // age now counts from this validation, requestTimeMs); a peer's 304 brings its own.
  if (input.responseHeaders[PEER_AGE] === undefined && headers[PEER_AGE] !== undefined) delete headers[PEER_AGE];
  // A variant Strata made keeps none of the digests of the origin's bytes (transform/variant-meta.ts).
  if (meta.transform !== undefined) withoutDigests(headers);
  return headers;
}

/**
 * The stored metadata refreshed by a 304, or undefined when the merged response
 * may no longer be stored (e.g. the 304 now says no-store).
 */
export function mergeNotModified(input: NotModifiedInput, opts: StoragePolicyOptions): EntryMeta | undefined {
  const { meta } = input;
  const headers = notModifiedFields(input);
  const verdict = assessStorage(
    {
      method: 'GET',
      url: meta.url,
      // The 304 validates the shared entry whoever asked: only the response's own
      // directives decide whether it stays (a request's Authorization must not evict it).
      requestHeaders: {},
      status: meta.status,
      responseHeaders: headers,
      requestTimeMs: input.requestTimeMs,
      responseTimeMs: input.responseTimeMs,
    },
    opts,
  );
  if (!verdict.store) return undefined;
  // RFC 9111 §4.1: a stored response is selected by the fields its Vary names. A 304 that names
  // others (§4.3.4 updates the stored Vary) leaves an entry keyed by values of the old fields,
  // which would answer requests the new ones set apart: it is not refreshed, but dropped.
  if (!sameVaryNames(verdict.decision.varyNames, meta)) return undefined;
  // Built by the one builder (entry.ts), then what the decision does not give kept from the entry.
  const merged = newEntryMeta(verdict.decision, {
    key: meta.key,
    primaryKey: meta.primaryKey,
    url: meta.url,
    status: meta.status,
    varyValues: meta.varyValues,
    requestTimeMs: input.requestTimeMs,
    responseTimeMs: input.responseTimeMs,
    bodySize: meta.bodySize,
    slice: meta.slice,
  });
  merged.varyNames = meta.varyNames;
  // The age restarts from the 304 itself (PITFALLS http-cache-semantics 4).
  merged.initialAgeS = correctedInitialAge(input);
  merged.integrity = meta.integrity;
  if (meta.transform !== undefined) merged.transform = meta.transform;
  if (meta.byCoding !== undefined) merged.byCoding = meta.byCoding;
  return merged;
}

/** Does the refreshed response vary on the fields `meta` was selected by? A variant keyed by coding (transform/) adds Accept-Encoding itself. */
function sameVaryNames(names: readonly string[], meta: EntryMeta): boolean {
  const own = meta.byCoding === true && !names.includes('accept-encoding') ? [...names, 'accept-encoding'].sort() : names;
  return own.length === meta.varyNames.length && own.every((n, i) => n === meta.varyNames[i]);
}

/**
 * The answer a 304 makes of the stored response for the client whose request it
 * answered when it may not refresh the stored entry (the 304 now says no-store or
 * private, carries Set-Cookie, or the request said no-store): the 304's fields and
 * age, the stored body, nothing stored. Its Set-Cookie and private fields are that
 * client's, so it is never handed to a collapsed client.
 */
export function notModifiedAnswer(input: NotModifiedInput): EntryMeta {
  const headers = withoutHopByHop(notModifiedFields(input), (name) => name === 'age');
  const cacheControl = headers['cache-control'];
  return {
    ...input.meta,
    headers,
    ...(cacheControl !== undefined ? { cacheControl } : {}),
    requestTimeMs: input.requestTimeMs,
    responseTimeMs: input.responseTimeMs,
    initialAgeS: correctedInitialAge(input),
  };
}

/**
 * The answer for the client whose request a refreshing 304 answered, when storing
 * dropped fields of it (Set-Cookie with cache.storeSetCookie, fields private="..."
 * names): the refreshed freshness and age, the 304's fields. Undefined when the
 * stored fields are the whole answer. That client's alone, like notModifiedAnswer.
 */
export function ownNotModifiedAnswer(input: NotModifiedInput, merged: EntryMeta): EntryMeta | undefined {
  const answered = notModifiedAnswer(input).headers;
  for (const name in answered) if (merged.headers[name] === undefined) return { ...merged, headers: answered };
  return undefined;
}

/**
 * RFC 9111 §3.5: a 304 answering a request that carried Authorization is a
 * response to that request, and may refresh the shared entry (be stored, and then
 * reused for others) only when the refreshed response says public, must-revalidate
 * or s-maxage. `merged` undefined: the refreshed response is not storable at all.
 * Without Authorization the response's own directives decide alone (mergeNotModified).
 */
export function mayRefreshShared(requestHeaders: HeaderMap, merged: EntryMeta | undefined): boolean {
  if (requestHeaders['authorization'] === undefined) return true;
  if (merged === undefined) return false;
  const cc = parseCacheControl(merged.cacheControl);
  return cc.has('public') || cc.has('must-revalidate') || cc.has('s-maxage');
}
