// Where a URL an operator names (POST /purge, GET /explain) is stored: its host (none
// for a site-relative path) and its target, exactly as a request for it is keyed.
//
// Invariant: the target keeps the characters as given. Requests are keyed on the
// raw target (server/request-guard.ts), so `/search?q="x"` is stored under `"`,
// not `%22`; re-encoding through WHATWG URL (as /explain once did) looks up a key
// no request ever made for targets with `"`, `'`, `<`, `>`, `{`, `}`, backtick,
// `\` or non-ASCII. Purge and explain both call placeOf, so they cannot disagree.

import { absoluteParts, removeDotSegments } from '../http/url-path.js';

/** Host (absent for a path) and origin-form target; or why the text is no URL to look up. */
export type UrlPlace = { ok: true; host?: string; target: string } | { ok: false; problem: string };

/**
 * `http(s)://host[:port]/target` or `/target` (a fragment dropped), its dot segments
 * removed as a request's are before it becomes a key (`/a/./b` is stored under
 * `/a/b`). `problem` names the text (cut to 200 characters) and what is wrong.
 */
export function placeOf(s: string): UrlPlace {
  let host: string | undefined;
  let target: string;
  if (s.startsWith('/')) target = s.split('#', 1)[0]!;
  else {
    const parts = absoluteParts(s);
    if (!parts) return { ok: false, problem: `${JSON.stringify(s.slice(0, 200))} is neither an absolute http(s) URL nor a path starting with "/"` };
    host = parts.authority;
    // Keys use the http scheme even behind TLS (CACHING.md): an https URL's default port goes, as a request's does.
    if (/^https:/i.test(s) && host.endsWith(':443')) host = host.slice(0, -4);
    target = parts.target;
  }
  const normal = removeDotSegments(target);
  if (!normal.ok) return { ok: false, problem: `${JSON.stringify(s.slice(0, 200))}: ${normal.reason}` };
  return host === undefined ? { ok: true, target: normal.target } : { ok: true, host, target: normal.target };
}
