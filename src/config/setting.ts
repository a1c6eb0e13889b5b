// What a setting declaration is, and the names derived from it. A schema is a
// tree whose leaves are settings; the tree's shape is Config's shape and a
// leaf's dotted path is its YAML key. Its flag is the path in kebab-case
// (cache.memoryMaxBytes → --cache-memory-max-bytes) unless the declaration names
// an established one, and its env name is the flag's (STRATA_CACHE_MEMORY_MAX_BYTES).

import type { Kind } from './kinds.js';

export interface DefaultContext {
  hostname: string;
}

const IS_SETTING: unique symbol = Symbol('setting');

export interface SettingSpec<V> {
  readonly kind: Kind<V>;
  /** A value, or one computed from the machine (only the node id needs that). */
  readonly default: NoInfer<V> | ((ctx: DefaultContext) => NoInfer<V>);
  /** One line (or a few sentences) for --help and config/default.yaml. */
  readonly help: string;
  /** An established flag name, without "--"; otherwise derived from the path. */
  readonly flag?: string;
  /** Other YAML keys at the same level that mean this setting (origin.url for origin.upstreams). */
  readonly aliases?: readonly string[];
  /** How --help states a default that is not a value worth printing, e.g. "the host name". */
  readonly defaultText?: string;
  /** YAML lines shown commented out in default.yaml instead of the default value. */
  readonly example?: readonly string[];
  /**
   * A list of records whose fields each have a flag of their own, paired in the
   * order given (--tls-cert A --tls-key B → [{ cert: A, key: B }]); their env
   * names hold comma-separated lists paired the same way. The first is the
   * setting's flag.
   */
  readonly fieldFlags?: Readonly<Record<string, string>>;
  /**
   * Applied by a reload (SIGHUP, POST /reload) without a restart: some component
   * takes the new value in its reconfigure step (src/node.ts, reload). Absent: a
   * change is reported as needing a restart and the running value stays.
   */
  readonly live?: true;
}

export interface Setting<V> extends SettingSpec<V> {
  readonly [IS_SETTING]: true;
}

export function setting<V>(spec: SettingSpec<V>): Setting<V> {
  return { ...spec, [IS_SETTING]: true };
}

export function isSetting(node: unknown): node is AnySetting {
  return typeof node === 'object' && node !== null && IS_SETTING in node;
}

export type AnySetting = Setting<any>;

export interface Schema {
  readonly [key: string]: AnySetting | Schema;
}

/** The value tree a schema describes: each setting replaced by its value type. */
export type ConfigOf<S> = { -readonly [K in keyof S]: S[K] extends Setting<infer V> ? V : ConfigOf<S[K]> };

/** A setting with the names derived from its place in the schema. */
export interface Entry {
  /** Dotted path into Config, also the YAML key. */
  readonly path: string;
  readonly setting: Setting<unknown>;
  /** Without the leading "--". */
  readonly flag: string;
  readonly env: string;
  /** Per record field, its flag and env name (settings declaring fieldFlags). */
  readonly fields?: readonly { readonly field: string; readonly flag: string; readonly env: string }[];
}

function kebab(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function envName(flag: string): string {
  return `STRATA_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** Every setting of the schema in declaration order (which is also the order of the docs). */
export function entriesOf(schema: Schema, prefix: readonly string[] = []): Entry[] {
  return Object.entries(schema).flatMap(([key, node]) => {
    const parts = [...prefix, key];
    if (!isSetting(node)) return entriesOf(node, parts);
    if (node.fieldFlags !== undefined) {
      const fields = Object.entries(node.fieldFlags).map(([field, flag]) => ({ field, flag, env: envName(flag) }));
      return [{ path: parts.join('.'), setting: node, flag: fields[0]!.flag, env: fields[0]!.env, fields }];
    }
    const flag = node.flag ?? parts.map(kebab).join('-');
    return [{ path: parts.join('.'), setting: node, flag, env: envName(flag) }];
  });
}

export function defaultOf<V>(s: Setting<V>, ctx: DefaultContext): V {
  // Defaults are cloned so that no two loaded configs share a list.
  return typeof s.default === 'function' ? (s.default as (c: DefaultContext) => V)(ctx) : structuredClone(s.default);
}
