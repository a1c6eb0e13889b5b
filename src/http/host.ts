// What Strata accepts as the host a client addressed (Host, or :authority on
// HTTP/2): a DNS name or IPv4 address, or a bracketed IPv6 literal, then an
// optional port. One definition for every listener (the proxy's request guard,
// the plain-HTTP redirect listener).
//
// Narrower than RFC 3986 §3.2.2 on purpose: its reg-name also admits sub-delims
// ("," ";" "=" "*" "!" ...) and percent-encoding, which no DNS name holds. Such a
// value was read as one name when choosing a site and sent on as it is in
// X-Forwarded-Host, where origin frameworks read its first name: `Host:
// secret.example.com,x.example.com` was served by the `*.example.com` site (no
// auth) while the origin saw secret.example.com. Refused with 400 instead
// (CACHING.md, Requests Strata refuses).

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_][A-Za-z0-9_.-]*)(?::\d{0,5})?$/;

/**
 * The host part of a well-formed Host value, as written ("A.example:80" →
 * "A.example", "[::1]:80" → "[::1]"); undefined when malformed ("[::1",
 * "a b", "a.example,b.example", ":80").
 */
export function hostPartOf(host: string): string | undefined {
  return HOST.exec(host)?.[1];
}

/** Why `host` (the value of `field`) is refused, for a 400's message. */
export function malformedHostMessage(field: 'Host' | ':authority', host: string): string {
  return `malformed ${field} ${JSON.stringify(host.slice(0, 100))}: expected a host name or IP literal with an optional port`;
}

/**
 * The Host field lines of a request (Node keeps the first of several in req.headers
 * and drops the rest): more than one is a 400 (RFC 9112 §3.2). Counted without
 * materialising headersDistinct on every request.
 */
export function hostCount(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') n++;
  }
  return n;
}
