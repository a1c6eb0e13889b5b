// Proof that a request comes from a peer of this cluster: an HMAC-SHA256, keyed by
// the shared secret (cluster.secret), over the method, the request target, the
// sender's wall-clock time and its node id. A proof older or newer than
// MAX_SKEW_MS is refused, so a captured request cannot be replayed later on.
//
// Invariant: a request that claims to come from a peer (any of PEER_FIELDS) without
// a valid proof is an ordinary client request, and those fields are removed before
// anything else reads the request (they never reach the origin or a peer).

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { HeaderMap } from '../http/headers.js';

export const PEER_FROM = 'strata-peer';
export const PEER_TIME = 'strata-peer-time';
export const PEER_SIG = 'strata-peer-sig';
export const PEER_FIELDS = [PEER_FROM, PEER_TIME, PEER_SIG] as const;

/** How far a peer's clock (and the network) may be from ours. */
export const MAX_SKEW_MS = 30_000;

function mac(secret: string, method: string, target: string, time: string, from: string): Buffer {
  return createHmac('sha256', secret).update(`${method}\n${target}\n${time}\n${from}`).digest();
}

/** The fields that prove this request comes from node `from`. */
export function peerProof(secret: string, from: string, method: string, target: string, nowMs: number): Record<string, string> {
  const time = String(Math.floor(nowMs));
  return { [PEER_FROM]: from, [PEER_TIME]: time, [PEER_SIG]: mac(secret, method, target, time, from).toString('base64url') };
}

export type PeerCheck = { peer: string } | { peer: undefined; forged: boolean };

/**
 * The peer a request proves it comes from. When it claims one without a valid
 * proof, the peer fields are deleted from `headers` (the request goes on as a
 * client's) and `forged` is true.
 */
export function checkPeer(secret: string, method: string, target: string, headers: HeaderMap, nowMs: number): PeerCheck {
  const from = headers[PEER_FROM];
  const time = headers[PEER_TIME];
  const sig = headers[PEER_SIG];
  if (from === undefined && time === undefined && sig === undefined) return { peer: undefined, forged: false };
  if (secret !== '' && from !== undefined && time !== undefined && sig !== undefined && /^\d{1,16}$/.test(time) && Math.abs(nowMs - Number(time)) <= MAX_SKEW_MS) {
    const want = mac(secret, method, target, time, from);
    const got = Buffer.from(sig, 'base64url');
    if (got.length === want.length && timingSafeEqual(got, want)) return { peer: from };
  }
  for (const f of PEER_FIELDS) delete headers[f];
  return { peer: undefined, forged: true };
}
