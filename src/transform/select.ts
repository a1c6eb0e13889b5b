// Which stored variant answers a request when responses are keyed by content
// coding, and what (if anything) must be made from it for the client. Pure.
//
// A coding-keyed entry carries Accept-Encoding in its Vary names with the coding
// of its own bytes as the value (rules.ts), so every spelling of Accept-Encoding
// a browser sends selects at most one variant per coding. The request's other
// varied fields match as usual (RFC 9111 §4.1).

import { variantKey, varyMatches } from '../cache/vary.js';
import { etagOf, isSummarized, lastModifiedOf, noTransformOf, type EntryMeta, type Summarized, type VariantMeta } from '../entry.js';
import type { HeaderMap } from '../http/headers.js';
import { madeByStrata } from './codings.js';
import { IDENTITY, type Acceptance } from './negotiate.js';
import { ACCEPT_ENCODING, decodeAllowed, mayDecode, whyNotCompressed, type CompressRules } from './rules.js';

/** What to make from a stored (or arriving) entry for one client: nothing, an encoded variant, or a decoded one. */
export type Plan = { op: 'encode'; coding: string } | { op: 'decode'; from: string } | undefined;

export function isCodingKeyed(meta: Pick<EntryMeta, 'byCoding'>): boolean {
  return meta.byCoding === true;
}

/** Store key of the variant in `coding` of a URL that varies on nothing else (the hit path tries it first). */
export function codingOnlyKey(primaryKey: string, coding: string): string {
  return variantKey(primaryKey, [ACCEPT_ENCODING], { [ACCEPT_ENCODING]: coding });
}

/**
 * Whether `made` (a variant made from `source`'s body) is still of the body `source` now holds
 * (`now`: the source's entry as stored now, whole or summarized: validators and size are enough).
 */
export function sameSource(source: EntryMeta, now: Summarized | undefined, sourceBytes: number): boolean {
  if (!now) return false;
  const sizeKnown = now.bodySize >= 0 && sourceBytes >= 0;
  return sameValidators(now, source) && (!sizeKnown || now.bodySize === sourceBytes);
}

/** The coding of a coding-keyed entry's bytes. */
export function codingOf(meta: Pick<EntryMeta, 'varyValues'>): string {
  return meta.varyValues[ACCEPT_ENCODING] ?? IDENTITY;
}

/**
 * What the client gets from `meta`: its bytes as they are (undefined), the
 * identity body encoded in the client's coding, or a coded body decoded for a
 * client that does not accept its coding. `bodySize`: -1 while not known.
 */
export function planFor(meta: EntryMeta, bodySize: number, method: string, acc: Acceptance, rules: CompressRules): Plan {
  // HEAD gets the plan of its GET: the same fields (RFC 9110 §9.3.2), though nothing is made for it.
  // A request's no-transform: nothing made for it (RFC 9110 §7.7); the stored bytes go as they are.
  if ((method !== 'GET' && method !== 'HEAD') || !isCodingKeyed(meta) || !acc.mayTransform) return undefined;
  const have = codingOf(meta);
  if (have === acc.chosen) return undefined;
  if (have === IDENTITY) {
    if (whyNotCompressed(meta.status, meta.headers, bodySize, rules, meta.slice !== undefined)) return undefined;
    return { op: 'encode', coding: acc.chosen };
  }
  if (acc.accepts(have)) return undefined;
  return mayDecode(meta.status, meta.headers, have) ? { op: 'decode', from: have } : undefined;
}

/**
 * The stored variant for a request: one in the chosen coding, else the identity
 * body (to encode or to send as it is), else one in a coding the client accepts,
 * else one it may be decoded from. Entries not keyed by coding match as they always did. The
 * most recent wins within each rank (RFC 9111 §4.1). Slices are never variants. A request with
 * no-transform (acc.mayTransform false) is answered from the origin's bytes alone: never a made
 * variant, and the one "to decode" is sent as it is.
 */
export function chooseVariant(variants: readonly VariantMeta[], req: HeaderMap, acc: Acceptance): { meta?: VariantMeta; whole: boolean } {
  const ranks: (VariantMeta | undefined)[] = [undefined, undefined, undefined, undefined, undefined];
  const seen = new Map<string, string>();
  let whole = false;
  const matching: VariantMeta[] = [];
  // The newest body the origin sent (as stored, or decoded): a variant made from an older one is outdated.
  // Entries keyed by coding come from every tier whole or summarized (entry.ts VariantSummary): the
  // fields read here are the same in both.
  let newest: Summarized | undefined;
  for (const m of variants) {
    if (m.slice) continue;
    whole = true;
    const keyed = isCodingKeyed(m);
    if (!varyMatches(m.varyNames, m.varyValues, req, seen, keyed ? ACCEPT_ENCODING : undefined)) continue;
    matching.push(m);
    if (keyed && isSummarized(m) && (!m.transform || m.transform.level === 'decoded') && (!newest || m.responseTimeMs > newest.responseTimeMs)) newest = m;
  }
  // An encoded variant is made from an identity body: its source size is judged against the identity
  // form of the newest body (that body, or a copy decoded from it), never against a coded body's size.
  const identity = newest && identityFormOf(newest, matching);
  for (const m of matching) {
    const keyed = isCodingKeyed(m);
    if (newest && m !== newest && madeByStrata(m) && isSummarized(m) && !madeFrom(m, newest, identity)) continue;
    // A no-transform request gets none of the variants Strata made (encoded or decoded), only the origin's bytes.
    if (!acc.mayTransform && m.transform !== undefined) continue;
    let r: number;
    if (!keyed) r = 4;
    else {
      const have = codingOf(m);
      // A coded body the client does not accept and that may not be decoded for it answers nothing: a miss.
      // Under a request's no-transform, one Strata would decode for others goes as it is: the origin's own
      // bytes, as the origin sends them to a request for identity (every fill asks for it).
      r = have === acc.chosen ? 0 : have === IDENTITY ? 1 : acc.accepts(have) ? 2 : isSummarized(m) && decodeAllowed(m.status, noTransformOf(m), have) ? 3 : -1;
      if (r < 0) continue;
    }
    const cur = ranks[r];
    if (!cur || m.responseTimeMs > cur.responseTimeMs) ranks[r] = m;
  }
  for (const m of ranks) if (m) return { meta: m, whole };
  return { whole };
}

/**
 * Whether made variant `m` was made from the body `newest` holds: the same validators, and, when
 * the sizes are known, the size of the identity body it is made from (`identity`: that body in
 * identity, undefined when none is stored: judged by validators alone).
 */
function madeFrom(m: Summarized, newest: Summarized, identity: Summarized | undefined): boolean {
  if (!sameValidators(m, newest)) return false;
  const sizeKnown = identity !== undefined && m.transform!.sourceBytes >= 0 && identity.bodySize >= 0;
  return !sizeKnown || m.transform!.sourceBytes === identity.bodySize;
}

function sameValidators(a: Summarized, b: Summarized): boolean {
  return etagOf(a) === etagOf(b) && lastModifiedOf(a) === lastModifiedOf(b);
}

/**
 * The body `newest` holds, in identity: `newest` itself, or the most recent identity copy decoded
 * from it (its validators, and the coded size it was decoded from when known). Decoded copies keep
 * their source's time while a 304 may refresh the source's: matched by content, not by time.
 */
function identityFormOf(newest: Summarized, matching: readonly VariantMeta[]): Summarized | undefined {
  if (codingOf(newest) === IDENTITY) return newest;
  let best: Summarized | undefined;
  for (const m of matching) {
    if (!isSummarized(m) || codingOf(m) !== IDENTITY || m.transform?.level !== 'decoded' || !sameValidators(m, newest)) continue;
    const from = m.transform.sourceBytes;
    if (from >= 0 && newest.bodySize >= 0 && from !== newest.bodySize) continue;
    if (!best || m.responseTimeMs > best.responseTimeMs) best = m;
  }
  return best;
}
