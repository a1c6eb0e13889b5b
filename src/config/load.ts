// Builds the one frozen Config a node runs with, from four layers: command-line
// flags over STRATA_* environment over the YAML file over defaults. Every key is
// described once in KEYS below; the flag name, env name, help text and the YAML
// path all derive from that table, so the layers cannot drift apart. Every
// failure is a StrataError('CONFIG_INVALID') whose message is one line naming
// the key as the operator wrote it, the value, and what was expected.
// Side effects (argv, env, file reads) are injected; this module does no I/O.

import { parse as parseYaml } from 'yaml';
import { StrataError } from '../errors.js';
import { defaultConfig } from './defaults.js';
import type { BalancerName, Config, ListenAddress, LogLevel, UpstreamConfig } from './types.js';
import {
  DURATION_EXPECTED,
  formatHostPort,
  parseDuration,
  parseHostPort,
  parseSize,
  SIZE_EXPECTED,
  UnitError,
} from './units.js';

export interface LoadOptions {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  readFile: (path: string) => string;
  hostname: string;
}

export type LoadResult = { config: Readonly<Config> } | { help: string };

type Kind =
  | 'urls'
  | 'upstreams'
  | 'balancer'
  | 'probePath'
  | 'statuses'
  | 'hostPort'
  | 'size'
  | 'duration'
  | 'count'
  | 'seconds'
  | 'fraction'
  | 'bool'
  | 'logLevel'
  | 'fieldName'
  | 'nodeId'
  | 'path'
  | 'secret'
  | 'hostNames';

type StatusRanges = (readonly [number, number])[];
type Value = string | number | boolean | string[] | ListenAddress | UpstreamConfig[] | StatusRanges;

interface KeySpec {
  /** Dotted path into Config; also the YAML key. */
  path: string;
  /** Where the value lands when not at `path` (origin.url is shorthand for origin.upstreams). */
  writes?: string;
  kind: Kind;
  /** Smallest accepted value for numeric kinds. */
  min?: number;
  /** hostPort: the host a bare PORT or :PORT means. */
  defaultHost?: string;
  /** Flag name without the leading "--"; YAML-only keys have none. */
  flag?: string;
  /** Placeholder shown in help, e.g. SIZE. */
  arg?: string;
  help: string;
}

export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export const BALANCER_NAMES: readonly BalancerName[] = ['round-robin', 'least-connections', 'p2c-ewma', 'consistent-hash'];

const KEYS: readonly KeySpec[] = [
  { path: 'origin.url', writes: 'origin.upstreams', kind: 'urls', flag: 'origin', arg: 'URL', help: 'origin base URL, http: or https:, path prefix allowed (required; repeat for several upstreams, comma-separated in env)' },
  { path: 'origin.upstreams', kind: 'upstreams', help: '' },
  { path: 'listen', kind: 'hostPort', flag: 'listen', arg: 'HOST:PORT', help: 'address for proxied traffic' },
  // A bare port must not expose the admin API on every interface.
  { path: 'admin.listen', kind: 'hostPort', defaultHost: '127.0.0.1', flag: 'admin-listen', arg: 'HOST:PORT', help: 'address of the admin API' },
  { path: 'admin.hosts', kind: 'hostNames', flag: 'admin-hosts', arg: 'NAMES', help: 'host names the admin API answers besides localhost and IP addresses, comma-separated' },
  { path: 'admin.token', kind: 'secret', flag: 'admin-token', arg: 'TOKEN', help: 'bearer token for admin actions; prefer STRATA_ADMIN_TOKEN, argv is visible in ps' },
  { path: 'cache.dir', kind: 'path', flag: 'cache-dir', arg: 'DIR', help: 'directory of the disk tier' },
  { path: 'cache.memoryMaxBytes', kind: 'size', min: 0, flag: 'memory-size', arg: 'SIZE', help: 'memory tier capacity' },
  { path: 'cache.memoryMaxObjectBytes', kind: 'size', min: 0, flag: 'memory-max-object', arg: 'SIZE', help: 'larger bodies skip the memory tier' },
  { path: 'cache.diskMaxBytes', kind: 'size', min: 0, flag: 'disk-size', arg: 'SIZE', help: 'disk tier capacity' },
  { path: 'nodeId', kind: 'nodeId', flag: 'node-id', arg: 'NAME', help: 'name of this node in Via and Cache-Status' },
  { path: 'logLevel', kind: 'logLevel', flag: 'log-level', arg: 'LEVEL', help: LOG_LEVELS.join('|') },
  { path: 'origin.connectTimeoutMs', kind: 'duration', min: 1, flag: 'connect-timeout', arg: 'DURATION', help: 'time to open a connection to the origin' },
  { path: 'origin.headersTimeoutMs', kind: 'duration', min: 1, flag: 'headers-timeout', arg: 'DURATION', help: 'time for the origin to send response headers' },
  { path: 'origin.bodyTimeoutMs', kind: 'duration', min: 1, flag: 'body-timeout', arg: 'DURATION', help: 'longest pause between origin body chunks' },
  { path: 'origin.maxConnections', kind: 'count', min: 1, flag: 'origin-max-connections', arg: 'N', help: 'connection pool size towards each upstream' },
  { path: 'origin.balancer', kind: 'balancer', flag: 'balancer', arg: 'NAME', help: BALANCER_NAMES.join('|') },
  { path: 'origin.healthCheck.path', kind: 'probePath', flag: 'health-check-path', arg: 'PATH', help: 'active health checks GET this path on every upstream' },
  { path: 'origin.healthCheck.intervalMs', kind: 'duration', min: 1, help: '' },
  { path: 'origin.healthCheck.timeoutMs', kind: 'duration', min: 1, help: '' },
  { path: 'origin.healthCheck.healthyThreshold', kind: 'count', min: 1, help: '' },
  { path: 'origin.healthCheck.unhealthyThreshold', kind: 'count', min: 1, help: '' },
  { path: 'origin.healthCheck.expectStatuses', kind: 'statuses', help: '' },
  { path: 'origin.passiveHealth.maxFails', kind: 'count', min: 0, help: '' },
  { path: 'origin.passiveHealth.ejectMs', kind: 'duration', min: 1, help: '' },
  { path: 'origin.passiveHealth.maxEjectMs', kind: 'duration', min: 1, help: '' },
  { path: 'origin.retries.count', kind: 'count', min: 0, help: '' },
  { path: 'origin.retries.budgetMs', kind: 'duration', min: 0, help: '' },
  { path: 'cache.targetedField', kind: 'fieldName', flag: 'targeted-field', arg: 'NAME', help: 'node-specific cache-control field (RFC 9213)' },
  { path: 'cache.storeSetCookie', kind: 'bool', flag: 'store-set-cookie', help: 'store responses carrying Set-Cookie (the field itself is stripped)' },
  { path: 'cache.passTargetedFields', kind: 'bool', help: '' },
  { path: 'cache.heuristicFraction', kind: 'fraction', help: '' },
  { path: 'cache.heuristicMaxS', kind: 'seconds', min: 0, help: '' },
  { path: 'cache.staleWhileRevalidateS', kind: 'seconds', min: 0, flag: 'stale-while-revalidate', arg: 'SECONDS', help: 'default grace: serve stale while revalidating in the background' },
  { path: 'cache.staleIfErrorS', kind: 'seconds', min: 0, flag: 'stale-if-error', arg: 'SECONDS', help: 'default window for serving stale when the origin fails' },
  { path: 'coalesce.windowBytes', kind: 'size', min: 0, help: '' },
  { path: 'coalesce.hitForPassS', kind: 'seconds', min: 0, help: '' },
  { path: 'slices.thresholdBytes', kind: 'size', min: 0, flag: 'slice-threshold', arg: 'SIZE', help: 'objects larger than this are stored in slices (range requests)' },
  { path: 'slices.sliceBytes', kind: 'size', min: 65536, flag: 'slice-size', arg: 'SIZE', help: 'size of one slice' },
  { path: 'purge.passTagHeaders', kind: 'bool', help: '' },
  { path: 'limits.maxUrlBytes', kind: 'size', min: 1, help: '' },
  { path: 'limits.maxHeaderBytes', kind: 'size', min: 1, help: '' },
  { path: 'limits.requestHeadersTimeoutMs', kind: 'duration', min: 1, help: '' },
  { path: 'limits.maxConnectionsPerClient', kind: 'count', min: 0, help: '' },
  { path: 'limits.shutdownGraceMs', kind: 'duration', min: 0, help: '' },
];

const KEYS_BY_PATH = new Map(KEYS.map((k) => [k.path, k]));
const KEYS_BY_FLAG = new Map(KEYS.filter((k) => k.flag !== undefined).map((k) => [k.flag!, k]));
const CONFIG_FLAG = 'config';
const CONFIG_ENV = 'STRATA_CONFIG';

function envName(flag: string): string {
  return `STRATA_${flag.toUpperCase().replace(/-/g, '_')}`;
}

function invalid(message: string): StrataError {
  return new StrataError('CONFIG_INVALID', message);
}

/** Thrown by coercers; the caller prefixes the key as the operator wrote it (and `at`, inside a list). */
class Problem extends Error {
  constructor(
    message: string,
    readonly at = '',
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------- coercion

function show(raw: unknown): string {
  if (raw === null || raw === undefined) return 'an empty value';
  if (typeof raw === 'string') return JSON.stringify(raw);
  if (Array.isArray(raw)) return 'a list';
  if (typeof raw === 'object') return 'a mapping';
  return String(raw);
}

function notA(raw: unknown, what: string, expected: string): Problem {
  return new Problem(`${show(raw)} is not ${what} (expected ${expected})`);
}

function atLeast(raw: unknown, value: number, min: number | undefined, unit: string): number {
  if (min !== undefined && value < min) throw new Problem(`${show(raw)} is too small (expected at least ${min}${unit})`);
  return value;
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

function wholeNumber(raw: unknown, min: number | undefined): number {
  const expected = `an integer >= ${min ?? 0}`;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n)) throw notA(raw, 'a whole number', expected);
  return atLeast(raw, n, min, '');
}

function originUrl(raw: unknown): string {
  const expected = 'an http:// or https:// URL with a host, e.g. http://127.0.0.1:9000';
  if (typeof raw !== 'string') throw notA(raw, 'a URL', expected);
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw notA(raw, 'a URL', expected);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') throw notA(raw, 'an origin URL', expected);
  // Userinfo would not be sent as credentials and would leak into logs; a query
  // or fragment on a base URL has no sensible way to combine with request targets.
  if (u.username !== '' || u.password !== '') throw new Problem(`${show(raw)} contains credentials (expected ${expected})`);
  if (u.search !== '' || u.hash !== '') throw new Problem(`${show(raw)} has a query or fragment (expected ${expected})`);
  // Canonical form never ends in "/", so base + request path joins without "//".
  return u.origin + u.pathname.replace(/\/+$/, '');
}

/** 0 until load() knows origin.maxConnections, which an upstream without its own inherits. */
const INHERIT = 0;

/** One URL, a comma-separated list (env, flags) or a YAML list of URLs. */
function originUrls(raw: unknown): UpstreamConfig[] {
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' && raw.includes(',') ? raw.split(',') : [raw];
  return items.map((item, i) => ({ url: within(items.length > 1 ? `[${i}]` : '', () => originUrl(item)), weight: 1, maxConnections: INHERIT }));
}

function within<T>(at: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof Problem) throw new Problem(err.message, at + err.at);
    throw err;
  }
}

const UPSTREAM_EXPECTED = 'a list of URLs or of mappings with url, weight and maxConnections';

function upstreamList(raw: unknown): UpstreamConfig[] {
  if (!Array.isArray(raw) || raw.length === 0) throw notA(raw, 'a list of upstreams', UPSTREAM_EXPECTED);
  return raw.map((item, i) =>
    within(`[${i}]`, () => {
      if (!isMapping(item)) return { url: originUrl(item), weight: 1, maxConnections: INHERIT };
      const { url, weight, maxConnections, ...rest } = item;
      const unknown = Object.keys(rest)[0];
      if (unknown !== undefined) throw new Problem(`unknown key ${JSON.stringify(unknown)} (expected url, weight, maxConnections)`);
      if (url === undefined) throw new Problem('missing url (expected url: http://HOST:PORT)');
      return {
        url: within('.url', () => originUrl(url)),
        weight: weight === undefined ? 1 : within('.weight', () => wholeNumber(weight, 1)),
        maxConnections: maxConnections === undefined ? INHERIT : within('.maxConnections', () => wholeNumber(maxConnections, 1)),
      };
    }),
  );
}

/** "200-399, 418" or a YAML list of codes and ranges → inclusive ranges. */
function statusRanges(raw: unknown): StatusRanges {
  const expected = 'status codes or ranges, e.g. 200-399, 418';
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' || typeof raw === 'number' ? String(raw).split(',') : undefined;
  if (items === undefined || items.length === 0) throw notA(raw, 'a list of statuses', expected);
  return items.map((item) => {
    const m = /^\s*([1-5]\d\d)\s*(?:-\s*([1-5]\d\d)\s*)?$/.exec(String(item));
    const lo = Number(m?.[1]);
    const hi = m?.[2] === undefined ? lo : Number(m[2]);
    if (!m || hi < lo) throw notA(raw, 'a list of statuses', expected);
    return [lo, hi] as const;
  });
}

function hostPort(raw: unknown, defaultHost: string): ListenAddress {
  const expected = 'HOST:PORT, [IPv6]:PORT, :PORT or PORT';
  // The YAML may also spell the address as the { host, port } shape of types.ts.
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const { host, port, ...rest } = raw as Record<string, unknown>;
    if (Object.keys(rest).length > 0 || typeof host !== 'string' || (typeof port !== 'number' && typeof port !== 'string')) {
      throw notA(raw, 'a host:port', `${expected}, or a mapping with host and port`);
    }
    return hostPort(host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`, defaultHost);
  }
  if (typeof raw !== 'string' && typeof raw !== 'number') throw notA(raw, 'a host:port', expected);
  try {
    return parseHostPort(raw, defaultHost);
  } catch (err) {
    if (err instanceof UnitError) throw notA(raw, 'a host:port', `${expected}, port 0..65535`);
    throw err;
  }
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** "a.example, b.example" or a YAML list → lower-case DNS names ([] for none). */
function hostNames(raw: unknown): string[] {
  const expected = 'DNS names, comma-separated or a YAML list, e.g. admin.internal';
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',').filter((s) => s.trim() !== '') : undefined;
  if (items === undefined) throw notA(raw, 'a list of host names', expected);
  return items.map((item) => {
    const name = typeof item === 'string' ? item.trim().toLowerCase().replace(/\.$/, '') : '';
    if (!HOST_NAME.test(name)) throw notA(item, 'a host name', expected);
    return name;
  });
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

function bool(raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw;
  const word = typeof raw === 'string' || typeof raw === 'number' ? String(raw).trim().toLowerCase() : '';
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw notA(raw, 'a boolean', 'true or false');
}

// RFC 9110 §5.6.2 tchar: field names and the node id (used in Via / Cache-Status)
// must be tokens or they would corrupt the header they appear in.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function token(raw: unknown, what: string, example: string): string {
  if (typeof raw !== 'string' || !TOKEN.test(raw)) throw notA(raw, what, `letters, digits and -._ only, e.g. ${example}`);
  return raw;
}

function coerce(spec: KeySpec, raw: unknown): Value {
  switch (spec.kind) {
    case 'urls':
      return originUrls(raw);
    case 'upstreams':
      return upstreamList(raw);
    case 'balancer':
      if (typeof raw !== 'string' || !(BALANCER_NAMES as readonly string[]).includes(raw)) {
        throw notA(raw, 'a balancer', `one of ${BALANCER_NAMES.join(', ')}`);
      }
      return raw;
    case 'probePath':
      // Empty turns active checks off; otherwise an origin-form path the upstream prefix is put before.
      if (typeof raw !== 'string' || (raw !== '' && !/^\/[\x21-\x7e]*$/.test(raw))) {
        throw notA(raw, 'a request path', 'a path starting with /, e.g. /healthz, or "" for no active checks');
      }
      return raw;
    case 'statuses':
      return statusRanges(raw);
    case 'hostPort':
      return hostPort(raw, spec.defaultHost ?? '0.0.0.0');
    case 'size':
      return atLeast(raw, withUnits(raw, parseSize, 'a size', SIZE_EXPECTED), spec.min, ' bytes');
    case 'duration':
      return atLeast(raw, withUnits(raw, parseDuration, 'a duration', DURATION_EXPECTED), spec.min, 'ms');
    case 'count':
    case 'seconds':
      return wholeNumber(raw, spec.min);
    case 'fraction': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n) || n < 0 || n > 1) throw notA(raw, 'a fraction', 'a number from 0 to 1, e.g. 0.1');
      return n;
    }
    case 'bool':
      return bool(raw);
    case 'logLevel':
      if (typeof raw !== 'string' || !(LOG_LEVELS as readonly string[]).includes(raw)) {
        throw notA(raw, 'a log level', `one of ${LOG_LEVELS.join(', ')}`);
      }
      return raw;
    case 'fieldName':
      return token(raw, 'an HTTP field name', 'Strata-Cache-Control');
    case 'nodeId':
      return token(raw, 'a node id', 'edge-fra-1');
    case 'path':
      if (typeof raw !== 'string' || raw.trim() === '') throw notA(raw, 'a directory path', 'a non-empty path, e.g. storage/cache');
      return raw;
    case 'hostNames':
      return hostNames(raw);
    case 'secret':
      // The value is a secret: never echo it back, not even in an error.
      if (typeof raw !== 'string' || !/^[\x21-\x7e]*$/.test(raw)) {
        throw new Problem('value is not a valid token (expected visible ASCII characters, no spaces)');
      }
      return raw;
  }
}

/** Coerce, turning a Problem into the one-line CONFIG_INVALID the operator sees. */
function coerceAt(label: string, spec: KeySpec, raw: unknown): Value {
  try {
    return coerce(spec, raw);
  } catch (err) {
    if (err instanceof Problem) throw invalid(`${label}${err.at}: ${err.message}`);
    throw err;
  }
}

// ---------------------------------------------------------------- layers

type Layer = Map<string, Value>;

interface ParsedArgs {
  values: Layer;
  configFile?: string;
}

function isHelp(argv: readonly string[]): boolean {
  return argv.some((a) => a === '--help' || a === '-h');
}

function parseArgs(argv: readonly string[]): ParsedArgs {
  const values: Layer = new Map();
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--') || arg === '--') {
      throw invalid(`unexpected argument ${JSON.stringify(arg)} (expected --flag or --flag=value; see --help)`);
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const label = `--${name}`;
    const spec = KEYS_BY_FLAG.get(name);
    if (spec === undefined && name !== CONFIG_FLAG) throw invalid(`${label}: unknown flag (see --help)`);

    let raw: string;
    if (eq >= 0) {
      raw = arg.slice(eq + 1);
    } else if (spec?.kind === 'bool') {
      raw = 'true';
    } else {
      const next = argv[i + 1];
      // "--origin --listen x" is a forgotten value, not an origin named "--listen".
      if (next === undefined || next.startsWith('--')) {
        throw invalid(`${label}: missing value (expected ${spec?.arg ?? 'FILE'})`);
      }
      raw = next;
      i++;
    }

    if (spec === undefined) {
      if (raw.trim() === '') throw invalid(`${label}: missing value (expected FILE)`);
      configFile = raw;
    } else {
      const value = coerceAt(label, spec, raw);
      const target = spec.writes ?? spec.path;
      const earlier = values.get(target);
      // --origin may repeat: each one adds an upstream.
      if (spec.kind === 'urls' && Array.isArray(earlier)) values.set(target, [...(earlier as UpstreamConfig[]), ...(value as UpstreamConfig[])]);
      else values.set(target, value);
    }
  }
  return configFile === undefined ? { values } : { values, configFile };
}

function envLayer(env: LoadOptions['env']): Layer {
  const values: Layer = new Map();
  for (const spec of KEYS) {
    if (spec.flag === undefined) continue;
    const name = envName(spec.flag);
    const raw = env[name];
    // Empty counts as unset: `FOO=` lines in env files and compose files are common.
    if (raw === undefined || raw === '') continue;
    values.set(spec.writes ?? spec.path, coerceAt(name, spec, raw));
  }
  return values;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function readYaml(file: string, readFile: LoadOptions['readFile']): unknown {
  let text: string;
  try {
    text = readFile(file);
  } catch (err) {
    const reason = err instanceof Error ? firstLine(err.message) : String(err);
    throw invalid(`config file ${file}: cannot read (${reason})`);
  }
  try {
    // logLevel 'error': throw on errors, but keep yaml's warnings off the console.
    return parseYaml(text, { logLevel: 'error' }) as unknown;
  } catch (err) {
    const reason = err instanceof Error ? firstLine(err.message) : String(err);
    throw invalid(`config file ${file}: invalid YAML (${reason})`);
  }
}

function firstLine(s: string): string {
  return (s.split('\n')[0] ?? '').trim();
}

function yamlLayer(file: string, doc: unknown): Layer {
  const values: Layer = new Map();
  const where = `config file ${file}`;
  if (doc === null || doc === undefined) return values; // empty file: all defaults
  if (!isMapping(doc)) throw invalid(`${where}: top level is not a mapping (expected keys such as origin.url)`);

  const walk = (node: Record<string, unknown>, prefix: string): void => {
    for (const [key, raw] of Object.entries(node)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      const spec = KEYS_BY_PATH.get(path);
      if (spec !== undefined) {
        const target = spec.writes ?? spec.path;
        if (values.has(target)) {
          throw invalid(`${where}: origin.url and origin.upstreams are both set (expected one of them)`);
        }
        values.set(target, coerceAt(`${where}: ${path}`, spec, raw));
      } else if (isMapping(raw) && KEYS.some((k) => k.path.startsWith(`${path}.`))) {
        walk(raw, path);
      } else {
        // Operators often paste a flag name into the file; point at the real key.
        const flagSpec = KEYS_BY_FLAG.get(key);
        const hint = prefix === '' && flagSpec ? ` (the YAML key for --${key} is ${flagSpec.path})` : '';
        throw invalid(`${where}: unknown key ${JSON.stringify(path)}${hint}`);
      }
    }
  };
  walk(doc, '');
  return values;
}

// ---------------------------------------------------------------- assembly

// Config is a fixed tree; writing by dotted path keeps KEYS the single source
// of truth at the cost of this one untyped step.
function setPath(target: Config, path: string, value: Value): void {
  const parts = path.split('.');
  let node = target as unknown as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>;
  node[parts[parts.length - 1]!] = value;
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::']);

// Deliberately conservative: a wildcard is treated as overlapping every host on
// the same port, which is what Linux does for '::' (dual-stack) anyway.
function overlaps(a: ListenAddress, b: ListenAddress): boolean {
  if (a.port === 0 || a.port !== b.port) return false; // port 0: the OS picks two distinct ports
  return a.host === b.host || WILDCARD_HOSTS.has(a.host) || WILDCARD_HOSTS.has(b.host);
}

function checkWhole(config: Config): void {
  const origin = config.origin;
  if (origin.upstreams.length === 0) throw invalid('origin.url: missing (expected --origin URL, or origin.upstreams in the config file)');
  const seen = new Set<string>();
  for (const u of origin.upstreams) {
    if (seen.has(u.url)) throw invalid(`origin.upstreams: "${u.url}" is listed twice (expected each upstream once; use weight for a larger share)`);
    seen.add(u.url);
  }
  if (origin.passiveHealth.maxEjectMs < origin.passiveHealth.ejectMs) {
    throw invalid(
      `origin.passiveHealth.maxEjectMs: ${origin.passiveHealth.maxEjectMs}ms is below ejectMs ${origin.passiveHealth.ejectMs}ms (expected at least ejectMs)`,
    );
  }
  if (overlaps(config.listen, config.admin.listen)) {
    throw invalid(
      `admin.listen: "${formatHostPort(config.admin.listen)}" overlaps listen "${formatHostPort(config.listen)}" (expected a different port)`,
    );
  }
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

export function loadConfig(opts: LoadOptions): LoadResult {
  if (isHelp(opts.argv)) return { help: helpText(opts.hostname) };

  const args = parseArgs(opts.argv);
  const env = envLayer(opts.env);
  const envFile = opts.env[CONFIG_ENV];
  const file = args.configFile ?? (envFile === undefined || envFile === '' ? undefined : envFile);
  const yaml = file === undefined ? new Map<string, Value>() : yamlLayer(file, readYaml(file, opts.readFile));

  const config = defaultConfig(opts.hostname);
  for (const layer of [yaml, env, args.values]) {
    for (const [path, value] of layer) setPath(config, path, value);
  }
  const poolSize = config.origin.maxConnections;
  config.origin.upstreams = config.origin.upstreams.map((u) => ({ ...u, maxConnections: u.maxConnections === INHERIT ? poolSize : u.maxConnections }));
  checkWhole(config);
  return { config: deepFreeze(config) };
}

// ---------------------------------------------------------------- help

function defaultText(spec: KeySpec, defaults: Config): string {
  if (spec.path === 'nodeId') return 'the host name';
  if (spec.path === 'origin.url') return '';
  if (spec.path === 'origin.healthCheck.path') return 'off';
  if (spec.path === 'admin.token') return 'none';
  let node: unknown = defaults;
  for (const part of spec.path.split('.')) node = (node as Record<string, unknown>)[part];
  if (spec.kind === 'hostPort') return formatHostPort(node as ListenAddress);
  if (spec.kind === 'hostNames') return (node as string[]).join(',') || 'none';
  if (spec.kind === 'size') return humanSize(node as number);
  if (spec.kind === 'duration') return humanDuration(node as number);
  return String(node);
}

function humanSize(bytes: number): string {
  for (const [unit, factor] of [['TiB', 2 ** 40], ['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return String(bytes);
}

function humanDuration(ms: number): string {
  for (const [unit, factor] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= factor && ms % factor === 0) return `${ms / factor}${unit}`;
  }
  return `${ms}ms`;
}

/** The --help text; lists every flag with its env name and default. */
export function helpText(hostname: string): string {
  const defaults = defaultConfig(hostname);
  const rows: [string, string][] = [];
  for (const spec of KEYS) {
    if (spec.flag === undefined) continue;
    const usage = spec.arg === undefined ? `--${spec.flag}` : `--${spec.flag} ${spec.arg}`;
    const dflt = defaultText(spec, defaults);
    rows.push([usage, `${spec.help}${dflt === '' ? '' : ` [default: ${dflt}]`} (env ${envName(spec.flag)})`]);
  }
  rows.push([`--${CONFIG_FLAG} FILE`, `YAML config file, keys as in config/default.yaml (env ${CONFIG_ENV})`]);
  rows.push(['--help', 'print this help and exit']);
  const width = Math.max(...rows.map(([u]) => u.length));
  return [
    'Usage: strata --origin URL [options]',
    '',
    'Strata: a caching HTTP reverse proxy; one process is one CDN node.',
    'Precedence: flags > STRATA_* environment > config file > defaults.',
    'Both --flag value and --flag=value work. SIZE: 512KB, 256MiB, 10GiB.',
    'DURATION: 500ms, 30s, 2m, 1h (a bare number is ms).',
    '',
    'Options:',
    ...rows.map(([u, d]) => `  ${u.padEnd(width)}  ${d}`),
    '',
  ].join('\n');
}

/** Flag names, for tests and docs that must list every one. */
export function flagNames(): string[] {
  return [...KEYS.filter((k) => k.flag !== undefined).map((k) => `--${k.flag}`), `--${CONFIG_FLAG}`, '--help'];
}
