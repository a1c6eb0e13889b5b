// Removals asked of the disk tier (a delete, an unsafe method's invalidation): each
// removal line is written (not fsynced) before the answer, so it survives a crash of
// the process; a write of the key still landing decides first (landing.ts).

import type { DiskTier } from './tier.js';
import type { DiskRecord } from './records.js';
import type { OpResult } from './write-ops.js';
import { removalLine } from './index-log.js';

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

/**
 * Append a removal line for `key`; undefined when a record is under the key (its line
 * supersedes). A newer write still landing decides (landing.ts settled()): its line
 * supersedes, or its failure writes the removal — whose result this is.
 */
export function appendRemovalLine(tier: DiskTier, key: string): Promise<OpResult> | undefined {
  if (tier.landings.pending(key)) return tier.landings.settled(key);
  if (tier.records.has(key)) return undefined;
  tier.loading?.deletedKeys.add(key);
  const appended = tier.lines.append(removalLine(key, Date.now()), { key });
  // Why here and in update(): compaction was considered only after a body landed, so
  // a run of revalidations (update) and deletes grew the index without bound, past the budget.
  tier.maybeCompact();
  return appended;
}

/** Forget a record and append its removal line: the line's result (the caller reports a failure). */
export function removeRecordLineFirst(tier: DiskTier, rec: DiskRecord, why: string): Promise<OpResult> {
  const detached = tier.detach(rec);
  tier.opts.logger.debug({ key: rec.key, why }, 'disk tier: entry removed');
  // Line first, body second (the writer writes lines queued before an unlink ahead of it):
  // a kill -9 between the two left a line naming a removed blob, served after the restart.
  const removed = appendRemovalLine(tier, rec.key) ?? Promise.resolve({ ok: true } as OpResult);
  if (detached) tier.releaseBody(rec);
  return removed;
}
