// Whether a request still fits a peer's header limit once the hop has added its own
// fields. A client's header block the node accepted (limits.maxHeaderBytes) grows on
// the way to a peer: X-Forwarded-*, Via, the Host of the key, and the proof's fields
// (peer-auth.ts: PEER_SIGNED lists every field name sent). A peer refuses a block over
// its limit (431), and that answer would be final; the asking node checks first and,
// when the block would not fit, asks the origin itself (cluster/peer-fetch.ts). Pure.

import type { HeaderMap } from '../http/headers.js';

/**
 * What the proof adds besides the names it lists: its field names, time (13 digits),
 * nonce (16), signature (43), a cache-control directive added to the request
 * (only-if-cached, no-cache), PEER_SIDE, and what the HTTP client adds itself
 * (connection: keep-alive); rounded up generously.
 */
const FIXED_OVERHEAD_BYTES = 512;

/**
 * An upper estimate of the header section a peer receives for `headers` (the fields
 * forwarded, before the hop's own), counted as a parser does: request line, each
 * field's name, ": ", value and CRLF, the closing CRLF.
 */
export function peerHeadBytes(method: string, target: string, headers: HeaderMap, from: string, to: string, host: string): number {
  let n = method.length + target.length + 12 + 2 + host.length + 8 + FIXED_OVERHEAD_BYTES + from.length + to.length;
  for (const name in headers) {
    // The field itself, and its name once more in PEER_SIGNED's list.
    n += 2 * name.length + 1 + headers[name]!.length + 4;
  }
  return n;
}
