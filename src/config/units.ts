// Parsers for the unit-bearing strings operators write in flags, env and YAML:
// sizes ("256MiB"), durations ("30s") and listen addresses ("0.0.0.0:8080").
// They are pure and know nothing of where a value came from: on bad input they
// throw UnitError carrying what was expected; kinds.ts words the error and
// load.ts adds the key name.

import { isIPv4, isIPv6 } from 'node:net';

export interface ListenAddress {
  host: string;
  port: number;
}

export const KiB = 2 ** 10;
export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

export type UnitKind = 'size' | 'duration' | 'host:port';

export class UnitError extends Error {
  readonly kind: UnitKind;
  /** Human hint, e.g. "e.g. 256MiB, 10GiB". */
  readonly expected: string;

  constructor(kind: UnitKind, expected: string) {
    super(`not a ${kind} (expected ${expected})`);
    this.name = 'UnitError';
    this.kind = kind;
    this.expected = expected;
  }
}

export const SIZE_EXPECTED = 'e.g. 256MiB, 10GiB';
export const DURATION_EXPECTED = 'e.g. 500ms, 30s, 2m, 1h; a bare number is ms';
export const HOST_PORT_EXPECTED = 'HOST:PORT, [IPv6]:PORT, :PORT or PORT, port 0..65535';

// Both decimal and binary prefixes are accepted because operators copy values
// from docs of either convention; they are not interchangeable (1KB = 1000 B).
const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1e3,
  kib: 2 ** 10,
  mb: 1e6,
  mib: 2 ** 20,
  gb: 1e9,
  gib: 2 ** 30,
  tb: 1e12,
  tib: 2 ** 40,
};

const DURATION_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

// No sign, no exponent, no leading dot: "-1", "1e3" and ".5" are typos more
// often than intent, and rejecting them keeps the accepted language small.
const NUMBER_WITH_UNIT = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

function scaled(input: string | number, units: Readonly<Record<string, number>>, kind: UnitKind, expected: string): number {
  if (typeof input === 'number') {
    // YAML hands over bare numbers; they carry the base unit.
    if (!Number.isSafeInteger(input) || input < 0) throw new UnitError(kind, expected);
    return input;
  }
  const m = NUMBER_WITH_UNIT.exec(input.trim());
  if (!m) throw new UnitError(kind, expected);
  const factor = units[(m[2] ?? '').toLowerCase()];
  if (factor === undefined) throw new UnitError(kind, expected);
  // Round, not truncate: 0.3KB must be 300 even though 0.3 * 1000 is 299.99…
  const value = Math.round(Number(m[1]) * factor);
  if (!Number.isSafeInteger(value)) throw new UnitError(kind, expected);
  return value;
}

/** "256MiB" → 268435456. Bare numbers are bytes. Result is a non-negative integer. */
export function parseSize(input: string | number): number {
  return scaled(input, SIZE_UNITS, 'size', SIZE_EXPECTED);
}

/** "30s" → 30000. Bare numbers are milliseconds. Result is a non-negative integer. */
export function parseDuration(input: string | number): number {
  return scaled(input, DURATION_UNITS, 'duration', DURATION_EXPECTED);
}

// RFC 1123 host names; anything else (spaces, underscores, URLs) is a typo.
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

function isHostName(host: string): boolean {
  // "300.1.1.1" matches the name grammar but is a mistyped address.
  return HOSTNAME.test(host) && !/^[\d.]+$/.test(host);
}

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/**
 * "0.0.0.0:8080" → { host: '0.0.0.0', port: 8080 }. IPv6 hosts must be
 * bracketed ("[::1]:8080") and come back without brackets, as net.listen wants
 * them. A missing host (":8080", "8080") means every IPv4 interface, the same
 * as the --listen default, rather than Node's OS-dependent choice.
 */
export function parseHostPort(input: string | number, defaultHost = '0.0.0.0'): ListenAddress {
  const fail = (): never => {
    throw new UnitError('host:port', HOST_PORT_EXPECTED);
  };
  const text = typeof input === 'number' ? String(input) : input.trim();

  const bare = parsePort(text);
  if (bare !== undefined) return { host: defaultHost, port: bare };

  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return fail();
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!isIPv6(host)) return fail();
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return fail();
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host === '') host = defaultHost;
    // An unbracketed IPv6 literal would make the port ambiguous ("::1:8080").
    else if (host.includes(':') || !(isIPv4(host) || isHostName(host))) return fail();
  }
  const port = parsePort(portText);
  if (port === undefined) return fail();
  return { host, port };
}

/** Inverse of parseHostPort, for messages and help text. */
export function formatHostPort(addr: ListenAddress): string {
  return addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}

/** Inverse of parseSize: the largest binary unit that divides evenly, e.g. 268435456 → "256MiB". */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of [['TiB', 2 ** 40], ['GiB', GiB], ['MiB', MiB], ['KiB', KiB]] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return String(bytes);
}

/** Inverse of parseDuration: the largest unit that divides evenly, e.g. 30000 → "30s". */
export function formatDuration(ms: number): string {
  for (const [unit, factor] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= factor && ms % factor === 0) return `${ms / factor}${unit}`;
  }
  return `${ms}ms`;
}
