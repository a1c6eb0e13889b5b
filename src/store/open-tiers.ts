// The node's two tiers, opened and joined as one store: memory over disk, the disk
// tier serving at once while its index loads (CACHING.md, Start-up).

import type { Logger } from 'pino';
import { DiskTier } from './disk/tier.js';
import { MemoryTier } from './memory/memory.js';
import { TieredStore } from './tiered.js';
import type { ExpireFn } from './types.js';
import { UnservedJournals } from './purge/unserved-journals.js';

/** What the tiers are sized and placed by (the cache settings: config cache.*). */
export interface TierSettings {
  dir: string;
  memoryMaxBytes: number;
  memoryMaxObjectBytes: number;
  diskMaxBytes: number;
  diskWriteQueueMaxWrites: number;
  diskWriteQueueMaxBytes: number;
}

/** `unservedDirs`: cache directories nobody serves now (worker directories left unused), kept purged (unserved-journals.ts). */
export async function openTiers(cache: TierSettings, expire: ExpireFn, logger: Logger, unservedDirs: readonly string[] = []): Promise<{ disk: DiskTier; store: TieredStore }> {
  const memory = new MemoryTier({ maxBytes: cache.memoryMaxBytes, maxObjectBytes: cache.memoryMaxObjectBytes, expire });
  const disk = await DiskTier.open({
    dir: cache.dir,
    maxBytes: cache.diskMaxBytes,
    logger,
    inUse: (key) => memory.has(key),
    expire,
    writeQueueMaxWrites: cache.diskWriteQueueMaxWrites,
    writeQueueMaxBytes: cache.diskWriteQueueMaxBytes,
    // Serve at once; a request for an entry not loaded yet is a miss (CACHING.md, Start-up).
    loadInBackground: true,
    ...(unservedDirs.length > 0 ? { unserved: new UnservedJournals(unservedDirs) } : {}),
  });
  return { disk, store: new TieredStore(memory, disk, logger) };
}
