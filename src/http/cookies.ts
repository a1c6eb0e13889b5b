// Reading cookies from a request's Cookie field (RFC 6265 §5.4: "name=value"
// pairs separated by "; "). Pure. Routes key by a cookie and keep a user on one
// side of a canary by one (src/routing/).
//
// Origins disagree on a repeated name (PHP and RFC 6265 take the first, Django
// the last), on quotes (most remove them, PHP keeps them) and on names: PHP reads
// " " and "." in one as "_" (`lang.code` is its lang_code) and keeps a blank after
// it (`lang ` is its lang_), where the others trim it. A key must read no less than
// any of them: cookieOccurrences gives every occurrence some origin reads under a
// name, as sent, with its spelling when that is not the name itself.

/** The value of cookie `name` in a Cookie field value; undefined when absent. The first one wins (RFC 6265 §5.4), quotes removed. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  const all = cookieValues(header, name);
  if (all.length === 0) return undefined;
  const v = all[0]!.trim();
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

/** Each "name=value" pair of a Cookie field value, in order: the name and value as sent (between ";" and "=", and after "="). */
function* cookiePairs(header: string): Generator<[name: string, value: string]> {
  let from = 0;
  while (from < header.length) {
    let end = header.indexOf(';', from);
    if (end < 0) end = header.length;
    const eq = header.indexOf('=', from);
    if (eq > -1 && eq < end) yield [header.slice(from, eq), header.slice(eq + 1, end)];
    from = end + 1;
  }
}

/**
 * Every value of cookie `name` in a Cookie field value, in order, exactly as sent
 * (quotes and any white space inside the pair kept); [] when absent.
 */
export function cookieValues(header: string | undefined, name: string): string[] {
  const out: string[] = [];
  if (header === undefined) return out;
  for (const [sent, value] of cookiePairs(header)) if (sent.trim() === name) out.push(value);
  return out;
}

/** One occurrence of a cookie: its value as sent, and its name as sent when that is not the name asked for. */
export interface CookieOccurrence {
  value: string;
  /** The name as sent (leading blanks removed, as every reader does) when it differs from the one asked for. */
  spelling?: string;
}

/**
 * Every occurrence of a pair in a Cookie field value that some origin reads as cookie
 * `name`, in order: the name itself (leading blanks removed), the name with blanks
 * after it (most readers trim them), a name PHP files under `name` (phpCookieName), or
 * one of these percent-encoded (PHP and Rack decode names: "%73ession" is their session).
 * The cache key and the JWT guard's token cookie read cookies alike through it.
 */
export function cookieOccurrences(header: string | undefined, name: string): CookieOccurrence[] {
  const out: CookieOccurrence[] = [];
  if (header === undefined) return out;
  for (const [raw, value] of cookiePairs(header)) {
    const sent = raw.trimStart();
    if (sent === name) {
      out.push({ value });
      continue;
    }
    const read = decodedName(sent);
    if (read.trimEnd() === name || phpCookieName(read) === name) out.push({ value, spelling: sent });
  }
  return out;
}

/** A cookie name percent-decoded; a malformed escape leaves it as it is (PHP and Rack keep it so). */
function decodedName(sent: string): string {
  if (!sent.includes('%')) return sent;
  try {
    return decodeURIComponent(sent);
  } catch {
    return sent;
  }
}

/**
 * The name PHP files a cookie under (php_register_variable_ex): " " and "." read as
 * "_" up to a "["; `a[b]` is the array `a`; a "[" never closed reads as "_".
 */
export function phpCookieName(sent: string): string {
  const open = sent.indexOf('[');
  const head = (open < 0 ? sent : sent.slice(0, open)).replace(/[ .]/g, '_');
  if (open < 0) return head;
  return sent.indexOf(']', open) < 0 ? `${head}_${sent.slice(open + 1)}` : head;
}
