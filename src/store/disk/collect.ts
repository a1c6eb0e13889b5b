// What a crash or an older version left in the disk tier's directory, collected:
// temp files (partial bodies) and interrupted index compactions at start, before any
// write begins; cacache's own index from before Strata kept its own; and, in the
// background, blobs no record refers to (a body written whole whose record line never followed).

import { opendir, rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CONTENT_DIR, INDEX_COMPACTING, INDEX_V1_COMPACTING, integrityOfPath, LEGACY_INDEX_DIR, TMP_DIR } from './layout.js';

/** Removes temp files and the legacy index. Runs before the tier writes anything. */
export async function collectLeftovers(dir: string, logger: Logger): Promise<void> {
  await mkdir(dir, { recursive: true });
  let tmpFiles = 0;
  try {
    for await (const e of await opendir(join(dir, TMP_DIR))) {
      await rm(join(dir, TMP_DIR, e.name), { recursive: true, force: true });
      tmpFiles++;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (tmpFiles) logger.info({ tmpFiles }, 'disk tier: partial bodies left by an earlier run removed');
  await mkdir(join(dir, TMP_DIR), { recursive: true });
  // Why: cacache's index of an earlier Strata version is no longer read, and counts against nothing.
  await rm(join(dir, LEGACY_INDEX_DIR), { recursive: true, force: true });
  // Compactions a crash interrupted: the index they were rewriting is still whole, and
  // their partial files counted against no budget (index-v1.log itself is converted at load).
  await rm(join(dir, INDEX_COMPACTING), { force: true });
  await rm(join(dir, INDEX_V1_COMPACTING), { force: true });
}

/**
 * Walk the blobs and remove those no record refers to. In the background, one
 * directory at a time; a removal is queued like any other and skipped if the blob
 * was written again meanwhile. Stops once `stopped()` (the tier is closing).
 */
export async function sweepOrphans(dir: string, referenced: (integrity: string) => boolean, unlink: (integrity: string) => Promise<unknown>, logger: Logger, stopped: () => boolean = () => false): Promise<number> {
  let removed = 0;
  const walk = async (path: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await opendir(path);
    } catch {
      return;
    }
    for await (const e of entries) {
      if (stopped()) return;
      const child = join(path, e.name);
      if (e.isDirectory() && depth < 3) await walk(child, depth + 1);
      else if (e.isFile() && depth === 3) {
        const integrity = integrityOfPath(dir, child);
        if (integrity && !referenced(integrity)) {
          removed++;
          await unlink(integrity);
        }
      }
    }
  };
  try {
    await walk(join(dir, CONTENT_DIR), 0);
    if (removed) logger.info({ removed }, 'disk tier: blobs no record refers to removed');
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'disk tier: orphan sweep failed');
  }
  return removed;
}
