// Reading cookies from a request's Cookie field (RFC 6265 §5.4: "name=value"
// pairs separated by "; "). Pure. Routes key by a cookie and keep a user on one
// side of a canary by one (src/routing/).
//
// Origins disagree on a repeated name (PHP and RFC 6265 take the first, Django
// the last) and on quotes (most remove them, PHP keeps them): a key must read
// no less than any of them, so cookieValues gives every occurrence, as sent.

/** The value of cookie `name` in a Cookie field value; undefined when absent. The first one wins (RFC 6265 §5.4), quotes removed. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  const all = cookieValues(header, name);
  if (all.length === 0) return undefined;
  const v = all[0]!.trim();
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

/**
 * Every value of cookie `name` in a Cookie field value, in order, exactly as sent
 * (quotes and any white space inside the pair kept); [] when absent.
 */
export function cookieValues(header: string | undefined, name: string): string[] {
  const out: string[] = [];
  if (header === undefined) return out;
  let from = 0;
  while (from < header.length) {
    let end = header.indexOf(';', from);
    if (end < 0) end = header.length;
    const eq = header.indexOf('=', from);
    if (eq > -1 && eq < end && header.slice(from, eq).trim() === name) out.push(header.slice(eq + 1, end));
    from = end + 1;
  }
  return out;
}
