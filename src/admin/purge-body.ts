// The body of `POST /purge`: its strict shape, every problem named, and what no
// stored entry could ever match (tags no origin field gives) refused with its reason.

import { StrataError } from '../errors.js';

/** The JSON body of `POST /purge`, validated. */
export interface PurgeRequest {
  urls: string[];
  prefixes: string[];
  tags: string[];
  all: boolean;
  soft: boolean;
}

const FIELDS = { urls: 'list', prefixes: 'list', tags: 'list', all: 'boolean', soft: 'boolean' } as const;
const FIELD_NAMES = Object.keys(FIELDS).join(', ');

export function bad(message: string): StrataError {
  return new StrataError('PURGE_BAD_REQUEST', message);
}

/** Parse and check a `POST /purge` body. */
export function parsePurgeBody(text: string): PurgeRequest | StrataError {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return bad(`body is not valid JSON (${(err as Error).message}); expected e.g. {"urls": ["/path"]}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return bad('body must be a JSON object, e.g. {"urls": ["/path"]}');
  const out: PurgeRequest = { urls: [], prefixes: [], tags: [], all: false, soft: false };
  for (const [name, value] of Object.entries(doc)) {
    // Own fields only: "constructor", "toString" or "__proto__" would otherwise be
    // found on Object.prototype and accepted ("__proto__" even set out's prototype).
    const kind = Object.hasOwn(FIELDS, name) ? FIELDS[name as keyof typeof FIELDS] : undefined;
    if (kind === undefined) return bad(`unknown field ${JSON.stringify(name)} (expected ${FIELD_NAMES})`);
    if (kind === 'boolean') {
      if (typeof value !== 'boolean') return bad(`field "${name}" must be true or false, not ${describe(value)}`);
      out[name as 'all' | 'soft'] = value;
      continue;
    }
    if (!Array.isArray(value)) return bad(`field "${name}" must be an array of strings, not ${describe(value)}`);
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (typeof v !== 'string' || v === '') return bad(`${name}[${i}] must be a non-empty string, not ${describe(v)}`);
    }
    if (name === 'tags') {
      for (let i = 0; i < value.length; i++) {
        const problem = tagProblem(value[i] as string);
        if (problem) return bad(`tags[${i}]: ${JSON.stringify((value[i] as string).slice(0, 200))} ${problem}, so it can match no entry`);
      }
    }
    out[name as 'urls' | 'prefixes' | 'tags'] = value as string[];
  }
  if (!out.all && out.urls.length + out.prefixes.length + out.tags.length === 0) {
    return bad('nothing to purge: give "urls", "prefixes", "tags" or "all": true');
  }
  return out;
}

/**
 * Why `tag` is none an origin's field could give (cache/tags.ts: Surrogate-Key splits
 * at spaces and commas, Cache-Tag at commas, each tag trimmed), or undefined. A space
 * inside a tag is possible (`Cache-Tag: a b` tags "a b"); at either end, never.
 */
function tagProblem(tag: string): string | undefined {
  if (tag.includes(',')) return 'holds a comma (Surrogate-Key and Cache-Tag split tags at commas: give each tag apart)';
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(tag)) return 'holds a control character';
  if (/^[ \t]|[ \t]$/.test(tag)) return 'starts or ends with whitespace (tags are trimmed)';
  return undefined;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return v === '' ? 'an empty string' : 'a string';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

