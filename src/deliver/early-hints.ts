// Which fields of an origin's 103 Early Hints (RFC 8297) go on to the client.
// Node writes an HTTP/1.1 103's fields other than Link raw, unchecked
// (ServerResponse.writeEarlyHints), so a field is passed on only when its name is
// a token and its value valid field content (RFC 9110 §5.1, §5.5): a CR, LF or NUL
// from the origin — or the "\n" that joins repeated Set-Cookie fields in a
// HeaderMap — would otherwise split or end the interim head on the client's
// connection. Pure; no I/O.

import { withoutHopByHop, type HeaderMap } from '../http/headers.js';

/** RFC 9110 §5.6.2 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 9110 §5.5 field-value: VCHAR, obs-text, SP and HTAB; no other control character. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export function isFieldName(name: string): boolean {
  return TOKEN.test(name);
}

export function isFieldValue(value: string): boolean {
  return FIELD_VALUE.test(value);
}

/**
 * The fields of a 103 to pass on: no hop-by-hop field, no Content-Length, none the
 * operator hides, none malformed. Undefined when no valid Link remains (a 103
 * without one hints nothing; Node writes none).
 */
export function earlyHintFields(headers: HeaderMap, hidden: ReadonlySet<string>): Record<string, string> | undefined {
  // No prototype: a field named __proto__ (a valid token) must not set one.
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const kept = withoutHopByHop(headers);
  for (const name of Object.keys(kept)) {
    const value = kept[name]!;
    if (name === 'content-length' || hidden.has(name) || !isFieldName(name) || !isFieldValue(value)) continue;
    out[name] = value;
  }
  return out['link'] === undefined || out['link'].trim() === '' ? undefined : out;
}
