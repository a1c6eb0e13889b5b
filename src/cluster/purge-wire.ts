// A purge as it travels between nodes (fan-out body, Redis Stream entry): the
// store selector itself, so every node purges exactly what the accepting node
// did, and the soft-purge instant. Parsing is strict: a peer's body is still input.

import { emptySelector } from '../store/purge/purge-match.js';
import type { PurgeSelector } from '../store/types.js';

export interface WirePurge {
  /** Unique per accepting node: "<node id>:<sequence or stream id>". */
  id: string;
  /** The node that accepted it. */
  from: string;
  selector: PurgeSelector;
  /** Present for a soft purge: the instant the entries became stale. */
  softAtMs?: number;
}

const LISTS = ['primaryKeys', 'paths', 'urlPrefixes', 'pathPrefixes', 'tags'] as const;

/** A WirePurge from untrusted JSON text, or a message saying what is wrong. */
export function parseWirePurge(text: string): WirePurge | string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  return wirePurgeOf(doc);
}

/** A WirePurge from an untrusted value already parsed (a line of a file), or a message saying what is wrong. */
export function wirePurgeOf(doc: unknown): WirePurge | string {
  if (doc === null || typeof doc !== 'object') return 'not an object';
  const d = doc as Record<string, unknown>;
  if (typeof d['id'] !== 'string' || typeof d['from'] !== 'string') return 'id and from must be strings';
  const s = d['selector'] as Record<string, unknown> | null | undefined;
  if (s === null || typeof s !== 'object') return 'selector must be an object';
  const selector = emptySelector();
  for (const f of LISTS) {
    const v = s[f];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return `selector.${f} must be a list of strings`;
    selector[f] = v as string[];
  }
  if (typeof s['all'] !== 'boolean') return 'selector.all must be true or false';
  selector.all = s['all'];
  const soft = d['softAtMs'];
  if (soft !== undefined && typeof soft !== 'number') return 'softAtMs must be a number';
  return { id: d['id'], from: d['from'], selector, ...(soft === undefined ? {} : { softAtMs: soft }) };
}
