// Where a URL an operator names (POST /purge, GET /explain) is stored: its host (none
// for a site-relative path) and its target, exactly as a request for it is keyed.
//
// Invariant: the target keeps the characters as given. Requests are keyed on the
// raw target (server/request-guard.ts), so `/search?q="x"` is stored under `"`,
// not `%22`; re-encoding through WHATWG URL (as /explain once did) looks up a key
// no request ever made for targets with `"`, `'`, `<`, `>`, `{`, `}`, backtick,
// `\` or non-ASCII. Purge and explain both call placeOf, so they cannot disagree.
// What no key can hold is refused with its reason (a space or control character,
// userinfo), rather than looked up and found nowhere (`purged: 0`).

import { absoluteParts, normaliseTarget } from '../http/url-path.js';

/** Host (absent for a path) and origin-form target; or why the text is no URL to look up. */
export type UrlPlace = { ok: true; host?: string; target: string } | { ok: false; problem: string };

/**
 * `http(s)://host[:port]/target` or `/target` (a fragment dropped), its dot segments
 * removed and a leading run of slashes made one, as a request's are before it becomes
 * a key (`/a/./b` is stored under `/a/b`, `//a` under `/a`). `problem` names the text (cut to 200 characters) and what is wrong.
 */
export function placeOf(s: string): UrlPlace {
  let host: string | undefined;
  let target: string;
  if (s.startsWith('/')) target = s.split('#', 1)[0]!;
  else {
    const parts = absoluteParts(s);
    if (!parts) return { ok: false, problem: `${JSON.stringify(withoutUserinfo(s).slice(0, 200))} is neither an absolute http(s) URL nor a path starting with "/"` };
    // Userinfo is never part of a key (a request's Host has none): "u:p@h" would look up
    // host "u:p@h". The text is not echoed: it carries a password.
    if (parts.authority.includes('@')) return { ok: false, problem: 'the URL carries userinfo (user:password@), which no cache key has; name the host alone (the URL is not repeated here: it holds a password)' };
    host = parts.authority;
    // Keys use the http scheme even behind TLS (CACHING.md): an https URL's default port goes, as a request's does.
    if (/^https:/i.test(s) && host.endsWith(':443')) host = host.slice(0, -4);
    target = parts.target;
  }
  // A request target never holds a space or a control character (the listener refuses
  // them: a key has "/a%20b", never "/a b"), so such a text could never match anything.
  const bad = UNKEYABLE.exec(host === undefined ? target : host + target);
  if (bad) return { ok: false, problem: `${JSON.stringify(s.slice(0, 200))} holds ${describeChar(bad[0])}, which no stored URL has (percent-encode it, e.g. %20 for a space)` };
  const normal = normaliseTarget(target);
  if (!normal.ok) return { ok: false, problem: `${JSON.stringify(s.slice(0, 200))}: ${normal.reason}` };
  return host === undefined ? { ok: true, target: normal.target } : { ok: true, host, target: normal.target };
}

/** Characters no request target or Host has: controls, space and DEL. */
const UNKEYABLE = /[\x00-\x20\x7f]/;

function describeChar(c: string): string {
  return c === ' ' ? 'a space' : `a control character (U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')})`;
}

/** The text as it may be echoed: a "scheme://user:password@" part masked. */
function withoutUserinfo(s: string): string {
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i, '$1***@');
}
