// Dot-segment removal for origin-form request targets (RFC 3986 §5.2.4), done
// before the target becomes a cache key or is put after an upstream's path
// prefix. Without it `/../private/key` reached an origin configured as
// http://o/public as `/public/../private/key`, which the origin resolves to
// `/private/key`: a client could read outside the prefix. Pure.
//
// Percent-encoded dots count as dots: %2E is the unreserved "." (RFC 3986 §2.3,
// §6.2.2.2), and origins decode it before resolving segments. A target that climbs
// above the root, or hides a dot segment behind an encoded slash or a backslash
// (`..%2f`, `..\`, which many origins treat as separators), is refused rather than
// guessed at: no browser sends either. So is a dot segment followed by a path
// parameter (`/..;/x`), which origins that drop parameters resolve.

export type NormalisedTarget = { ok: true; target: string } | { ok: false; reason: string };

const DOT = /^(?:\.|%2e)$/i;
const DOT_DOT = /^(?:\.|%2e){2}$/i;
/** A segment that starts with a dot (plain or encoded): the only ones that can be dot segments. */
const MAY_HAVE_DOT_SEGMENT = /(?:^|\/)(?:\.|%2e)/i;
/** Where a segment's path parameters begin, the semicolon plain or encoded. */
const PARAMETER = /;|%3b/i;
const isDotSegment = (s: string): boolean => DOT.test(s) || DOT_DOT.test(s);
/** Separators some origins honour inside a segment. */
const HIDDEN_SEPARATOR = /%2f|%5c|\\/i;

/**
 * `target` (origin-form, starting with "/") in the one form keys, routes and origins read
 * (the request guard's, and purge and explain URLs'): its path's dot segments removed and a
 * leading run of slashes made one (oneLeadingSlash); refused when the path holds an encoded
 * NUL or a dot segment hidden from this reading. The query is left alone.
 */
export function normaliseTarget(target: string): NormalisedTarget {
  // An encoded NUL ends a string in C: `/admin%00/` passes a `/admin/` rule while an origin
  // that decodes into a C string reads `/admin`. No browser sends one; nginx refuses it (400)
  // in the path and leaves the query alone, as here.
  const nul = target.indexOf('%00');
  if (nul >= 0) {
    const q = target.indexOf('?');
    if (q < 0 || nul < q) return { ok: false, reason: 'request path holds an encoded NUL (%00)' };
  }
  const r = removeDotSegments(target);
  return r.ok ? { ok: true, target: oneLeadingSlash(r.target) } : r;
}

/** `target` (origin-form, starting with "/") with its path's dot segments removed; the query is left alone. */
export function removeDotSegments(target: string): NormalisedTarget {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q);
  const hidden = HIDDEN_SEPARATOR.test(path);
  // The hit path: nearly every target has no segment starting with a dot.
  if (!hidden && !MAY_HAVE_DOT_SEGMENT.test(path)) return { ok: true, target };

  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    if (DOT.test(seg)) {
      // "/a/." is "/a/": the directory itself.
      if (last) out.push('');
      continue;
    }
    if (DOT_DOT.test(seg)) {
      if (out.length === 0) return { ok: false, reason: 'request path climbs above the root with a ".." segment' };
      out.pop();
      if (last) out.push('');
      continue;
    }
    // `..;x` is `..` to an origin that drops path parameters (Tomcat, Jetty), and to the
    // path routes and rules match (http/patterns.ts decodedPath): refused, as hidden separators are.
    // The semicolon may be encoded (%3B), and the segment may hide separators too.
    const parts = hidden ? seg.split(/%2f|%5c|\\/i) : [seg];
    if (parts.some((part) => isDotSegment(part.split(PARAMETER)[0]!) && PARAMETER.test(part))) {
      return { ok: false, reason: 'request path hides a dot segment behind a path parameter (";")' };
    }
    if (hidden && parts.some(isDotSegment)) {
      return { ok: false, reason: 'request path hides a dot segment behind an encoded slash or a backslash' };
    }
    out.push(seg);
  }
  return { ok: true, target: `/${out.join('/')}${query}` };
}

/**
 * `target` (origin-form) with a run of slashes and backslashes at the start of its path
 * made one slash (after dot segments, which can leave one: `/a/..//host/x`). Such a run is an authority to URL parsers that resolve the target
 * against a base (WHATWG URL, as `new URL(req.url, base)` in the Node.js docs; urljoin;
 * URI.resolve): `//evil.example/account/x` is their `/account/x`, while routes and edge
 * filters read it as `/evil.example/account/x` (slashes merged) and let it through the
 * `/` route. One slash leaves one reading for every origin.
 */
function oneLeadingSlash(target: string): string {
  const second = target.charCodeAt(1);
  if (second !== 47 && second !== 92) return target;
  let i = 1;
  // "/" is 47, a backslash 92.
  while (i < target.length && (target.charCodeAt(i) === 47 || target.charCodeAt(i) === 92)) i++;
  return '/' + target.slice(i);
}

const ABSOLUTE = /^https?:\/\/([^/?#]+)([^#]*)/i;

/**
 * An absolute http(s) URL's authority and its origin-form target as written: the
 * characters kept (requests are keyed on the raw target; WHATWG URL would turn `"`
 * into `%22` and `\` into `/`), an empty path made `/`, a fragment dropped.
 */
export function absoluteParts(url: string): { authority: string; target: string } | undefined {
  const m = ABSOLUTE.exec(url);
  if (!m) return undefined;
  const rest = m[2]!;
  return { authority: m[1]!, target: rest === '' ? '/' : rest.startsWith('?') ? '/' + rest : rest };
}
