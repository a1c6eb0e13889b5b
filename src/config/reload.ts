// What a reload changes: the running configuration against a newly loaded one,
// compared setting by setting (the schema's entries), each change sorted by its
// declaration (setting.ts, `live`) into applied live or needing a restart. Pure:
// the node (src/node.ts, reload) does the applying.
//
// Invariant: the configuration a node runs after a reload takes every live
// setting from the new one and keeps the running value of every restart-only
// setting, so the next reload names a pending restart-only change again rather
// than forgetting it.

import { isDeepStrictEqual } from 'node:util';
import { ENTRIES } from './schema/index.js';
import type { Entry } from './setting.js';
import type { Config } from './types.js';

/** One setting that differs, its values as the operator writes them (secrets never shown). */
export interface SettingChange {
  key: string;
  from: unknown;
  to: unknown;
  /** Set when the two values are shown alike: the change is in what is not shown (a URL's password). */
  hidden?: string;
}

const HIDDEN_CHANGE = 'changed in a part not shown (a secret, a password)';

export interface ConfigChanges {
  /** Changes the running node takes now. */
  applied: SettingChange[];
  /** Changes that take effect only after a restart; until then the running value stays. */
  restartRequired: SettingChange[];
}

const HIDDEN = '(secret)';

function valueAt(config: Readonly<Config>, path: string): unknown {
  let node: unknown = config;
  for (const part of path.split('.')) node = (node as Record<string, unknown>)[part];
  return node;
}

function shown(e: Entry, value: unknown): unknown {
  return e.setting.kind.secret ? (value === '' ? '' : HIDDEN) : e.setting.kind.format(value);
}

/** The settings whose values differ between `running` and `loaded`, by reload class. */
export function configChanges(running: Readonly<Config>, loaded: Readonly<Config>): ConfigChanges {
  const changes: ConfigChanges = { applied: [], restartRequired: [] };
  for (const e of ENTRIES) {
    const from = valueAt(running, e.path);
    const to = valueAt(loaded, e.path);
    if (isDeepStrictEqual(from, to)) continue;
    const change: SettingChange = { key: e.path, from: shown(e, from), to: shown(e, to) };
    if (isDeepStrictEqual(change.from, change.to)) change.hidden = HIDDEN_CHANGE;
    (e.setting.live ? changes.applied : changes.restartRequired).push(change);
  }
  return changes;
}

/** `loaded` with every restart-only setting put back to its running value: what the node runs after the reload. Frozen. */
export function reloadedConfig(running: Readonly<Config>, loaded: Readonly<Config>): Readonly<Config> {
  const next = structuredClone(loaded) as Config;
  for (const e of ENTRIES) {
    if (e.setting.live) continue;
    const parts = e.path.split('.');
    let node = next as unknown as Record<string, unknown>;
    for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>;
    node[parts[parts.length - 1]!] = structuredClone(valueAt(running, e.path));
  }
  return deepFreeze(next);
}

/** `value` and everything in it frozen (a configuration received from elsewhere: workers/node-config.ts). */
export function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
