// A route's own edge-guard rules (sites.SITE.routes.ROUTE.guard): the shape of
// config group `edge`, parsed with the same kinds (./schema/edge.ts), so a route
// accepts exactly what `edge` accepts and its errors read the same
// ("sites.shop.routes.api.guard.rateLimit.requestsPerS: ...").
//
// What a route names replaces the node-wide rule of the same kind, as an nginx
// location's directives replace the server's of the same kind; what it does not
// name is inherited from `edge` (effectiveRules). A kind is a top-level key:
// filters, rateLimit, forwardAuth, jwt, skipAuthPreflight, publicAfterAuth,
// hideResponseFields. A group the route names (rateLimit, forwardAuth, jwt) is
// taken whole: its unnamed fields are the schema's defaults, not the edge's
// values, so a route's rule set reads complete where it is written. A group
// written as `off` (or false) is the group's defaults: that stage is off on the
// route (nginx's `auth_request off`).

import type { EdgeConfig } from './types.js';
import { isMapping, Problem, show } from './kinds.js';
import { edge } from './schema/edge.js';
import { defaultOf, isSetting, type AnySetting, type Schema } from './setting.js';

/** The kinds a route names, each complete (a group with its defaults filled in). */
export type RouteGuardSpec = Partial<EdgeConfig>;

const KINDS = Object.keys(edge) as (keyof EdgeConfig)[];
const NO_HOST = { hostname: '' };

function within<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof Problem) throw new Problem(err.message, where + err.at);
    throw err;
  }
}

function defaults(schema: Schema): Record<string, unknown> {
  return Object.fromEntries(Object.entries(schema).map(([k, node]) => [k, isSetting(node) ? defaultOf(node, NO_HOST) : defaults(node)]));
}

function group(schema: Schema, raw: unknown): Record<string, unknown> {
  const out = defaults(schema);
  if (raw === false || raw === 'off' || raw === null) return out;
  if (!isMapping(raw)) throw new Problem(`${show(raw)} is not a mapping (expected keys ${Object.keys(schema).join(', ')}, or off)`);
  for (const [k, v] of Object.entries(raw)) {
    const node = Object.hasOwn(schema, k) ? schema[k] : undefined;
    if (node === undefined) throw new Problem(`unknown key ${JSON.stringify(k)} (expected ${Object.keys(schema).join(', ')})`);
    out[k] = within(`.${k}`, () => (isSetting(node) ? node.kind.parse(v) : group(node, v)));
  }
  return out;
}

/** A route's `guard` value: a mapping of the edge kinds it sets. */
export function parseRouteGuard(raw: unknown): RouteGuardSpec {
  if (!isMapping(raw)) throw new Problem(`${show(raw)} is not a mapping (expected keys of the edge group: ${KINDS.join(', ')})`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!(KINDS as string[]).includes(k)) throw new Problem(`unknown key ${JSON.stringify(k)} (expected ${KINDS.join(', ')})`, `.${k}`);
    const node = (edge as Schema)[k]!;
    out[k] = within(`.${k}`, () => (isSetting(node) ? node.kind.parse(v) : group(node, v)));
  }
  return out as RouteGuardSpec;
}

function formatNode(node: AnySetting | Schema, value: unknown): unknown {
  if (isSetting(node)) return node.kind.format(value);
  const v = value as Record<string, unknown>;
  return Object.fromEntries(Object.entries(node).map(([k, n]) => [k, formatNode(n, v[k])]));
}

/** Back to the YAML form parseRouteGuard reads. */
export function formatRouteGuard(spec: RouteGuardSpec): unknown {
  return Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, formatNode((edge as Schema)[k]!, v)]));
}

/** The rules a route enforces: its own kinds over the node-wide `edge` ones. */
export function effectiveRules(node: EdgeConfig, route: RouteGuardSpec | undefined): EdgeConfig {
  return route === undefined ? node : { ...node, ...route };
}
