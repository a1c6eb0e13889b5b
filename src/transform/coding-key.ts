// How an origin response is stored when compression is on: keyed by the coding
// of its bytes (Accept-Encoding in its Vary names, the coding as the value), and
// decoded first when it arrives in a coding the requesting client does not
// accept (the decoded variant is what is stored). A body stored in its coding is
// decoded alongside as it passes (output counted and dropped). Either way a
// corrupt or oversized body fails the fill: nothing is stored, clients are cut.
//
// The key is decided from the response's fields alone, before anything reads its
// body: a response that then turns out not to be stored (over a bound) is passed
// on from the origin's body itself, decoded for a client without its coding
// (decodedForClient), never from a second reader of a body already piped away.

import type { Readable } from 'node:stream';
import type { StorageDecision } from '../cache/storable.js';
import { etagOf, isSummarized, lastModifiedOf, type EntryMeta, type VariantMeta } from '../entry.js';
import { withoutByteFields, type HeaderMap } from '../http/headers.js';
import { checkedDecoding, decoded, madeByStrata } from './codings.js';
import type { Negotiator } from './negotiate.js';
import { IDENTITY } from './negotiate.js';
import { ACCEPT_ENCODING, codingKeyed, contentCoding, mayDecode, type CompressRules } from './rules.js';
import { isCodingKeyed } from './select.js';
import { presentedHeaders, variantEtag } from './variant-meta.js';

export interface CodingKeyed {
  /** The storage decision with Accept-Encoding among its Vary names (and the fields of a decoded body). */
  decision: StorageDecision;
  /** Goes into EntryMeta.varyValues, with EntryMeta.byCoding set. */
  varyValues: Record<string, string>;
  decoding?: NonNullable<EntryMeta['transform']>;
  /**
   * The body to store, read from the origin's `source`: decoded when `decoding` is set;
   * in a coding, checked to decode as it passes; else `source` itself. Called only once
   * the response is to be stored: the result is then the body's one reader.
   */
  storedBody(source: Readable): Readable;
  /** Fields for the clients of the body as it is stored. */
  clientHeaders(meta: EntryMeta): HeaderMap;
}

interface Env {
  negotiator: Negotiator;
  rules: CompressRules;
  maxDecodedBytes: number;
}

/** The coding of a response Strata may decode for a client whose Accept-Encoding does not take it; undefined when none. */
function codingToUndo(res: { status: number; headers: HeaderMap }, requestHeaders: HeaderMap, env: Env): string | undefined {
  const coding = contentCoding(res.headers);
  if (coding === IDENTITY || !mayDecode(res.status, res.headers, coding)) return undefined;
  // A request's no-transform (RFC 9110 §7.7): its client gets the origin's bytes as they came.
  const acc = env.negotiator.forRequest(requestHeaders);
  return !acc.mayTransform || acc.accepts(coding) ? undefined : coding;
}

/** `headers` of a coded body as they describe its decoded bytes (a copy). */
function decodedFields(headers: HeaderMap): HeaderMap {
  const h = withoutByteFields({ ...headers });
  delete h['content-encoding'];
  return h;
}

/**
 * Reads nothing of the body. Undefined when the response is not keyed by coding
 * (stored as before).
 */
export function keyByCoding(res: { status: number; headers: HeaderMap }, d: StorageDecision, requestHeaders: HeaderMap, env: Env): CodingKeyed | undefined {
  // Compressible or decodable; or varied on Accept-Encoding by the origin (then only keyed, never transformed).
  const transformable = codingKeyed(res.status, d.headers, env.rules);
  if (!transformable && !d.varyNames.includes(ACCEPT_ENCODING)) return undefined;
  const varyNames = d.varyNames.includes(ACCEPT_ENCODING) ? d.varyNames : [...d.varyNames, ACCEPT_ENCODING].sort();
  const sent = contentCoding(d.headers);
  const undo = transformable ? codingToUndo({ status: res.status, headers: d.headers }, requestHeaders, env) : undefined;
  const decoding: CodingKeyed['decoding'] = undo ? { coding: IDENTITY, level: 'decoded', sourceBytes: -1 } : undefined;
  const coding = undo ? IDENTITY : sent;
  return {
    decision: { ...d, varyNames, headers: undo ? decodedFields(d.headers) : d.headers },
    varyValues: { [ACCEPT_ENCODING]: coding },
    ...(decoding ? { decoding } : {}),
    storedBody(source) {
      if (undo) return decoded(source, undo, env.maxDecodedBytes);
      // Stored as it came, and later decoded for clients without the coding: it must decode, within the limit.
      if (transformable && coding !== IDENTITY) return checkedDecoding(source, coding, env.maxDecodedBytes);
      return source;
    },
    clientHeaders(meta) {
      const shown = presentedHeaders(meta);
      const h: HeaderMap = { ...res.headers, vary: shown['vary']! };
      if (decoding) {
        withoutByteFields(h);
        delete h['content-encoding'];
        if (shown['etag'] !== undefined) h['etag'] = shown['etag'];
      }
      return h;
    },
  };
}

/**
 * A response passed on without being stored, for a client that does not accept
 * the coding the origin sent anyway (the fetch asked it for identity): decoded as
 * the stored variant would have been, with that variant's fields (ETag
 * W/"...-identity", Vary: Accept-Encoding). Undefined: passed on as it came.
 */
export function decodedForClient(res: { status: number; headers: HeaderMap; body: Readable }, requestHeaders: HeaderMap, env: Env): { headers: HeaderMap; body: Readable } | undefined {
  const undo = codingToUndo(res, requestHeaders, env);
  if (undo === undefined) return undefined;
  const headers = decodedFields(res.headers);
  const etag = headers['etag'];
  if (etag !== undefined) headers['etag'] = variantEtag(etag, IDENTITY);
  const vary = headers['vary'];
  // Vary: * says it already (every field may matter), and stays alone (RFC 9110 §12.5.5).
  if (!(vary && /(?:^|,)\s*(?:accept-encoding|\*)\s*(?:,|$)/i.test(vary))) headers['vary'] = vary ? `${vary}, Accept-Encoding` : 'Accept-Encoding';
  return { headers, body: decoded(res.body, undo, env.maxDecodedBytes) };
}

/** Keys of the other codings of the same response (same other Vary values) as `meta`: superseded by its new body. */
export function siblingCodings(variants: readonly VariantMeta[], meta: EntryMeta): string[] {
  const others = meta.varyNames.filter((n) => n !== ACCEPT_ENCODING);
  return variants
    .filter((m) => m.key !== meta.key && !m.slice && isCodingKeyed(m) && m.responseTimeMs <= meta.responseTimeMs && others.every((n) => m.varyValues[n] === meta.varyValues[n]))
    .map((m) => m.key);
}

/**
 * Keys of `needed` variants Strata encoded (from a stored identity body, so made again at will)
 * that an origin's body over cache.maxVariants may take the place of, oldest first; none when
 * fewer than `needed` are there (the origin's body is then not stored). Decoded copies are not
 * among them: one decoded as it was fetched is the only copy of its response.
 */
export function displaceable(variants: readonly VariantMeta[], needed: number): string[] {
  const made = variants.filter((m) => !m.slice && madeByStrata(m));
  if (needed <= 0 || made.length < needed) return [];
  return made
    .sort((a, b) => a.responseTimeMs - b.responseTimeMs)
    .slice(0, needed)
    .map((m) => m.key);
}

/**
 * The other codings Strata stored of the response `meta` holds (RFC 9111 §4.3.4: a 304 that
 * validates one of them updates them all): coding-keyed entries of the same other Vary values
 * with the same validators, when that says they are one response — a strong ETag, or one of
 * the two made by Strata from the other (encoded or decoded; made variants keep the origin's
 * validators). Two bodies the origin sent under a weak or date validator are two responses.
 * A variant made from an older body is never selected (select.ts), refreshed or not.
 */
export function sameResponseCodings(variants: readonly VariantMeta[], meta: EntryMeta): VariantMeta[] {
  if (!isCodingKeyed(meta)) return [];
  const others = meta.varyNames.filter((n) => n !== ACCEPT_ENCODING);
  const tag = etagOf(meta);
  const strong = tag !== undefined && !tag.trim().startsWith('W/');
  return variants.filter(
    (m) =>
      m.key !== meta.key &&
      !m.slice &&
      isCodingKeyed(m) &&
      isSummarized(m) &&
      others.every((n) => m.varyValues[n] === meta.varyValues[n]) &&
      etagOf(m) === tag &&
      lastModifiedOf(m) === lastModifiedOf(meta) &&
      (strong || m.transform !== undefined || meta.transform !== undefined),
  );
}
