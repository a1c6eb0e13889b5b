// Max-Forwards (RFC 9110 §7.6.2) on OPTIONS: a request whose Max-Forwards is 0 is
// answered by the recipient itself; otherwise the value is decremented before the
// request is forwarded. TRACE is refused before it gets here (request-guard.ts);
// other methods ignore the field (§7.6.2: "MAY ignore"), and a value that is not a
// number is forwarded as it is.

import type { HeaderMap } from './headers.js';

/** Methods whose Max-Forwards Strata honours. */
const HONOURED = new Set(['OPTIONS']);

export type MaxForwards =
  /** Max-Forwards: 0 — answer here, do not forward. */
  | { answerHere: true }
  /** Forward, with this Max-Forwards value (undefined: leave the field as it is). */
  | { answerHere: false; forward: string | undefined };

const LEAVE: MaxForwards = { answerHere: false, forward: undefined };

export function maxForwards(method: string, headers: HeaderMap): MaxForwards {
  const v = headers['max-forwards'];
  if (v === undefined || !HONOURED.has(method)) return LEAVE;
  const t = v.trim();
  if (!/^\d{1,15}$/.test(t)) return LEAVE;
  const n = Number(t);
  return n === 0 ? { answerHere: true } : { answerHere: false, forward: String(n - 1) };
}

/** The methods Strata accepts and forwards (CONNECT and TRACE are refused): its own Allow. */
export const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';
