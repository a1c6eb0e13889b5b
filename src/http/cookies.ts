// Reading one cookie from a request's Cookie field (RFC 6265 §5.4: "name=value"
// pairs separated by "; "). Pure. Routes key by a cookie and keep a user on one
// side of a canary by one (src/routing/).

/** The value of cookie `name` in a Cookie field value; undefined when absent. The first one wins (RFC 6265 §5.4). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  let from = 0;
  while (from < header.length) {
    let end = header.indexOf(';', from);
    if (end < 0) end = header.length;
    const eq = header.indexOf('=', from);
    if (eq > -1 && eq < end && header.slice(from, eq).trim() === name) {
      let v = header.slice(eq + 1, end).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      return v;
    }
    from = end + 1;
  }
  return undefined;
}
