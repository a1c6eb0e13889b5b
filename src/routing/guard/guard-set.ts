// The edge guards of one configuration: the node-wide Guard (config group
// `edge`) and one Guard per route that has rules of its own (route `guard`,
// config/route-guard.ts: the kinds a route names replace the node's of the same
// kind). Routes without rules of their own use the node-wide Guard.
//
// State lives in the stateful stages (rate buckets, remembered forward-auth
// decisions, JWKS and verified tokens), each owned by whoever wrote its rules:
// "edge" for the node's and for every stage a route inherits (so an inherited
// rate limit is the node-wide bucket, as a server-level nginx limit_req is one
// zone for all its locations), "SITE/ROUTE" for a stage the route names (its
// own buckets, even when another route's rules read the same).
//
// Reload: successor(next) builds the new Guards (cheap: filters compiled, sets)
// but hands them the previous stages whose owner and rules are unchanged, so a
// reload that changes one route's guard keeps every other route's state, and the
// node's. A JWT stage's rules include a digest of its key files' contents, read
// again on every build: a key added to or withdrawn from a file takes effect on
// the next reload. retire() closes the stages nobody uses any more.

import { isDeepStrictEqual } from 'node:util';
import { effectiveRules, type RouteGuardSpec } from '../../config/route-guard.js';
import type { Config } from '../../config/types.js';
import type { ForwardAuth } from './forward-auth.js';
import { CREDENTIAL_FIELDS, Guard, type GuardDeps, type StatefulStage } from './guard.js';
import type { JwtCheck } from './jwt.js';
import type { RateLimiter } from './rate-limit.js';

const NODE_OWNER = 'edge';

interface Stage {
  owner: string;
  stage: StatefulStage;
  rules: unknown;
  value: unknown;
}

/** What the pipeline asks: the Guard for a route (the node's when it has none of its own). */
export interface RouteGuards {
  readonly node: Guard;
  /**
   * Every field any guard of this configuration sets for the origin (identity,
   * claims): removed from every client request, whatever its route, so a client
   * cannot hand an origin that several routes share its own identity through a
   * route that checks nothing. Not Authorization, Cookie, Proxy-Authorization
   * (Authorization as an identity field, set from a session cookie by the auth
   * service, is still the client's own elsewhere): a guard that sets one of
   * those strips it on its own routes; and a guard that reads one of these fields
   * from clients (forward-auth's requestFields) keeps it on its routes.
   */
  readonly strippedFields: ReadonlySet<string>;
  forRoute(route: { readonly site: string; readonly name: string }): Guard;
}

export type GuardSetDeps = Pick<GuardDeps, 'clock' | 'readFile'>;

export class GuardSet implements RouteGuards {
  readonly node: Guard;
  readonly strippedFields: ReadonlySet<string>;
  private readonly routes = new Map<string, Guard>();
  private readonly stages: Stage[] = [];
  private retiredStages: Stage[] = [];

  /** Throws GuardConfigError naming the key (edge.… or sites.SITE.routes.ROUTE.guard.…). */
  constructor(config: Readonly<Config>, deps: GuardSetDeps, previous?: GuardSet) {
    const before = previous?.stages ?? [];
    const taken = new Set<Stage>();
    // Each key file read once per build: every guard naming it sees the same contents.
    deps = { ...deps, readFile: readOnce(deps.readFile) };
    const reuseFor = (owners: (stage: StatefulStage) => string): GuardDeps['reuse'] => <T>(stage: StatefulStage, rules: unknown, make: () => T): T => {
      const owner = owners(stage);
      const mine = this.stages.find((s) => s.owner === owner && s.stage === stage && isDeepStrictEqual(s.rules, rules));
      if (mine) return mine.value as T;
      const old = before.find((s) => !taken.has(s) && s.owner === owner && s.stage === stage && isDeepStrictEqual(s.rules, rules));
      if (old) taken.add(old);
      const s: Stage = old ?? { owner, stage, rules, value: make() };
      this.stages.push(s);
      return s.value as T;
    };
    try {
      this.node = new Guard(config.edge, { ...deps, reuse: reuseFor(() => NODE_OWNER) });
      this.routeGuards(config, deps, reuseFor);
    } catch (err) {
      // A rule that cannot be built: the stages made for this set so far are closed (the previous set's stay).
      void closeStages(this.stages.filter((s) => !taken.has(s))).catch(() => undefined);
      throw err;
    }
    this.retiredStages = before.filter((s) => !taken.has(s));
    const guards = [this.node, ...this.routes.values()];
    this.strippedFields = new Set(guards.flatMap((g) => [...g.strippedFields]).filter((f) => !CREDENTIAL_FIELDS.has(f)));
  }

  private routeGuards(config: Readonly<Config>, deps: GuardSetDeps, reuseFor: (owners: (stage: StatefulStage) => string) => GuardDeps['reuse']): void {
    for (const site of config.sites) {
      for (const r of site.routes) {
        const own: RouteGuardSpec | undefined = r.guard;
        if (own === undefined) continue;
        const label = `${site.name}/${r.name}`;
        const guard = new Guard(effectiveRules(config.edge, own), {
          ...deps,
          keyPrefix: `sites.${site.name}.routes.${r.name}.guard`,
          reuse: reuseFor((stage) => (own[stage] === undefined ? NODE_OWNER : label)),
        });
        this.routes.set(label, guard);
      }
    }
  }

  forRoute(route: { readonly site: string; readonly name: string }): Guard {
    return this.routes.get(`${route.site}/${route.name}`) ?? this.node;
  }

  /** The guards for a reloaded configuration, keeping unchanged stages (see the header). */
  successor(next: Readonly<Config>, deps: GuardSetDeps): GuardSet {
    return new GuardSet(next, deps, this);
  }

  /** Close the previous set's stages this one does not use (auth connections, once idle). */
  async retire(): Promise<void> {
    const gone = this.retiredStages;
    this.retiredStages = [];
    await closeStages(gone);
  }

  /** What the guards hold, for /stats: each stage once, however many routes share it. */
  figures(): { rememberedDecisions: number; rememberedTokens: number; rateBuckets: number } {
    let rememberedDecisions = 0;
    let rememberedTokens = 0;
    let rateBuckets = 0;
    for (const s of this.stages) {
      if (s.stage === 'forwardAuth') rememberedDecisions += (s.value as ForwardAuth).rememberedCount;
      else if (s.stage === 'jwt') rememberedTokens += (s.value as JwtCheck).rememberedCount;
      else rateBuckets += (s.value as RateLimiter).size;
    }
    return { rememberedDecisions, rememberedTokens, rateBuckets };
  }

  async close(): Promise<void> {
    await closeStages(this.stages);
  }
}

function readOnce(readFile: (path: string) => string): (path: string) => string {
  const read = new Map<string, { text: string } | { err: unknown }>();
  return (path) => {
    let r = read.get(path);
    if (r === undefined) {
      try {
        r = { text: readFile(path) };
      } catch (err) {
        r = { err };
      }
      read.set(path, r);
    }
    if ('err' in r) throw r.err;
    return r.text;
  };
}

async function closeStages(stages: readonly Stage[]): Promise<void> {
  await Promise.all(stages.filter((s) => s.stage === 'forwardAuth').map((s) => (s.value as ForwardAuth).close()));
}
