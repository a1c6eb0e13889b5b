// Rendezvous (highest random weight) hashing: every node computes, for a primary
// key, a score per member and ranks the members by it. The first is the owner;
// the rest are the order to fall back in. Removing a member moves only its own
// keys (to each key's next choice), and its return moves exactly those back.
// Pure: no I/O, no state.

import { createHash } from 'node:crypto';

/** A 52-bit score of (member, key): MD5 is fast here and its spread is all that matters. */
export function score(member: string, key: string): number {
  const d = createHash('md5').update(member).update('\n').update(key).digest();
  return d.readUIntBE(0, 6) * 16 + (d[6]! >> 4);
}

/** Members ranked for `key`, highest score first (ties broken by name, so every node agrees). */
export function rank<M extends { id: string }>(key: string, members: readonly M[]): M[] {
  const scored = members.map((m) => ({ m, s: score(m.id, key) }));
  scored.sort((a, b) => b.s - a.s || (a.m.id < b.m.id ? -1 : a.m.id > b.m.id ? 1 : 0));
  return scored.map((x) => x.m);
}
