// The matching vocabulary of edge rules (src/routing/guard/): path patterns, field
// value patterns and client address ranges (CIDR, IPv4 and IPv6). Pure, no I/O;
// the config kinds use the same parsers to refuse a bad pattern at start-up,
// naming the key.
//
// Path patterns (one syntax, three forms, chosen by their first character):
//   "/admin/"            prefix: the path starts with it (or is "/admin", its bare path)
//   "/img/*.png", "/a/**" glob: `*` is any run of characters inside one segment,
//                         `**` any run across segments, `?` one character ("/a/**"
//                         also matches "/a")
//   "~ ^/api/v\d+/"       regular expression (JavaScript); "~* …" ignores case
// Paths are matched after percent-decoding (so `/%61dmin` and `/admin%2Fx` meet a
// rule about `/admin/`: origins decode before routing) and without the query.
// Under a site's caseInsensitivePaths (off by default) they are matched ignoring case:
// the path is lower-cased (routedPath), prefixes and globs once when compiled, and
// a regular expression is matched as with "~*".

import { BlockList, isIP } from 'node:net';

export type PathMatcher = (decodedPath: string) => boolean;
export type ValueMatcher = (value: string | undefined) => boolean;

/** Thrown for a pattern or range that cannot be used; the message says what was expected. */
export class PatternError extends Error {}

function regexOf(pattern: string, foldCase = false): RegExp | undefined {
  const m = /^~(\*)?\s+(.*)$/s.exec(pattern);
  if (!m) return undefined;
  try {
    return new RegExp(m[2]!, m[1] || foldCase ? 'i' : '');
  } catch (err) {
    throw new PatternError(`${JSON.stringify(pattern)} is not a valid regular expression (${(err as Error).message})`);
  }
}

/** `tail`: a regular expression for what may follow the glob's own characters. */
function globToRegex(glob: string, tail = ''): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(re + tail + '$');
}

/**
 * `foldCase`: the matcher is given paths lower-cased (routedPath(target, true)) and
 * matches them ignoring the pattern's case.
 */
export function compilePath(pattern: string, foldCase = false): PathMatcher {
  const re = regexOf(pattern, foldCase);
  if (re) return (p) => re.test(p);
  if (!pattern.startsWith('/')) throw new PatternError(`${JSON.stringify(pattern)} is not a path pattern (expected /prefix, a glob like /img/*.png, or "~ regex")`);
  const as = foldCase ? pattern.toLowerCase() : pattern;
  // The directory a pattern names is also its bare path ("/admin/" and "/admin/**" cover
  // "/admin"): most origins answer "/admin" as "/admin/" (Express's non-strict routing, a
  // directory index), as routes are chosen (routing/sites.ts prefixCovers).
  if (/[*?]/.test(as)) {
    const g = as.length > 3 && as.endsWith('/**') ? globToRegex(as.slice(0, -3), '(?:/.*)?') : globToRegex(as);
    return (p) => g.test(p);
  }
  const bare = as.length > 1 && as.endsWith('/') ? as.slice(0, -1) : undefined;
  return bare === undefined ? (p) => p.startsWith(as) : (p) => p.startsWith(as) || p === bare;
}

/** Is `pattern` an exact value (not "*", "!" or a regular expression)? */
export function isExactValue(pattern: string): boolean {
  return pattern !== '*' && pattern !== '!' && !/^~(\*)?\s+/.test(pattern);
}

/**
 * A field value pattern: "~ regex" / "~* regex" (any part of the value), "*" (the
 * field is present), or an exact value. An absent field matches only "!" (absent).
 */
export function compileValue(pattern: string): ValueMatcher {
  if (pattern === '*') return (v) => v !== undefined;
  if (pattern === '!') return (v) => v === undefined;
  const re = regexOf(pattern);
  if (re) return (v) => v !== undefined && re.test(v);
  return (v) => v === pattern;
}

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** "10.0.0.0/8", "2001:db8::/32", or a single address (a /32 or /128). */
export function parseCidr(text: string): Cidr {
  const [address = '', bits] = text.trim().split('/');
  const v = isIP(address);
  if (v === 0) throw new PatternError(`${JSON.stringify(text)} is not an address range (expected CIDR such as 10.0.0.0/8 or 2001:db8::/32)`);
  const max = v === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= max)) throw new PatternError(`${JSON.stringify(text)} has a bad prefix length (expected /0 to /${max})`);
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/** Whether an address lies in any of the ranges; IPv4-mapped IPv6 (::ffff:a.b.c.d) counts as IPv4. */
export function compileRanges(ranges: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const r of ranges) {
    const c = parseCidr(r);
    list.addSubnet(c.address, c.prefix, c.family);
  }
  return (address) => {
    const v = isIP(address);
    return v !== 0 && list.check(address, v === 4 ? 'ipv4' : 'ipv6');
  };
}

/** The eight 16-bit groups of an IPv6 address, or undefined. */
function ipv6Groups(address: string): number[] | undefined {
  let a = address;
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  const parts = a.split('::');
  if (parts.length > 2) return undefined;
  const side = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const head = side(parts[0]!);
  const tail = parts.length === 2 ? side(parts[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (parts.length === 1 && fill !== 0)) return undefined;
  return [...head, ...new Array<number>(fill).fill(0), ...tail];
}

/**
 * The client a per-client limit counts: the IPv4 address, or the /64 of an IPv6
 * one (one subscriber usually holds a whole /64, so counting single addresses
 * lets one client have 2^64 budgets).
 */
export function clientOf(address: string): string {
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  if (isIP(address) !== 6) return address;
  const g = ipv6Groups(address);
  return g ? `${g.slice(0, 4).map((n) => n.toString(16)).join(':')}::/64` : address;
}

/**
 * The path of an origin-form target as rules and routes match it: percent-decoded,
 * backslashes read as slashes (some origins do), path parameters (`;…` up to
 * the next slash) dropped, and each run of slashes merged
 * into one (origins commonly treat `//admin/` as `/admin/`; nginx's
 * merge_slashes), without its query. Matching anything less
 * decoded than what the origin resolves lets `/%61dmin/` or `//admin/` past a
 * rule or route about `/admin/`.
 */
export function decodedPath(target: string): string {
  const q = target.indexOf('?');
  let path = q < 0 ? target : target.slice(0, q);
  if (path.includes('%')) path = percentDecoded(path);
  if (path.includes('\\')) path = path.replace(/\\/g, '/');
  // Path parameters (`/account;jsessionid=1/x`: Tomcat and Jetty read /account/x).
  if (path.includes(';')) path = path.replace(/;[^/]*/g, '');
  return path.includes('//') ? path.replace(/\/{2,}/g, '/') : path;
}

/** decodedPath, lower-cased when `foldCase` (a site's caseInsensitivePaths): what routes and filters match. */
export function routedPath(target: string, foldCase: boolean): string {
  const p = decodedPath(target);
  return foldCase ? p.toLowerCase() : p;
}

function percentDecoded(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    // A malformed escape (`%FF`, `%zz`): the bytes as UTF-8, what is not UTF-8 a
    // replacement character, so the rest of the path reads as it would without it.
    return Buffer.from(path.replace(/%([0-9a-f]{2})/gi, (_e, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8');
  }
}
