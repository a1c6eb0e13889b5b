// Removals asked of the disk tier (a delete, an unsafe method's invalidation): each
// removal line is written (not fsynced) before the answer, so it survives a crash of
// the process; a write of the key still landing decides first (landing.ts).

import type { DiskTier } from './tier.js';

/**
 * Resolves once the removal line is written. Rejects (the error's code the writer's)
 * when it could not be: the entry would come back after a restart.
 */
export async function deleteFromDisk(tier: DiskTier, key: string): Promise<boolean> {
  // No record yet, but a write of the key landing (its record line may be on disk already): it
  // decides first — a write no longer wanted (its store cancelled it) writes the removal as it
  // lands (landing.ts), whose result this is — then a record it left is removed below.
  const landing = !tier.records.has(key) && tier.landings.pending(key) ? await tier.landings.settled(key) : undefined;
  const rec = tier.records.get(key);
  // No record: perhaps not loaded yet; its removal is written now and applied when it loads.
  const removal = rec ? tier.removeRecord(rec, 'deleted') : tier.loading && tier.appendRemoval(key);
  const r = (await removal) || landing;
  if (r && !r.ok) throw Object.assign(new Error(`disk tier: the removal of ${key} could not be written: ${r.message}`), { code: r.code });
  return rec !== undefined;
}

/** Every key of the URI of `primaryKey` (variants, keyed versions), loaded or not yet: how many were held. */
export async function invalidateOnDisk(tier: DiskTier, primaryKey: string): Promise<number> {
  tier.invalidateUnloaded(primaryKey);
  let n = 0;
  for (const k of tier.uriKeys(primaryKey)) if (await deleteFromDisk(tier, k)) n++;
  return n;
}
