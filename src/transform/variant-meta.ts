// The metadata of a variant Strata makes (an encoded or decoded body of a stored
// response), and the fields clients see for coding-keyed entries. Pure.
//
// ETags (RFC 9110 §8.8.3): the stored ETag of a made variant stays the origin's,
// so validation with the origin works unchanged and a 304 refreshes the variant.
// Clients see it weak and suffixed with the coding (W/"abc-br"): weak because the
// fast and best recompressions of one body differ in bytes but not in meaning;
// suffixed so that no conditional request (If-None-Match, If-Range) for one
// variant can ever match another variant's bytes.

import { variantKey } from '../cache/vary.js';
import type { EntryMeta } from '../entry.js';
import { withoutByteFields, type HeaderMap } from '../http/headers.js';
import type { Level } from './codings.js';
import { IDENTITY } from './negotiate.js';
import { ACCEPT_ENCODING } from './rules.js';
import type { Plan } from './select.js';
import { isCodingKeyed } from './select.js';

/** The client-facing ETag of a variant made in `coding` from a body tagged `etag`. */
export function variantEtag(etag: string, coding: string): string {
  const opaque = etag.trim().startsWith('W/') ? etag.trim().slice(2) : etag.trim();
  const inner = opaque.length >= 2 && opaque.startsWith('"') && opaque.endsWith('"') ? opaque.slice(1, -1) : opaque;
  return `W/"${inner}-${coding}"`;
}

/** Metadata of the variant `plan` makes from `source` (its body size is set at commit). */
export function derivedMeta(source: EntryMeta, plan: NonNullable<Plan>, level: Level, sourceBytes: number): EntryMeta {
  const coding = plan.op === 'encode' ? plan.coding : IDENTITY;
  // Other bytes than the source's: none of the fields describing those (length, range, digests).
  const headers: HeaderMap = withoutByteFields({ ...source.headers });
  if (coding === IDENTITY) delete headers['content-encoding'];
  else headers['content-encoding'] = coding;
  const varyValues = { ...source.varyValues, [ACCEPT_ENCODING]: coding };
  const { integrity: _integrity, ...rest } = source;
  return {
    ...rest,
    key: variantKey(source.primaryKey, source.varyNames, varyValues),
    headers,
    varyValues,
    bodySize: -1,
    transform: { coding, level: plan.op === 'decode' ? 'decoded' : level, sourceBytes },
  };
}

const presented = new WeakMap<EntryMeta, HeaderMap>();

/**
 * The stored fields as clients see them: a coding-keyed entry says
 * `Vary: Accept-Encoding` (beside the origin's other Vary members), a made
 * variant its own weak ETag. Other entries: their fields as stored (same object).
 */
export function presentedHeaders(meta: EntryMeta): HeaderMap {
  if (!isCodingKeyed(meta) && !meta.transform) return meta.headers;
  let h = presented.get(meta);
  if (h) return h;
  h = { ...meta.headers };
  const vary = h['vary'];
  if (isCodingKeyed(meta) && !(vary && /(?:^|,)\s*accept-encoding\s*(?:,|$)/i.test(vary))) h['vary'] = vary ? `${vary}, Accept-Encoding` : 'Accept-Encoding';
  if (meta.transform) {
    if (h['etag'] !== undefined) h['etag'] = variantEtag(h['etag'], meta.transform.coding);
    // Entries stored before those fields were dropped at the making (derivedMeta).
    withoutByteFields(h);
  }
  presented.set(meta, h);
  return h;
}
