// The default value of every setting, read from the schema (./schema/).
// origin.upstreams has no meaningful default: it is empty here and load.ts
// refuses to finish until some source provides an upstream.

import { SCHEMA } from './schema/index.js';
import { type DefaultContext, defaultOf, isSetting, type Schema } from './setting.js';
import type { Config } from './types.js';

function defaultsOf(schema: Schema, ctx: DefaultContext): Record<string, unknown> {
  return Object.fromEntries(Object.entries(schema).map(([key, node]) => [key, isSetting(node) ? defaultOf(node, ctx) : defaultsOf(node, ctx)]));
}

export function defaultConfig(hostname: string): Config {
  return defaultsOf(SCHEMA, { hostname }) as Config;
}
