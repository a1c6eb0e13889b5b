// The kinds of value the edge settings hold (./schema/edge.ts): request filter
// rules, claim-to-field mappings, URLs, plain words and rates. Structured values
// are written as YAML in the config file and as YAML flow text (JSON works too)
// in a flag or environment variable, so every setting is reachable from all
// three. Patterns and address ranges are checked here with the parsers the guard
// compiles them with, so a bad one stops start-up naming its key.

import { parse as parseYaml } from 'yaml';
import { compilePath, compileValue, parseCidr, PatternError } from '../http/patterns.js';
import { isMapping, type Kind, Problem, show, urlKind } from './kinds.js';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function notA(raw: unknown, what: string, expected: string): Problem {
  return new Problem(`${show(raw)} is not ${what} (expected ${expected})`);
}

/** Flag and env text holding a structure: YAML flow (or JSON) text; a YAML value is taken as it is. */
function structured(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  const t = raw.trim();
  if (!t.startsWith('[') && !t.startsWith('{')) return raw;
  try {
    return parseYaml(t, { logLevel: 'error' }) as unknown;
  } catch (err) {
    throw new Problem(`${show(raw)} is not valid YAML flow text (${(err as Error).message.split('\n')[0]})`);
  }
}

function within<T>(at: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof Problem) throw new Problem(err.message, at + err.at);
    if (err instanceof PatternError) throw new Problem(err.message, at);
    throw err;
  }
}

/** Requests per second: a positive number, fractions allowed (0.5 is one request every 2 s); 0 is off. */
export function rate(): Kind<number> {
  return {
    arg: 'RATE',
    parse: (raw) => {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n) || n < 0) throw notA(raw, 'a rate', 'requests per second, e.g. 10 or 0.5; 0 for off');
      return n;
    },
    format: (n) => n,
  };
}

/** An http: or https: URL (query allowed), or "" for off; shown without its password (kinds.ts, urlKind). */
export function serviceUrl(example: string): Kind<string> {
  const expected = `an http:// or https:// URL, e.g. ${example}, or "" for off`;
  return urlKind('URL', (raw, shown) => {
    if (raw === '' || raw === null) return '';
    if (typeof raw !== 'string') throw notA(raw, 'a URL', expected);
    let u: URL;
    try {
      u = new URL(raw.trim());
    } catch {
      throw new Problem(`${shown} is not a URL (expected ${expected})`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Problem(`${shown} is not an http(s) URL (expected ${expected})`);
    return u.href;
  });
}

/** One line of text ("" allowed). */
export function text(arg = 'TEXT'): Kind<string> {
  return {
    arg,
    parse: (raw) => {
      if (raw === null) return '';
      if (typeof raw !== 'string' && typeof raw !== 'number') throw notA(raw, 'text', 'one line of text');
      const s = String(raw);
      if (/[\r\n]/.test(s)) throw notA(raw, 'one line of text', 'no line breaks');
      return s;
    },
    format: (s) => s,
  };
}

/** Words: comma-separated, or a YAML list ([] for none). */
export function words(arg: string, example: string): Kind<string[]> {
  const expected = `comma-separated words or a YAML list, e.g. ${example}`;
  return {
    arg,
    parse: (raw) => {
      const v = structured(raw);
      const items = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : undefined;
      if (items === undefined) throw notA(raw, 'a list', expected);
      return items
        .map((i) => (typeof i === 'string' || typeof i === 'number' ? String(i).trim() : '\0'))
        .filter((s) => s !== '')
        .map((s) => {
          if (s === '\0') throw notA(raw, 'a list of words', expected);
          return s;
        });
    },
    format: (list) => [...list],
  };
}

/** One HTTP field name, lower-cased, or "" for none. */
export function fieldName(example: string): Kind<string> {
  return {
    arg: 'FIELD',
    parse: (raw) => {
      const s = typeof raw === 'string' ? raw.trim().toLowerCase() : raw === null ? '' : undefined;
      if (s === undefined || (s !== '' && !TOKEN.test(s))) throw notA(raw, 'a field name', `an HTTP field name, e.g. ${example}`);
      return s;
    },
    format: (s) => s,
  };
}

/** A cookie name (an HTTP token, RFC 6265 §4.1.1; case kept), or "" for none. */
export function cookieName(): Kind<string> {
  return {
    arg: 'COOKIE',
    parse: (raw) => {
      const s = typeof raw === 'string' ? raw.trim() : raw === null ? '' : undefined;
      if (s === undefined || (s !== '' && !TOKEN.test(s))) throw notA(raw, 'a cookie name', 'letters, digits and -._ only, e.g. session');
      return s;
    },
    format: (s) => s,
  };
}

/** JWS algorithms jose verifies (RFC 7518 §3.1, RFC 8037); "none" is not one of them. */
export const JWS_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

/** Accepted JWS algorithms, comma-separated or a YAML list ([] for any the key allows). */
export function jwsAlgorithms(): Kind<string[]> {
  const list = words('ALGS', 'RS256, ES256');
  return {
    ...list,
    parse: (raw) => {
      const algs = list.parse(raw);
      for (const a of algs) {
        if (!(JWS_ALGORITHMS as readonly string[]).includes(a)) throw notA(raw, 'a list of JWS algorithms', `some of ${JWS_ALGORITHMS.join(', ')}`);
      }
      return algs;
    },
  };
}

/** Claim → request field: "sub=x-user, email=x-email" or a YAML mapping; a dotted claim reads inside objects. */
export function claimFields(): Kind<Record<string, string>> {
  const expected = 'claim=field pairs, e.g. sub=x-user, email=x-user-email, or a YAML mapping';
  return {
    arg: 'CLAIM=FIELD,…',
    parse: (raw) => {
      let v = structured(raw);
      if (typeof v === 'string') {
        const pairs = v.split(',').filter((p) => p.trim() !== '');
        // Entries, made an object at once: a claim named `__proto__` stays a claim.
        v = Object.fromEntries(
          pairs.map((p) => {
            const eq = p.indexOf('=');
            if (eq <= 0) throw notA(raw, 'a claim mapping', expected);
            return [p.slice(0, eq).trim(), p.slice(eq + 1).trim()];
          }),
        );
      }
      if (v === null) return {};
      if (!isMapping(v)) throw notA(raw, 'a claim mapping', expected);
      return Object.fromEntries(
        Object.entries(v).map(([claim, field]) => {
          const f = typeof field === 'string' ? field.trim().toLowerCase() : '';
          if (!TOKEN.test(f)) throw new Problem(`${show(field)} is not a field name (expected ${expected})`, `.${claim}`);
          return [claim, f];
        }),
      );
    },
    format: (m) => ({ ...m }),
  };
}

export interface FilterRule {
  /** Named in the 403 and the log line. */
  name: string;
  action: 'deny' | 'allow';
  /** Any of these methods (upper case); [] matches every method. */
  methods: string[];
  /** Any of these path patterns (routing/guard/match.ts); [] matches every path. */
  paths: string[];
  /** Every one of these fields matches its value pattern. */
  headers: Record<string, string>;
  /** Any of these address ranges; [] matches every client. */
  addresses: string[];
}

const RULE_KEYS = ['name', 'action', 'methods', 'paths', 'headers', 'addresses'];
const RULES_EXPECTED = 'a YAML list of rules with name, action (deny|allow) and any of methods, paths, headers, addresses';

function stringList(raw: unknown, what: string): string[] {
  const items = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return items.map((i, n) => {
    if (typeof i !== 'string' || i.trim() === '') throw new Problem(`${show(i)} is not ${what}`, `[${n}]`);
    return i.trim();
  });
}

function filterRule(item: unknown, index: number): FilterRule {
  if (!isMapping(item)) throw notA(item, 'a rule', RULES_EXPECTED);
  const unknown = Object.keys(item).find((k) => !RULE_KEYS.includes(k));
  if (unknown !== undefined) throw new Problem(`unknown key ${JSON.stringify(unknown)} (expected ${RULE_KEYS.join(', ')})`);
  const { name, action } = item;
  if (action !== 'deny' && action !== 'allow') throw new Problem(`${show(action)} is not an action (expected deny or allow)`, '.action');
  const rule: FilterRule = {
    name: typeof name === 'string' && name.trim() !== '' ? name.trim() : `rule ${index + 1}`,
    action,
    methods: within('.methods', () => stringList(item['methods'], 'a method').map((m) => m.toUpperCase())),
    paths: within('.paths', () => stringList(item['paths'], 'a path pattern')),
    headers: {},
    addresses: within('.addresses', () => stringList(item['addresses'], 'an address range')),
  };
  for (const m of rule.methods) if (!TOKEN.test(m)) throw new Problem(`${show(m)} is not a method`, '.methods');
  for (const p of rule.paths) within('.paths', () => compilePath(p));
  for (const a of rule.addresses) within('.addresses', () => parseCidr(a));
  const headers = item['headers'];
  if (headers !== undefined && headers !== null) {
    if (!isMapping(headers)) throw notA(headers, 'a mapping', 'field: value pattern', );
    for (const [field, pattern] of Object.entries(headers)) {
      const f = field.toLowerCase();
      if (!TOKEN.test(f)) throw new Problem(`${show(field)} is not a field name`, '.headers');
      if (typeof pattern !== 'string') throw new Problem(`${show(pattern)} is not a value pattern (expected text, "*", "!" or "~ regex")`, `.headers.${field}`);
      within(`.headers.${field}`, () => compileValue(pattern));
      rule.headers[f] = pattern;
    }
  }
  return rule;
}

/** Request filter rules, first match wins. */
export function filterRules(): Kind<FilterRule[]> {
  return {
    arg: 'RULES',
    parse: (raw) => {
      const v = structured(raw);
      if (v === null || v === '') return [];
      if (!Array.isArray(v)) throw notA(raw, 'a list of rules', RULES_EXPECTED);
      const rules = v.map((item, i) => within(`[${i}]`, () => filterRule(item, i)));
      const seen = new Set<string>();
      for (const r of rules) {
        if (seen.has(r.name)) throw new Problem(`rule name ${JSON.stringify(r.name)} is used twice (expected each name once: it identifies the rule in logs)`);
        seen.add(r.name);
      }
      return rules;
    },
    format: (rules) =>
      rules.map((r) => {
        const out: Record<string, unknown> = { name: r.name, action: r.action };
        if (r.methods.length) out['methods'] = [...r.methods];
        if (r.paths.length) out['paths'] = [...r.paths];
        if (Object.keys(r.headers).length) out['headers'] = { ...r.headers };
        if (r.addresses.length) out['addresses'] = [...r.addresses];
        return out;
      }),
  };
}
