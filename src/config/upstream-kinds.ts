// The upstream pool's kind: origin URLs (one, a list, or mappings with a weight
// and an own pool size), checked and put in canonical form. See ./kinds.ts for
// what a kind is.

import { count, isMapping, type Kind, notA, Problem, showUrl, within } from './kinds.js';

export interface UpstreamConfig {
  /** Base URL, e.g. http://10.0.0.1:9000 (path prefix allowed), canonical: no trailing "/". */
  url: string;
  /** Share of the traffic relative to the other upstreams (1 = one share). */
  weight: number;
  /** Connection pool size towards this upstream. */
  maxConnections: number;
}

/** An upstream's maxConnections until load.ts gives it origin.maxConnections. */
export const INHERIT_POOL_SIZE = 0;

const URL_EXPECTED = 'an http:// or https:// URL with a host, e.g. http://127.0.0.1:9000';
const UPSTREAMS_EXPECTED = 'a URL, or a list of URLs or of mappings with url, weight and maxConnections';

// Errors quote the value through showUrl: a URL with credentials is refused without echoing its password.
function originUrl(raw: unknown): string {
  if (typeof raw !== 'string') throw new Problem(`${showUrl(raw)} is not a URL (expected ${URL_EXPECTED})`);
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new Problem(`${showUrl(raw)} is not a URL (expected ${URL_EXPECTED})`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') throw new Problem(`${showUrl(raw)} is not an origin URL (expected ${URL_EXPECTED})`);
  // Userinfo would not be sent as credentials and would leak into logs; a query
  // or fragment on a base URL has no sensible way to combine with request targets.
  if (u.username !== '' || u.password !== '') throw new Problem(`${showUrl(raw)} contains credentials (expected ${URL_EXPECTED})`);
  if (u.search !== '' || u.hash !== '') throw new Problem(`${showUrl(raw)} has a query or fragment (expected ${URL_EXPECTED})`);
  // Canonical form never ends in "/", so base + request path joins without "//".
  return u.origin + u.pathname.replace(/\/+$/, '');
}

function upstream(item: unknown): UpstreamConfig {
  if (!isMapping(item)) return { url: originUrl(item), weight: 1, maxConnections: INHERIT_POOL_SIZE };
  const { url, weight, maxConnections, ...rest } = item;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new Problem(`unknown key ${JSON.stringify(unknown)} (expected url, weight, maxConnections)`);
  if (url === undefined) throw new Problem('missing url (expected url: http://HOST:PORT)');
  return {
    url: within('.url', () => originUrl(url)),
    weight: weight === undefined ? 1 : within('.weight', () => count({ min: 1 }).parse(weight)),
    maxConnections: maxConnections === undefined ? INHERIT_POOL_SIZE : within('.maxConnections', () => count({ min: 1 }).parse(maxConnections)),
  };
}

/**
 * The origin pool: one URL, a comma-separated list (flags, env), or a YAML list
 * of URLs and of mappings with a weight and an own pool size.
 */
export function upstreams(): Kind<UpstreamConfig[]> {
  return {
    arg: 'URL',
    repeatable: true,
    parse: (raw) => {
      const items = Array.isArray(raw) ? raw : typeof raw === 'string' && raw.includes(',') ? raw.split(',') : [raw];
      if (items.length === 0 || isMapping(raw)) throw notA(raw, 'a list of upstreams', UPSTREAMS_EXPECTED);
      return items.map((item, i) => within(items.length > 1 || Array.isArray(raw) ? `[${i}]` : '', () => upstream(item)));
    },
    // INHERIT_POOL_SIZE is no pool size (at least 1 is): left out, as the operator did.
    format: (list) =>
      list.map((u) => {
        if (u.weight === 1 && u.maxConnections === INHERIT_POOL_SIZE) return u.url;
        return u.maxConnections === INHERIT_POOL_SIZE ? { url: u.url, weight: u.weight } : { ...u };
      }),
  };
}
