// Cache-Control (RFC 9111 §5.2) and the targeted fields of RFC 9213 parsed into a
// directive map. Names are case-insensitive; quoted-string values may contain
// commas (no-cache="a, b"); a directive repeated with conflicting values is
// treated as invalid freshness information (RFC 9111 §4.2.1): its value is
// dropped so the response is not given a lifetime it might not have. The grammar
// (RFC 9111 §5.2: token [ "=" ( token / quoted-string ) ]) has no white space
// around "=": "max-age =100" or "max-age= 100" is not a max-age of 100. Such an
// argument, an unterminated quoted-string (private="x) or an unquoted one that is
// not a token (private=a b) is treated as invalid (private / no-cache: as unqualified).

export type Directives = Map<string, string | true>;

/** An unquoted argument (RFC 9110 §5.6.2 token); empty is let through, as an invalid value of its own. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]*$/;

export function parseCacheControl(value: string | undefined): Directives {
  const out: Directives = new Map();
  if (!value) return out;
  const len = value.length;
  let i = 0;
  while (i < len) {
    // skip separators and white space
    while (i < len && (value[i] === ',' || value[i] === ' ' || value[i] === '\t')) i++;
    if (i >= len) break;
    let j = i;
    while (j < len && value[j] !== '=' && value[j] !== ',') j++;
    const rawName = value.slice(i, j);
    const name = rawName.trim().toLowerCase();
    let arg: string | true = true;
    let malformed = false;
    if (j < len && value[j] === '=') {
      malformed = rawName.endsWith(' ') || rawName.endsWith('\t');
      j++;
      if (value[j] === ' ' || value[j] === '\t') malformed = true;
      while (j < len && (value[j] === ' ' || value[j] === '\t')) j++;
      if (value[j] === '"') {
        let k = j + 1;
        let s = '';
        while (k < len && value[k] !== '"') {
          if (value[k] === '\\' && k + 1 < len) k++;
          s += value[k];
          k++;
        }
        // An unterminated quoted-string, or anything but white space after it, is not the argument it seems.
        if (k >= len) malformed = true;
        arg = s;
        j = k + 1;
        while (j < len && value[j] !== ',') {
          if (value[j] !== ' ' && value[j] !== '\t') malformed = true;
          j++;
        }
      } else {
        let k = j;
        while (k < len && value[k] !== ',') k++;
        arg = value.slice(j, k).trim();
        if (!TOKEN.test(arg)) malformed = true;
        j = k;
      }
    }
    // An argument the grammar does not allow: no value to trust (the stricter, unqualified form for the field lists).
    if (malformed) arg = name === 'private' || name === 'no-cache' ? true : '';
    if (name) {
      const prev = out.get(name);
      // The unqualified form of private / no-cache is the stricter one and wins; their
      // field lists add up (private="a", private="b" names both: none of them may be
      // shared); other repeated directives with different values are invalid ('').
      if (prev === undefined || prev === arg) out.set(name, arg);
      else if (prev === true || arg === true) out.set(name, true);
      else if (name === 'private' || name === 'no-cache') out.set(name, `${prev}, ${arg}`);
      else out.set(name, '');
    }
    i = j + 1;
  }
  return out;
}

/** Does a Cache-Control value carry no-transform (RFC 9110 §7.7)? A look for the one directive, no parse. */
export function hasNoTransform(cc: string | undefined): boolean {
  return cc !== undefined && /(?:^|,)\s*no-transform\s*(?:,|$)/i.test(cc);
}

/** RFC 9111 §1.2.2: the value a delta-seconds too large to represent counts as (2^31). */
export const MAX_DELTA_SECONDS = 2147483648;

/** A delta-seconds argument (RFC 9111 §1.2.2), or undefined when absent or invalid. */
export function deltaSeconds(d: Directives, name: string): number | undefined {
  const v = d.get(name);
  if (v === undefined || v === true) return undefined;
  if (!/^\d+$/.test(v)) return undefined;
  // RFC 9111 §1.2.2: values too large are treated as 2^31.
  const n = Number(v);
  return n > MAX_DELTA_SECONDS ? MAX_DELTA_SECONDS : n;
}

/** Serialise directives back to a Cache-Control field value. */
export function formatCacheControl(d: Directives): string {
  const parts: string[] = [];
  for (const [k, v] of d) {
    if (v === true) parts.push(k);
    else parts.push(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(v) ? `${k}=${v}` : `${k}="${v.replace(/["\\]/g, '\\$&')}"`);
  }
  return parts.join(', ');
}
