// Builds the one frozen Config a node runs with, from four layers: command-line
// flags over STRATA_* environment over the YAML file over defaults. Every layer
// reads the schema (./schema/), so a declared setting is reachable from all
// three sources. Every failure is a StrataError('CONFIG_INVALID') whose message
// is one line naming the key as the operator wrote it (flag, env name or YAML
// path), the value, and what was expected. Side effects (argv, env, file reads)
// are injected; this module does no I/O.

import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { StrataError } from '../errors.js';
import { defaultConfig } from './defaults.js';
import { isMapping, Problem, show } from './kinds.js';
import { INHERIT_POOL_SIZE } from './upstream-kinds.js';
import { ENTRIES, SCHEMA } from './schema/index.js';
import { type AnySetting, type Entry, isSetting, type Schema } from './setting.js';
import type { Config, ListenAddress } from './types.js';
import { formatHostPort } from './units.js';

export interface LoadOptions {
  /** Flags only: the subcommand and its operands are already taken off. */
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  readFile: (path: string) => string;
  hostname: string;
  /** A config file that replaces --config and STRATA_CONFIG (`check-config FILE`). */
  file?: string;
}

export const CONFIG_FLAG = 'config';
export const CONFIG_ENV = 'STRATA_CONFIG';

const BY_FLAG = new Map(ENTRIES.filter((e) => !e.fields).map((e) => [e.flag, e]));
const BY_ENV = new Map(ENTRIES.filter((e) => !e.fields).map((e) => [e.env, e]));
/** Flags and env names that fill one field of a record setting (setting.ts, fieldFlags). */
const FIELD_FLAGS = new Map(ENTRIES.flatMap((e) => (e.fields ?? []).map((f) => [f.flag, { entry: e, field: f.field }] as const)));
const FIELD_ENVS = new Map(ENTRIES.flatMap((e) => (e.fields ?? []).map((f) => [f.env, { entry: e, field: f.field }] as const)));

export function configError(message: string): StrataError {
  return new StrataError('CONFIG_INVALID', message);
}

/** Parse, turning a Problem into the one-line CONFIG_INVALID the operator sees. */
function parseAt(label: string, setting: AnySetting, raw: unknown): unknown {
  try {
    return setting.kind.parse(raw);
  } catch (err) {
    if (err instanceof Problem) throw configError(`${label}${err.at}: ${err.message}`);
    throw err;
  }
}

/** Values by dotted Config path. */
type Layer = Map<string, unknown>;

// ---------------------------------------------------------------- flags

const FLAG_OPTIONS = Object.fromEntries([
  ...ENTRIES.map((e) => [e.flag, { type: e.setting.kind.isSwitch ? ('boolean' as const) : ('string' as const) }]),
  ...[...FIELD_FLAGS.keys()].map((flag) => [flag, { type: 'string' as const }]),
  [CONFIG_FLAG, { type: 'string' as const }],
]);

function flagLayer(argv: readonly string[]): { values: Layer; configFile?: string } {
  // Not strict: the tokens are checked here, so every mistake gets Strata's one-line form.
  const { tokens } = parseArgs({ args: [...argv], options: FLAG_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const values: Layer = new Map();
  const fieldValues: FieldValues = new Map();
  let configFile: string | undefined;
  let previous: (typeof tokens)[number] | undefined;
  for (const token of tokens) {
    if (token.kind !== 'option') {
      const arg = argv[token.index] ?? '';
      // "--store-set-cookie false": a switch never takes the next word (it could be an argument), only =value.
      const sw = previous?.kind === 'option' && !previous.inlineValue && BY_FLAG.get(previous.name)?.setting.kind.isSwitch === true ? previous.rawName : undefined;
      if (sw !== undefined) throw configError(`unexpected argument ${JSON.stringify(arg)} after the switch ${sw} (expected ${sw}=${arg}, or ${sw} alone for true and --no-${sw.slice(2)} for false)`);
      throw configError(`unexpected argument ${JSON.stringify(arg)} (expected --flag or --flag=value; see --help)`);
    }
    previous = token;
    const label = token.rawName;
    const fieldOf = FIELD_FLAGS.get(token.name);
    if (fieldOf !== undefined) {
      const raw = token.value;
      if (raw === undefined || raw.trim() === '' || (!token.inlineValue && raw.startsWith('--'))) throw configError(`${label}: missing value (expected ${fieldOf.entry.setting.kind.arg})`);
      addField(fieldValues, fieldOf.entry, fieldOf.field, [raw]);
      continue;
    }
    // "--no-compress": a switch turned off (util.parseArgs' allowNegative needs Node 22).
    const negated = token.name.startsWith('no-') && BY_FLAG.get(token.name.slice(3))?.setting.kind.isSwitch === true && token.value === undefined;
    const entry = BY_FLAG.get(negated ? token.name.slice(3) : token.name);
    if (entry === undefined && token.name !== CONFIG_FLAG) throw configError(`${label}: unknown flag (see --help)`);
    const kind = entry?.setting.kind;
    let raw = token.value;
    if (negated) raw = 'false';
    else if (kind?.isSwitch) raw ??= 'true';
    // "--origin --listen x" is a forgotten value, not an origin named "--listen".
    else if (raw === undefined || (!token.inlineValue && raw.startsWith('--'))) {
      throw configError(`${label}: missing value (expected ${kind?.arg ?? 'FILE'})`);
    }
    if (entry === undefined) {
      if (raw.trim() === '') throw configError(`${label}: missing value (expected FILE)`);
      configFile = raw;
      continue;
    }
    const value = parseAt(label, entry.setting, raw);
    const earlier = values.get(entry.path);
    // A repeatable flag (--origin) adds to the list its earlier occurrences made.
    values.set(entry.path, kind?.repeatable && Array.isArray(earlier) && Array.isArray(value) ? [...earlier, ...value] : value);
  }
  recordsInto(values, fieldValues, (f) => `--${f.flag}`);
  return configFile === undefined ? { values } : { values, configFile };
}

// ---------------------------------------------------------------- record settings from field flags

/** Per record setting, the values given for each of its fields, in order. */
type FieldValues = Map<Entry, Map<string, string[]>>;

function addField(into: FieldValues, entry: Entry, field: string, items: string[]): void {
  let fields = into.get(entry);
  if (!fields) into.set(entry, (fields = new Map()));
  fields.set(field, [...(fields.get(field) ?? []), ...items]);
}

/** Pair the field values of each record setting in order (--tls-cert A --tls-key B → [{ cert: A, key: B }]). */
function recordsInto(values: Layer, given: FieldValues, label: (f: NonNullable<Entry['fields']>[number]) => string): void {
  for (const [entry, fields] of given) {
    const specs = entry.fields!;
    const first = specs[0]!;
    const n = fields.get(first.field)?.length ?? 0;
    for (const f of specs) {
      const m = fields.get(f.field)?.length ?? 0;
      if (m !== n) {
        throw configError(`${label(f)}: given ${m} time(s) for ${n} ${label(first)} (expected ${specs.map(label).join(' and ')} in pairs, in the same order)`);
      }
    }
    const records = Array.from({ length: n }, (_, i) => Object.fromEntries(specs.map((f) => [f.field, fields.get(f.field)![i]])));
    values.set(entry.path, parseAt(label(first), entry.setting, records));
  }
}

// ---------------------------------------------------------------- environment

function envLayer(env: LoadOptions['env']): Layer {
  const values: Layer = new Map();
  const fieldValues: FieldValues = new Map();
  for (const [name, raw] of Object.entries(env)) {
    // Empty counts as unset: `FOO=` lines in env files and compose files are common.
    if (!name.startsWith('STRATA_') || name === CONFIG_ENV || raw === undefined || raw === '') continue;
    const fieldOf = FIELD_ENVS.get(name);
    if (fieldOf !== undefined) {
      addField(fieldValues, fieldOf.entry, fieldOf.field, raw.split(',').map((s) => s.trim()));
      continue;
    }
    const entry = BY_ENV.get(name);
    // A mistyped name would otherwise be ignored without a word.
    if (entry === undefined) throw configError(`${name}: unknown environment variable (see --help)`);
    values.set(entry.path, parseAt(name, entry.setting, raw));
  }
  recordsInto(values, fieldValues, (f) => f.env);
  return values;
}

// ---------------------------------------------------------------- YAML

function firstLine(s: string): string {
  return (s.split('\n')[0] ?? '').trim();
}

function readYaml(file: string, readFile: LoadOptions['readFile']): unknown {
  let text: string;
  try {
    text = readFile(file);
  } catch (err) {
    throw configError(`config file ${file}: cannot read (${err instanceof Error ? firstLine(err.message) : String(err)})`);
  }
  try {
    // logLevel 'error': throw on errors, but keep yaml's warnings off the console.
    return parseYaml(text, { logLevel: 'error' }) as unknown;
  } catch (err) {
    throw configError(`config file ${file}: invalid YAML (${err instanceof Error ? firstLine(err.message) : String(err)})`);
  }
}

/** The member a YAML key names, its own key or one of a setting's aliases. */
function memberOf(schema: Schema, key: string): [string, AnySetting | Schema] | undefined {
  if (Object.hasOwn(schema, key)) return [key, schema[key]!];
  return Object.entries(schema).find(([, node]) => isSetting(node) && node.aliases?.includes(key));
}

function yamlLayer(file: string, doc: unknown): Layer {
  const values: Layer = new Map();
  const where = `config file ${file}`;
  if (doc === null || doc === undefined) return values; // empty file: all defaults
  if (!isMapping(doc)) throw configError(`${where}: top level is not a mapping (expected keys such as origin.url)`);

  const walk = (node: Record<string, unknown>, schema: Schema, prefix: string): void => {
    const writtenAs = new Map<string, string>();
    for (const [key, raw] of Object.entries(node)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      const member = memberOf(schema, key);
      if (member === undefined) {
        // Operators often paste a flag name into the file; point at the real key.
        const flagEntry = prefix === '' ? BY_FLAG.get(key) : undefined;
        const hint = flagEntry ? ` (the YAML key for --${key} is ${flagEntry.path})` : '';
        throw configError(`${where}: unknown key ${JSON.stringify(path)}${hint}`);
      }
      const [name, target] = member;
      const targetPath = prefix === '' ? name : `${prefix}.${name}`;
      if (isSetting(target)) {
        const earlier = writtenAs.get(targetPath);
        if (earlier !== undefined) throw configError(`${where}: ${earlier} and ${path} are both set (expected one of them)`);
        writtenAs.set(targetPath, path);
        values.set(targetPath, parseAt(`${where}: ${path}`, target, raw));
      } else if (isMapping(raw)) {
        walk(raw, target, targetPath);
      } else if (raw === null) {
        // A section whose every key is commented out: its defaults stand.
      } else {
        throw configError(`${where}: ${path}: ${show(raw)} is not a mapping (expected keys ${Object.keys(target).join(', ')})`);
      }
    }
  };
  walk(doc, SCHEMA, '');
  return values;
}

// ---------------------------------------------------------------- assembly

// Config is a fixed tree; writing by dotted path keeps the schema the single
// source of truth at the cost of this one untyped step.
function setPath(target: Config, path: string, value: unknown): void {
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

/** Rules that involve more than one setting. */
function checkWhole(config: Config): void {
  const origin = config.origin;
  // A route without a pool of its own uses origin.upstreams; with none, every route must name one.
  const needsOrigin = config.sites.length === 0 ? 'origin.url' : routeWithoutPool(config);
  if (origin.upstreams.length === 0 && needsOrigin !== undefined) {
    const what = needsOrigin === 'origin.url' ? '' : ` for ${needsOrigin}, which names no upstream of its own`;
    throw configError(`origin.url: missing${what} (expected --origin URL, or origin.upstreams in the config file)`);
  }
  const seen = new Set<string>();
  for (const u of origin.upstreams) {
    if (seen.has(u.url)) throw configError(`origin.upstreams: "${u.url}" is listed twice (expected each upstream once; use weight for a larger share)`);
    seen.add(u.url);
  }
  // No space in either tier: every response would be fetched, announced stored and kept nowhere. Refused as
  // Varnish refuses a malloc store under 1 MiB and nginx a keys_zone without a size (CACHING.md "Storage limits").
  if (config.cache.memoryMaxBytes === 0 && config.cache.diskMaxBytes === 0) {
    throw configError(
      'cache.memoryMaxBytes and cache.diskMaxBytes are both 0: nothing could be stored (expected a size above 0 for at least one tier: --memory-size or --disk-size; to proxy a route without caching, set its cache.bypass: true)',
    );
  }
  if (origin.passiveHealth.maxEjectMs < origin.passiveHealth.ejectMs) {
    throw configError(
      `origin.passiveHealth.maxEjectMs: ${origin.passiveHealth.maxEjectMs}ms is below ejectMs ${origin.passiveHealth.ejectMs}ms (expected at least ejectMs)`,
    );
  }
  const clustered = config.cluster.peers.length > 0 || config.cluster.dns !== '';
  if (clustered && config.cluster.secret === '') {
    throw configError('cluster.secret: missing (expected --cluster-secret or STRATA_CLUSTER_SECRET: peers authenticate each other with it)');
  }
  const ids = new Set<string>();
  // A peer is known by its URL (cluster/membership.ts): a second name for one would replace the first.
  const urls = new Map<string, string>();
  for (const p of config.cluster.peers) {
    if (ids.has(p.id)) throw configError(`cluster.peers: "${p.id}" is listed twice (expected each node id once)`);
    const named = urls.get(p.url);
    if (named !== undefined) throw configError(`cluster.peers: ${p.url} is listed twice (as ${named} and ${p.id}); expected each node's URL once, under its node id`);
    ids.add(p.id);
    urls.set(p.url, p.id);
  }
  if (overlaps(config.listen, config.admin.listen)) {
    throw configError(`admin.listen: "${formatHostPort(config.admin.listen)}" overlaps listen "${formatHostPort(config.listen)}" (expected a different port)`);
  }
  const redirect = config.tls.redirectListen;
  if (redirect !== null) {
    if (config.tls.certificates.length === 0) throw configError(`tls.redirectListen: "${formatHostPort(redirect)}" is set but TLS is off (expected tls.certificates, --tls-cert/--tls-key, as well)`);
    for (const [name, other] of [['listen', config.listen], ['admin.listen', config.admin.listen]] as const) {
      if (overlaps(redirect, other)) throw configError(`tls.redirectListen: "${formatHostPort(redirect)}" overlaps ${name} "${formatHostPort(other)}" (expected a different port)`);
    }
  }
}

/** The first route (as "sites.SITE.routes.ROUTE") that has no upstream pool of its own. */
function routeWithoutPool(config: Config): string | undefined {
  for (const site of config.sites) for (const r of site.routes) if (!r.upstream) return `sites.${site.name}.routes.${r.name}`;
  return undefined;
}

/**
 * `sitesFile`: the sites mapping read from a file of its own. A relative path the
 * config file gives is read from the config file's directory (as nginx's include
 * reads from a fixed prefix): the node may be started from any directory. One from
 * a flag or the environment is relative to the working directory, as any path on a
 * command line. Errors name the path as read, made absolute.
 */
function sitesFromFile(config: Config, readFile: LoadOptions['readFile'], configFile: string | undefined): void {
  const given = config.sitesFile;
  if (given === '') return;
  if (config.sites.length > 0) throw configError(`sitesFile: "${given}" is set together with sites (expected one of them)`);
  const file = configFile === undefined || isAbsolute(given) ? given : join(dirname(configFile), given);
  config.sitesFile = file;
  let text: string;
  try {
    text = readFile(file);
  } catch (err) {
    throw configError(`sitesFile: ${resolve(file)}: cannot read (${err instanceof Error ? firstLine(err.message) : String(err)})`);
  }
  const entry = ENTRIES.find((e) => e.path === 'sites')!;
  config.sites = parseAt(`sites file ${resolve(file)}: sites`, entry.setting, text) as Config['sites'];
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

export function loadConfig(opts: LoadOptions): Readonly<Config> {
  const flags = flagLayer(opts.argv);
  const env = envLayer(opts.env);
  const envFile = opts.env[CONFIG_ENV];
  const file = opts.file ?? flags.configFile ?? (envFile === undefined || envFile === '' ? undefined : envFile);
  const yaml = file === undefined ? new Map<string, unknown>() : yamlLayer(file, readYaml(file, opts.readFile));

  const config = defaultConfig(opts.hostname);
  for (const layer of [yaml, env, flags.values]) {
    for (const [path, value] of layer) setPath(config, path, value);
  }
  // The config file's directory is the base of a sitesFile only when the file set it.
  const sitesFileFromYaml = yaml.has('sitesFile') && !env.has('sitesFile') && !flags.values.has('sitesFile');
  sitesFromFile(config, opts.readFile, sitesFileFromYaml ? file : undefined);
  const poolSize = config.origin.maxConnections;
  config.origin.upstreams = config.origin.upstreams.map((u) => ({ ...u, maxConnections: u.maxConnections === INHERIT_POOL_SIZE ? poolSize : u.maxConnections }));
  checkWhole(config);
  return deepFreeze(config);
}

