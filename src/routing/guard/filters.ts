// Request filter rules, compiled once: first match wins. A rule matches when each
// condition it names holds (methods: any, GET covering HEAD; paths: any; headers: all, the host
// as sites match it; addresses: any); a rule that names none matches every request, which is how "deny the
// rest" is written after allow rules. Pure.

import type { FilterRule } from '../../config/edge-kinds.js';
import type { HeaderMap } from '../../http/headers.js';
import { compilePath, compileRanges, compileValue, isExactValue, routedPath } from '../../http/patterns.js';
import { hostName } from '../sites.js';

export type { FilterRule } from '../../config/edge-kinds.js';

export interface FilterFacts {
  method: string;
  target: string;
  headers: HeaderMap;
  clientAddress: string;
  /** The host the client addressed (Host, :authority, an absolute-form target's); absent: the Host field. */
  host?: string;
  /** The route's site matches paths ignoring case (caseInsensitivePaths); absent: as written. */
  caseInsensitivePaths?: boolean;
}

/** `path`: routedPath of the target (lower-cased when `folded`). */
type Test = (f: FilterFacts, path: string, folded: boolean) => boolean;

interface CompiledRule {
  name: string;
  action: 'deny' | 'allow';
  tests: Test[];
}

function compile(rule: FilterRule): CompiledRule {
  const tests: Test[] = [];
  if (rule.methods.length) {
    const methods = new Set(rule.methods);
    // HEAD is answered from a stored GET and fetched as a GET on a miss: a rule about GET is about HEAD too
    // (nginx's limit_except GET likewise). A deny of GET let HEAD run the GET at the origin.
    if (methods.has('GET')) methods.add('HEAD');
    tests.push((f) => methods.has(f.method));
  }
  if (rule.paths.length) {
    const paths = rule.paths.map((p) => compilePath(p));
    // The same rules for sites that match paths ignoring case: built once, not per request.
    const folded = rule.paths.map((p) => compilePath(p, true));
    tests.push((_f, p, fold) => (fold ? folded : paths).some((m) => m(p)));
  }
  for (const [field, pattern] of Object.entries(rule.headers)) {
    if (field === 'host') {
      // The host as sites match it (lower-case, no port, no trailing dot): a deny of admin.example
      // let ADMIN.example, admin.example. and admin.example:80 through to the same site.
      const m = compileValue(isExactValue(pattern) ? hostName(pattern) : pattern);
      tests.push((f) => {
        const host = f.host || f.headers['host'];
        return m(host ? hostName(host) : undefined);
      });
      continue;
    }
    const m = compileValue(pattern);
    tests.push((f) => m(f.headers[field]));
  }
  if (rule.addresses.length) {
    const inRange = compileRanges(rule.addresses);
    tests.push((f) => inRange(f.clientAddress));
  }
  return { name: rule.name, action: rule.action, tests };
}

export class RequestFilter {
  private readonly rules: CompiledRule[];

  constructor(rules: readonly FilterRule[]) {
    this.rules = rules.map(compile);
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** The rule that denies the request, or undefined when it may go on (allowed, or no rule matched). */
  deniedBy(f: FilterFacts): string | undefined {
    const fold = f.caseInsensitivePaths === true;
    const path = routedPath(f.target, fold);
    for (const r of this.rules) {
      if (r.tests.every((t) => t(f, path, fold))) return r.action === 'deny' ? r.name : undefined;
    }
    return undefined;
  }
}
