// Proof that a request comes from a peer of this cluster: an HMAC-SHA256, keyed by
// the shared secret (cluster.secret), over the method, the request target, the
// sender's wall-clock time, its node id and, for a request with a body, the body's
// SHA-256 (PEER_BODY, checked against the body by whoever reads it: bodyMatches).
// A proof older or newer than MAX_SKEW_MS is refused, so a captured request cannot
// be replayed later on, nor its proof reused for another body.
//
// Invariant: a request that claims to come from a peer (any of PEER_FIELDS) without
// a valid proof is an ordinary client request, and those fields are removed before
// anything else reads the request (they never reach the origin or a peer).

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { HeaderMap } from '../http/headers.js';

export const PEER_FROM = 'strata-peer';
export const PEER_TIME = 'strata-peer-time';
export const PEER_SIG = 'strata-peer-sig';
export const PEER_BODY = 'strata-peer-body';
export const PEER_FIELDS = [PEER_FROM, PEER_TIME, PEER_SIG, PEER_BODY] as const;

/** How far a peer's clock (and the network) may be from ours. */
export const MAX_SKEW_MS = 30_000;

function mac(secret: string, method: string, target: string, time: string, from: string, body: string): Buffer {
  return createHmac('sha256', secret).update(`${method}\n${target}\n${time}\n${from}\n${body}`).digest();
}

export function bodyDigest(body: string | Buffer): string {
  return createHash('sha256').update(body).digest('base64url');
}

/** The fields that prove this request comes from node `from` (with `body`: bound to it too). */
export function peerProof(secret: string, from: string, method: string, target: string, nowMs: number, body?: string | Buffer): Record<string, string> {
  const time = String(Math.floor(nowMs));
  const digest = body === undefined ? '' : bodyDigest(body);
  const out: Record<string, string> = { [PEER_FROM]: from, [PEER_TIME]: time, [PEER_SIG]: mac(secret, method, target, time, from, digest).toString('base64url') };
  if (body !== undefined) out[PEER_BODY] = digest;
  return out;
}

/** The body a proven peer request carried is the one its proof names. */
export function bodyMatches(headers: Record<string, string | string[] | undefined>, body: Buffer): boolean {
  const named = headers[PEER_BODY];
  if (typeof named !== 'string') return false;
  const a = Buffer.from(named);
  const b = Buffer.from(bodyDigest(body));
  return a.length === b.length && timingSafeEqual(a, b);
}

export type PeerCheck = { peer: string } | { peer: undefined; forged: boolean };

/** Every client request's answer (no peer fields): one object, not one per request. */
const NO_CLAIM: PeerCheck = Object.freeze({ peer: undefined, forged: false });

/**
 * The peer a request proves it comes from. When it claims one without a valid
 * proof, the peer fields are deleted from `headers` (the request goes on as a
 * client's) and `forged` is true.
 */
export function checkPeer(secret: string, method: string, target: string, headers: HeaderMap, nowMs: number): PeerCheck {
  const from = headers[PEER_FROM];
  const time = headers[PEER_TIME];
  const sig = headers[PEER_SIG];
  if (from === undefined && time === undefined && sig === undefined) return NO_CLAIM;
  if (secret !== '' && from !== undefined && time !== undefined && sig !== undefined && /^\d{1,16}$/.test(time) && Math.abs(nowMs - Number(time)) <= MAX_SKEW_MS) {
    const want = mac(secret, method, target, time, from, headers[PEER_BODY] ?? '');
    const got = Buffer.from(sig, 'base64url');
    if (got.length === want.length && timingSafeEqual(got, want)) return { peer: from };
  }
  for (const f of PEER_FIELDS) delete headers[f];
  return { peer: undefined, forged: true };
}
