// The one rule for responses that have no content whatever their framing fields
// say (RFC 9110 §6.4.1, RFC 9112 §6.3): an answer to HEAD, and every 1xx, 204 and
// 304. Such a response is complete with its header section. Its Content-Length, if
// any, is the length the representation would have (§8.6 lets a 304 carry it;
// Jetty and ASP.NET send it), never a count of bytes still to come: the origin side
// (origin/upstream.ts) reads no body for it, the miss path announces none, and
// answers passed on to clients drop the field on 204 and 304 (deliver/respond.ts).

/** Does the response to `method` with `status` have no content by definition? */
export function hasNoContent(method: string, status: number): boolean {
  return method === 'HEAD' || status < 200 || status === 204 || status === 304;
}

/** 204 and 304: statuses whose Content-Length is not passed on (a 204 must not carry one, RFC 9110 §8.6). */
export function dropsContentLength(status: number): boolean {
  return status === 204 || status === 304;
}
