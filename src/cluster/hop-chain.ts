// The Cache-Status (RFC 9211) and Via (RFC 9110 §7.6.3) chains of a peer's answer,
// cut at this node's own last member: what the response did after it last left this
// node. A copy passed back and forth between nodes (two nodes serving each other
// their stale copies while the origin is down, a handoff to a node that once held
// it) would otherwise be stored with the chain it came with and answered with one
// member more each time, until clients refuse the header block. Cut, a stored chain
// names each node at most once (its own never), so it is bounded by the number of
// caches on the way. Pure: no I/O.

import type { HeaderMap } from '../http/headers.js';

/**
 * The members of a list field, split at commas outside quoted strings (a Cache-Status
 * name may be an sf-string). A Via comment holding a comma is split in two: neither
 * piece reads as this node's element, so at worst a member is kept, never one dropped.
 */
function members(value: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 92 /* \ */ && quoted) i++;
    else if (c === 34 /* " */) quoted = !quoted;
    else if (c === 44 /* , */ && !quoted) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out.filter((m) => m !== '');
}

/** What follows the last member `isMine` names; the value itself when none does. */
function after(value: string, isMine: (member: string) => boolean): string | undefined {
  const list = members(value);
  let last = -1;
  for (let i = 0; i < list.length; i++) if (isMine(list[i]!)) last = i;
  if (last < 0) return value;
  const rest = list.slice(last + 1);
  return rest.length ? rest.join(', ') : undefined;
}

/**
 * Cut `headers`' Cache-Status after this node's last member (named `statusName`, as
 * cache/outcome.ts cacheStatusName writes it) and Via after its last element received
 * by `nodeId`, in place. A field left empty is removed.
 */
export function cutAtSelf(headers: HeaderMap, statusName: string, nodeId: string): void {
  const cs = headers['cache-status'];
  if (cs !== undefined) {
    const cut = after(cs, (m) => m.split(';', 1)[0]!.trim() === statusName);
    if (cut === undefined) delete headers['cache-status'];
    else headers['cache-status'] = cut;
  }
  const via = headers['via'];
  if (via !== undefined) {
    // "1.1 node-a" or "1.1 node-a (comment)": the received-by part is the second word.
    const cut = after(via, (m) => m.split(/\s+/)[1] === nodeId);
    if (cut === undefined) delete headers['via'];
    else headers['via'] = cut;
  }
}
