// The kinds of value a setting can hold. A kind turns what an operator wrote (a
// flag or env string, or a YAML scalar, list or mapping) into the typed value
// Config carries, and back into a form the YAML reader accepts again (docs,
// `check-config` output). Bounds are parameters of the kind, so they live in
// the setting's declaration. A bad value throws Problem, whose message says the
// value and what was expected; load.ts prefixes the key as the operator wrote it.
// Lists of names, codings, media types and statuses are in ./list-kinds.ts.

import {
  DURATION_EXPECTED,
  formatDuration,
  formatHostPort,
  formatSize,
  HOST_PORT_EXPECTED,
  type ListenAddress,
  parseDuration,
  parseHostPort,
  parseSize,
  SIZE_EXPECTED,
  UnitError,
} from './units.js';

export interface Kind<V> {
  /** Placeholder in --help, e.g. SIZE. */
  readonly arg: string;
  /** Flag or env text, or a YAML value → the typed value; throws Problem. */
  parse(raw: unknown): V;
  /** The typed value → a YAML value that parse() maps back to it. */
  format(value: V): unknown;
  /** A bare `--flag` means true. */
  readonly isSwitch?: boolean;
  /** The flag may repeat; each occurrence adds to the list. */
  readonly repeatable?: boolean;
  /** Never echoed: not in errors, not in check-config output. */
  readonly secret?: boolean;
  /** The bounds, for --help and the docs, e.g. "at least 64KiB". */
  readonly range?: string;
}

/** Thrown by kinds; `at` locates the problem inside a list or mapping ("[1].url"). */
export class Problem extends Error {
  constructor(
    message: string,
    readonly at = '',
  ) {
    super(message);
  }
}

/**
 * A URL with its password replaced by `***` (for logs, /stats, configuration dumps
 * and errors); other strings as they are. Textual, not through WHATWG URL, so the
 * rest reads as the operator wrote it and a URL too broken to parse (one an error
 * quotes) or a list of them is covered too. The userinfo ends at the authority's
 * last `@`, as WHATWG reads it; hiding a `//a:b@` seen in a query is harmless.
 */
export function withoutPassword(url: string): string {
  return url.replace(/\/\/([^/?#\\]*)@/g, (whole, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return colon < 0 || colon === userinfo.length - 1 ? whole : `//${userinfo.slice(0, colon + 1)}***@`;
  });
}

/** A URL-valued raw value as errors quote it: without its password. */
export function showUrl(raw: unknown): string {
  return show(typeof raw === 'string' ? withoutPassword(raw) : raw);
}

/**
 * A kind whose values are URLs, which may carry a password in their userinfo. The
 * one place that decides how every URL setting is shown: format (reload answers and
 * their log line, check-config output, docs) and the errors of `parse` (given
 * `shown`, the value as it may be quoted) never show the password. An output with
 * `***` read back sets a different password: check-config says so in its output.
 */
export function urlKind(arg: string, parse: (raw: unknown, shown: string) => string): Kind<string> {
  return {
    arg,
    parse: (raw) => parse(raw, showUrl(raw)),
    format: withoutPassword,
  };
}

export function show(raw: unknown): string {
  if (raw === null || raw === undefined) return 'an empty value';
  if (typeof raw === 'string') return JSON.stringify(raw);
  if (Array.isArray(raw)) return raw.length === 0 ? 'an empty list' : 'a list';
  if (typeof raw === 'object') return 'a mapping';
  return String(raw);
}

export function notA(raw: unknown, what: string, expected: string): Problem {
  return new Problem(`${show(raw)} is not ${what} (expected ${expected})`);
}

/**
 * A YAML value where text is expected: an unquoted 123, 20240101 or true is read by
 * YAML as a number or a boolean, and "123 is not a node id (expected letters,
 * digits...)" would contradict itself. Said as what happened, with the quoting that
 * fixes it; a secret's value is not repeated. Flags and env values are always text.
 */
export function textOf(raw: unknown, { secret = false }: { secret?: boolean } = {}): unknown {
  if (typeof raw !== 'number' && typeof raw !== 'boolean') return raw;
  const what = typeof raw === 'number' ? 'number' : 'boolean';
  if (secret) throw new Problem(`YAML read this value as a ${what} (expected text: quote it)`);
  throw new Problem(`YAML read this as the ${what} ${String(raw)}; quote it: "${String(raw)}"`);
}

export function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function within<T>(at: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof Problem) throw new Problem(err.message, at + err.at);
    throw err;
  }
}

// ---------------------------------------------------------------- numbers

interface Bounds {
  min?: number;
  max?: number;
}

/** `value` within its bounds, else a Problem stating the bound as `shown` writes it ("1ms", "64 bytes"). */
function bounded(raw: unknown, value: number, { min, max }: Bounds, shown: (n: number) => string): number {
  if (min !== undefined && value < min) throw new Problem(`${show(raw)} is too small (expected at least ${shown(min)})`);
  if (max !== undefined && value > max) throw new Problem(`${show(raw)} is too large (expected at most ${shown(max)})`);
  return value;
}

function rangeOf({ min, max }: Bounds, format: (n: number) => string | number): { range?: string } {
  const parts = [...(min !== undefined && min > 0 ? [`at least ${format(min)}`] : []), ...(max !== undefined ? [`at most ${format(max)}`] : [])];
  return parts.length === 0 ? {} : { range: parts.join(', ') };
}

function withUnits(raw: unknown, parser: (v: string | number) => number, what: string, expected: string): number {
  if (typeof raw !== 'string' && typeof raw !== 'number') throw notA(raw, what, expected);
  try {
    return parser(raw);
  } catch (err) {
    if (err instanceof UnitError) throw notA(raw, what, expected);
    throw err;
  }
}

/** Bytes; "64MiB", "512KB" or a bare number of bytes. */
export function size(bounds: Bounds = {}): Kind<number> {
  return {
    arg: 'SIZE',
    parse: (raw) => bounded(raw, withUnits(raw, parseSize, 'a size', SIZE_EXPECTED), bounds, (n) => `${n} bytes`),
    format: formatSize,
    ...rangeOf(bounds, formatSize),
  };
}

/**
 * The longest wait a Node timer (setTimeout, setInterval, AbortSignal.timeout) takes:
 * given more, Node warns (TimeoutOverflowWarning) and fires after 1 ms instead, so a
 * 600h header timeout would answer every connection 408 at once.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The `max` of a duration that is only ever added to or compared with a clock
 * reading, never handed to a timer: it may be as long as parseDuration reads.
 * Declare it with a comment saying where the value is used.
 */
export const CLOCK_ONLY_MS = Number.MAX_SAFE_INTEGER;

/**
 * Milliseconds; "30s", "500ms" or a bare number of milliseconds. At most
 * MAX_TIMER_MS unless the setting declares its own `max` (CLOCK_ONLY_MS for one
 * that never reaches a timer).
 */
export function duration({ min, max = MAX_TIMER_MS }: Bounds = {}): Kind<number> {
  const bounds = { min, max };
  return {
    arg: 'DURATION',
    parse: (raw) => {
      const ms = withUnits(raw, parseDuration, 'a duration', DURATION_EXPECTED);
      if (ms > max && max === MAX_TIMER_MS) {
        throw new Problem(`${show(raw)} (${ms}ms) is too long (expected at most ${MAX_TIMER_MS}ms, about 24.8 days: the longest wait a Node timer takes)`);
      }
      return bounded(raw, ms, bounds, formatDuration);
    },
    format: formatDuration,
    // CLOCK_ONLY_MS is no bound an operator meets (parseDuration refuses larger numbers).
    ...rangeOf(max === CLOCK_ONLY_MS ? { min } : bounds, formatDuration),
  };
}

function wholeNumber(arg: string, { min = 0, max }: Bounds): Kind<number> {
  const bounds = { min, max };
  return {
    arg,
    parse: (raw) => {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n)) throw notA(raw, 'a whole number', `an integer >= ${min}`);
      return bounded(raw, n, bounds, String);
    },
    format: (n) => n,
    ...rangeOf(bounds, (n) => n),
  };
}

/** A count of things (connections, probes, retries). */
export function count(bounds: Bounds = {}): Kind<number> {
  return wholeNumber('N', bounds);
}

/** Whole seconds, the unit of Cache-Control's delta-seconds (RFC 9111 §1.2.2). */
export function seconds(bounds: Bounds = {}): Kind<number> {
  return wholeNumber('SECONDS', bounds);
}

export function fraction(): Kind<number> {
  return {
    arg: 'FRACTION',
    parse: (raw) => {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n) || n < 0 || n > 1) throw notA(raw, 'a fraction', 'a number from 0 to 1, e.g. 0.1');
      return n;
    },
    format: (n) => n,
  };
}

// ---------------------------------------------------------------- words

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

export function onOff(): Kind<boolean> {
  return {
    arg: '',
    isSwitch: true,
    parse: (raw) => {
      if (typeof raw === 'boolean') return raw;
      const word = typeof raw === 'string' || typeof raw === 'number' ? String(raw).trim().toLowerCase() : '';
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      throw notA(raw, 'a boolean', 'true or false');
    },
    format: (b) => b,
  };
}

/** One of a fixed list of names; `what` names the thing in errors ("a balancer"). */
export function oneOf<const T extends string>(names: readonly T[], what: string): Kind<T> {
  return {
    arg: names.join('|'),
    parse: (raw) => {
      if (typeof raw !== 'string' || !(names as readonly string[]).includes(raw)) throw notA(raw, what, `one of ${names.join(', ')}`);
      return raw as T;
    },
    format: (name) => name,
  };
}

// RFC 9110 §5.6.2 tchar: field names and the node id (used in Via / Cache-Status)
// must be tokens or they would corrupt the header they appear in.
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** An HTTP token (RFC 9110 §5.6.2). */
export function httpToken(what: string, example: string): Kind<string> {
  return {
    arg: 'NAME',
    parse: (raw) => {
      textOf(raw);
      if (typeof raw !== 'string' || !TOKEN.test(raw)) throw notA(raw, what, `letters, digits and -._ only, e.g. ${example}`);
      return raw;
    },
    format: (s) => s,
  };
}

/** A directory path; with `allowEmpty`, "" too (the setting's help says what it means). */
export function directory({ allowEmpty = false }: { allowEmpty?: boolean } = {}): Kind<string> {
  return {
    arg: 'DIR',
    parse: (raw) => {
      if (allowEmpty && raw === '') return '';
      textOf(raw);
      if (typeof raw !== 'string' || raw.trim() === '') throw notA(raw, 'a directory path', 'a non-empty path, e.g. storage/cache');
      return raw;
    },
    format: (s) => s,
  };
}

/** An origin-form request path, or "" for none. */
export function requestPath(): Kind<string> {
  return {
    arg: 'PATH',
    parse: (raw) => {
      if (typeof raw !== 'string' || (raw !== '' && !/^\/[\x21-\x7e]*$/.test(raw))) {
        throw notA(raw, 'a request path', 'a path starting with /, e.g. /healthz, or "" for none');
      }
      return raw;
    },
    format: (s) => s,
  };
}

/** A bearer token; the value is never echoed, not even in an error. */
export function secret(): Kind<string> {
  return {
    arg: 'TOKEN',
    secret: true,
    parse: (raw) => {
      textOf(raw, { secret: true });
      if (typeof raw !== 'string' || !/^[\x21-\x7e]*$/.test(raw)) {
        throw new Problem('value is not a valid token (expected visible ASCII characters, no spaces)');
      }
      return raw;
    },
    format: (s) => s,
  };
}

/** A listen address; `defaultHost` is the host a bare PORT or :PORT means. */
export function hostPort({ defaultHost = '0.0.0.0' }: { defaultHost?: string } = {}): Kind<ListenAddress> {
  const expected = 'HOST:PORT, [IPv6]:PORT, :PORT or PORT';
  const parse = (raw: unknown): ListenAddress => {
    // YAML may also spell the address as the { host, port } shape of Config.
    if (isMapping(raw)) {
      const { host, port, ...rest } = raw;
      if (Object.keys(rest).length > 0 || typeof host !== 'string' || (typeof port !== 'number' && typeof port !== 'string')) {
        throw notA(raw, 'a host:port', `${expected}, or a mapping with host and port`);
      }
      return parse(host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
    }
    if (typeof raw !== 'string' && typeof raw !== 'number') throw notA(raw, 'a host:port', expected);
    try {
      return parseHostPort(raw, defaultHost);
    } catch (err) {
      if (err instanceof UnitError) throw notA(raw, 'a host:port', HOST_PORT_EXPECTED);
      throw err;
    }
  };
  return { arg: 'HOST:PORT', parse, format: formatHostPort };
}
