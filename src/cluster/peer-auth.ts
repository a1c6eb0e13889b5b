// Proof that a request comes from a peer of this cluster: an HMAC-SHA256, keyed by
// the shared secret (cluster.secret), over the method, the request target, the
// Host, the sender's wall-clock time, a nonce, its node id, for a request with a
// body the body's SHA-256 (PEER_BODY, checked against the body by whoever reads
// it: bodyMatches), and every other request field the sender sets, names and
// values in order (their names listed in PEER_SIGNED). Peers speak plain HTTP, so
// the proof covers everything the receiver takes from the request:
// - a proof is refused outside MAX_SKEW_MS of now, and accepted once within it
//   (SeenProofs): a captured request cannot be sent again, later or at once;
// - another Host, or a changed signed field, breaks the MAC;
// - fields the proof does not cover are removed from a proven request (framing
//   aside), so nothing added to a captured request reaches the owner's cache
//   look-up, its origin request or its answer;
// - the fields a peer alone may set (PEER_SIDE: the canary side its client was
//   given; PEER_VOUCHED: the credentials its edge guard checked) are in PEER_FIELDS,
//   signed like any other.
// A retry by a peer is a new request with a new proof (time and nonce).
//
// A peer's own error answer to a proven request, when its origin fetch failed
// (PEER_REPORTED_ERRORS), names the error's code in PEER_ERROR with a MAC over that
// code and the request's signature (PEER_ERROR_SIG): the asker takes it as a failure
// of the same kind (cluster/peer-fetch.ts) and its own stale rules decide. An
// origin's 502 passed through carries no valid one, whatever fields it set.
//
// Invariant: a request that claims to come from a peer (any of PEER_FIELDS) without
// a valid proof is an ordinary client request, and those fields are removed before
// anything else reads the request (they never reach the origin or a peer).

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { HeaderMap } from '../http/headers.js';
import type { SeenProofs } from './seen-proofs.js';

export const PEER_FROM = 'strata-peer';
export const PEER_TIME = 'strata-peer-time';
export const PEER_NONCE = 'strata-peer-nonce';
export const PEER_SIG = 'strata-peer-sig';
export const PEER_BODY = 'strata-peer-body';
/** The names of the fields the proof covers besides Host, in the order signed, comma-separated. */
export const PEER_SIGNED = 'strata-peer-signed';
/** The canary side the sender's client was given: the owner answers from that side (pipeline/handle.ts). */
export const PEER_SIDE = 'strata-peer-side';
/**
 * Request fields the sender's edge guard checked under edge.publicAfterAuth (comma-separated
 * names): the owner keeps them for the origin only, as the guard did (pipeline/guarded.ts).
 */
export const PEER_VOUCHED = 'strata-peer-vouched';
/**
 * The node id the proof was made for: accepted by that node alone. The one
 * exception is a health probe on the admin listener (checkPeer `probeAnyId`).
 */
export const PEER_TO = 'strata-peer-to';
/** On a peer's error answer: the code of its own failed origin fetch (signed by PEER_ERROR_SIG). */
export const PEER_ERROR = 'strata-peer-error';
export const PEER_ERROR_SIG = 'strata-peer-error-sig';
/**
 * The failures of a peer's origin fetch it reports as such (Strata's own 502/504):
 * no response came, or none that was HTTP. Anything else a peer answers (an origin's
 * 5xx included) is an answer.
 */
export const PEER_REPORTED_ERRORS: ReadonlySet<string> = new Set(['ORIGIN_UNREACHABLE', 'ORIGIN_TIMEOUT', 'ORIGIN_BAD_RESPONSE']);
export const PEER_FIELDS = [PEER_FROM, PEER_TIME, PEER_NONCE, PEER_SIG, PEER_BODY, PEER_SIGNED, PEER_SIDE, PEER_TO, PEER_VOUCHED] as const;

/** The proof's own fields: parts of the MAC by place, never listed in PEER_SIGNED. */
const PROOF_OWN: ReadonlySet<string> = new Set([PEER_FROM, PEER_TIME, PEER_NONCE, PEER_SIG, PEER_BODY, PEER_SIGNED, PEER_TO, 'host']);

/**
 * Message framing, set by the HTTP client under the proof (the body itself is bound
 * by PEER_BODY): kept unsigned. Not Connection: it can name fields to drop.
 */
const FRAMING: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding']);

/** A signature as peerProof writes it: the canonical base64url of 32 bytes (any other spelling is refused). */
const SIGNATURE = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** How far a peer's clock (and the network) may be from ours. */
export const MAX_SKEW_MS = 30_000;

interface Signed {
  method: string;
  target: string;
  host: string;
  time: string;
  nonce: string;
  from: string;
  /** The receiving node's id ('' for a health probe, which may go to a node not yet known by id). */
  to: string;
  body: string;
  /** The listed fields' names (PEER_SIGNED's value) and a reader of their values. */
  names: readonly string[];
  value: (name: string) => string | undefined;
}

/** Undefined when a listed field is absent: no proof then. */
function mac(secret: string, s: Signed): Buffer | undefined {
  const h = createHmac('sha256', secret).update(`strata-peer-3\n${s.method}\n${s.target}\n${s.host}\n${s.time}\n${s.nonce}\n${s.from}\n${s.to}\n${s.body}\n`);
  for (const name of s.names) {
    const v = s.value(name);
    if (v === undefined) return undefined;
    // Field values never hold a line break (HTTP forbids it); leading and trailing blanks are not part of a value (RFC 9110 §5.5).
    h.update(`${name}\n${v.trim()}\n`);
  }
  return h.digest();
}

export function bodyDigest(body: string | Buffer): string {
  return createHash('sha256').update(body).digest('base64url');
}

/**
 * The fields that prove this request comes from node `from`, to send beside
 * `fields`: every field the request carries (Host included; lower-case names),
 * each signed; with `body`: bound to it too.
 */
export function peerProof(secret: string, from: string, to: string, method: string, target: string, nowMs: number, fields: HeaderMap, body?: string | Buffer): Record<string, string> {
  const time = String(Math.floor(nowMs));
  const nonce = randomBytes(12).toString('base64url');
  const digest = body === undefined ? '' : bodyDigest(body);
  const names = Object.keys(fields).filter((n) => !PROOF_OWN.has(n));
  const sig = mac(secret, { method, target, host: fields['host'] ?? '', time, nonce, from, to, body: digest, names, value: (n) => fields[n] })!;
  const out: Record<string, string> = { [PEER_FROM]: from, [PEER_TIME]: time, [PEER_NONCE]: nonce, [PEER_SIG]: sig.toString('base64url'), [PEER_SIGNED]: names.join(',') };
  if (to !== '') out[PEER_TO] = to;
  if (body !== undefined) out[PEER_BODY] = digest;
  return out;
}

/** The MAC binding an error code to the proven request it answers (its PEER_SIG): made by the answering peer. */
export function peerErrorSignature(secret: string, requestSig: string, code: string): string {
  return createHmac('sha256', secret).update(`strata-peer-error-1\n${requestSig}\n${code}\n`).digest('base64url');
}

/**
 * The error code a peer's answer reports for its failed origin fetch, when it is one
 * of PEER_REPORTED_ERRORS and signed for the request this node sent (`requestSig`);
 * else undefined. Constant time in the signature.
 */
export function peerErrorOf(secret: string, requestSig: string, headers: HeaderMap): string | undefined {
  const code = headers[PEER_ERROR];
  const sig = headers[PEER_ERROR_SIG];
  if (secret === '' || code === undefined || sig === undefined || !PEER_REPORTED_ERRORS.has(code) || !SIGNATURE.test(sig)) return undefined;
  const want = Buffer.from(peerErrorSignature(secret, requestSig, code));
  const got = Buffer.from(sig);
  return got.length === want.length && timingSafeEqual(got, want) ? code : undefined;
}

/**
 * The signature of a purge bus entry (purge-bus.ts): the proof's MAC, keyed by the
 * shared secret, over the entry's text and the node that wrote it, as method
 * "XADD" to the stream `stream` (no request is ever that, so no peer request's
 * proof is a bus entry's). No time or nonce: a node replays entries long after
 * they were written.
 */
export function busEntrySignature(secret: string, stream: string, from: string, atMs: string, text: string): string {
  return mac(secret, { method: 'XADD', target: stream, host: '', time: atMs, nonce: '', from, to: '', body: bodyDigest(text), names: [], value: () => undefined })!.toString('base64url');
}

/** Was the bus entry `text`, stamped `atMs`, signed with the shared secret by `from`? Constant time in the signature. */
export function busEntrySigned(secret: string, stream: string, from: string, atMs: string, text: string, sig: string | undefined): boolean {
  if (secret === '' || sig === undefined || !SIGNATURE.test(sig) || !/^\d{1,16}$/.test(atMs)) return false;
  const want = Buffer.from(busEntrySignature(secret, stream, from, atMs, text));
  const got = Buffer.from(sig);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** The body a proven peer request carried is the one its proof names. */
export function bodyMatches(headers: Record<string, string | string[] | undefined>, body: Buffer): boolean {
  const named = headers[PEER_BODY];
  if (typeof named !== 'string') return false;
  const a = Buffer.from(named);
  const b = Buffer.from(bodyDigest(body));
  return a.length === b.length && timingSafeEqual(a, b);
}

export type PeerCheck = { peer: string } | { peer: undefined; forged: false } | { peer: undefined; forged: true; why: 'invalid' | 'replayed' };

/** Every client request's answer (no peer fields): one object, not one per request. */
const NO_CLAIM: PeerCheck = Object.freeze({ peer: undefined, forged: false });

/**
 * The peer a request proves it comes from, its proof then remembered in `seen`
 * (accepted once) and every field it does not cover removed from `headers`. When
 * it claims one without a valid proof, the peer fields are deleted from `headers`
 * (the request goes on as a client's) and `forged` is true.
 *
 * `probeAnyId` (the admin listener alone): a GET /healthz proof made for another
 * id, or none, is accepted too. A member probe names the id it last knew (none
 * for an address DNS listed that has not answered yet, or an old one when the
 * node restarted under another id): the answer names the id, and the prober
 * reports the mismatch itself (membership.ts probe). Each node remembers its own
 * proofs, so such a proof captured on its way to one node is accepted once by
 * every other node within MAX_SKEW_MS: only where that yields nothing but the
 * health answer and a delivery of owed purges to the peer's configured address.
 * Never on the proxy listener: there a peer skips the edge guard and sees
 * peer-only fields.
 */
export function checkPeer(secret: string, self: string, method: string, target: string, headers: HeaderMap, nowMs: number, seen: SeenProofs, probeAnyId = false): PeerCheck {
  const from = headers[PEER_FROM];
  const time = headers[PEER_TIME];
  const sig = headers[PEER_SIG];
  if (from === undefined && time === undefined && sig === undefined && !claimsOtherwise(headers)) return NO_CLAIM;
  const nonce = headers[PEER_NONCE];
  const listed = headers[PEER_SIGNED];
  let why: 'invalid' | 'replayed' = 'invalid';
  // Made for this node; on the admin listener, a health probe made for whoever answers.
  const to = headers[PEER_TO] ?? '';
  const forMe = to === self || (probeAnyId && method === 'GET' && target === '/healthz');
  if (secret !== '' && forMe && from !== undefined && time !== undefined && sig !== undefined && SIGNATURE.test(sig) && nonce !== undefined && listed !== undefined && /^\d{1,16}$/.test(time) && Math.abs(nowMs - Number(time)) <= MAX_SKEW_MS) {
    const names = listed === '' ? [] : listed.split(',');
    const want = names.some((n) => PROOF_OWN.has(n)) ? undefined : mac(secret, { method, target, host: headers['host'] ?? '', time, nonce, from, to, body: headers[PEER_BODY] ?? '', names, value: (n) => headers[n] });
    const got = Buffer.from(sig, 'base64url');
    if (want !== undefined && got.length === want.length && timingSafeEqual(got, want)) {
      if (seen.firstUse(sig, Number(time), nowMs)) {
        keepOnly(headers, names);
        return { peer: from };
      }
      why = 'replayed';
    }
  }
  for (const f of PEER_FIELDS) delete headers[f];
  return { peer: undefined, forged: true, why };
}

/** Peer fields other than the three every proof has: rare, so looked at only when those are absent. */
function claimsOtherwise(headers: HeaderMap): boolean {
  return headers[PEER_NONCE] !== undefined || headers[PEER_BODY] !== undefined || headers[PEER_SIGNED] !== undefined || headers[PEER_SIDE] !== undefined || headers[PEER_TO] !== undefined || headers[PEER_VOUCHED] !== undefined;
}

/** A proven request keeps what its proof covers (and its framing): anything added on the way is dropped. */
function keepOnly(headers: HeaderMap, names: readonly string[]): void {
  for (const name of Object.keys(headers)) {
    if (PROOF_OWN.has(name) || FRAMING.has(name) || names.includes(name)) continue;
    // HTTP/2 pseudo-fields describe the stream, not the request's fields.
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    delete headers[name];
  }
}
