// How an origin response is stored when compression is on: keyed by the coding
// of its bytes (Accept-Encoding in its Vary names, the coding as the value), and
// decoded first when it arrives in a coding the requesting client does not
// accept (the decoded variant is what is stored). A body stored in its coding is
// decoded alongside as it passes (output counted and dropped). Either way a
// corrupt or oversized body fails the fill: nothing is stored, clients are cut.

import type { Readable } from 'node:stream';
import type { StorageDecision } from '../cache/storable.js';
import type { EntryMeta, VariantMeta } from '../entry.js';
import { withoutDigests, type HeaderMap } from '../http/headers.js';
import { checkedDecoding, decoded } from './codings.js';
import type { Negotiator } from './negotiate.js';
import { IDENTITY } from './negotiate.js';
import { ACCEPT_ENCODING, codingKeyed, contentCoding, type CompressRules } from './rules.js';
import { isCodingKeyed } from './select.js';
import { presentedHeaders } from './variant-meta.js';

export interface CodingKeyed {
  /** The storage decision with Accept-Encoding among its Vary names (and the fields of a decoded body). */
  decision: StorageDecision;
  /** Goes into EntryMeta.varyValues, with EntryMeta.byCoding set. */
  varyValues: Record<string, string>;
  /** The body to store: decoded when `decoding` is set; else, in a coding, checked to decode as it passes. */
  body?: Readable;
  decoding?: NonNullable<EntryMeta['transform']>;
  /** Fields for the clients of the body as it is stored. */
  clientHeaders(meta: EntryMeta): HeaderMap;
}

interface Env {
  negotiator: Negotiator;
  rules: CompressRules;
  maxDecodedBytes: number;
}

/** Undefined when the response is not keyed by coding (stored as before). */
export function keyByCoding(res: { status: number; headers: HeaderMap; body: Readable }, d: StorageDecision, requestHeaders: HeaderMap, env: Env): CodingKeyed | undefined {
  // Compressible or decodable; or varied on Accept-Encoding by the origin (then only keyed, never transformed).
  const transformable = codingKeyed(res.status, d.headers, env.rules);
  if (!transformable && !d.varyNames.includes(ACCEPT_ENCODING)) return undefined;
  const varyNames = d.varyNames.includes(ACCEPT_ENCODING) ? d.varyNames : [...d.varyNames, ACCEPT_ENCODING].sort();
  let coding = contentCoding(d.headers);
  let headers = d.headers;
  let body: Readable | undefined;
  let decoding: CodingKeyed['decoding'];
  if (transformable && coding !== IDENTITY && !env.negotiator.acceptance(requestHeaders[ACCEPT_ENCODING]).accepts(coding)) {
    body = decoded(res.body, coding, env.maxDecodedBytes);
    headers = withoutDigests({ ...d.headers });
    delete headers['content-encoding'];
    delete headers['content-length'];
    decoding = { coding: IDENTITY, level: 'decoded', sourceBytes: -1 };
    coding = IDENTITY;
  } else if (transformable && coding !== IDENTITY) {
    // Stored as it came, and later decoded for clients without the coding: it must decode, within the limit.
    body = checkedDecoding(res.body, coding, env.maxDecodedBytes);
  }
  return {
    decision: { ...d, varyNames, headers },
    varyValues: { [ACCEPT_ENCODING]: coding === 'x-gzip' ? 'gzip' : coding },
    ...(body ? { body } : {}),
    ...(decoding ? { decoding } : {}),
    clientHeaders(meta) {
      const shown = presentedHeaders(meta);
      const h: HeaderMap = { ...res.headers, vary: shown['vary']! };
      if (decoding) {
        withoutDigests(h);
        delete h['content-encoding'];
        delete h['content-length'];
        if (shown['etag'] !== undefined) h['etag'] = shown['etag'];
      }
      return h;
    },
  };
}

/** Keys of the other codings of the same response (same other Vary values) as `meta`: superseded by its new body. */
export function siblingCodings(variants: readonly VariantMeta[], meta: EntryMeta): string[] {
  const others = meta.varyNames.filter((n) => n !== ACCEPT_ENCODING);
  return variants
    .filter((m) => m.key !== meta.key && !m.slice && isCodingKeyed(m) && m.responseTimeMs <= meta.responseTimeMs && others.every((n) => m.varyValues[n] === meta.varyValues[n]))
    .map((m) => m.key);
}
