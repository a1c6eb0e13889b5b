// The disk tier's vocabulary: its options, what it keeps per entry, its figures.

import type { Logger } from 'pino';
import type { EntryMeta, ExpireFn, TierStats, WriteOptions } from '../types.js';
import type { WriteQueueStats } from './write-queue.js';

export interface DiskTierOptions {
  dir: string;
  maxBytes: number;
  logger: Logger;
  /**
   * Entries the tier above is serving right now (the memory tier holds them): the
   * disk's LRU passes over them while anything else can go, so a hot entry is not
   * lost from disk (and so from the next start) because memory answered its hits.
   */
  inUse?: (key: string) => boolean;
  /** How a soft purge makes an entry stale (cache policy). Without it, soft purges journalled earlier are applied as hard ones. */
  expire?: ExpireFn;
  /** Body writes queued at once (beyond: shed). */
  writeQueueMaxWrites?: number;
  /** Body bytes queued at once (beyond: shed). */
  writeQueueMaxBytes?: number;
  /** Serve at once and load the index beside the requests (load.ts). */
  loadInBackground?: boolean;
}

export interface DiskRecord {
  meta: EntryMeta;
  /** Newest purge ban this record was checked against (purge-bans.ts). */
  bansChecked?: number;
  integrity: string;
  size: number;
  /** Set for a small body in a segment file (segments.ts); absent for a blob file of its own. */
  segment?: number;
  off?: number;
  /**
   * Its bytes were hashed by this process (written by it, or read whole and checked).
   * Later reads are length-checked only; a restart forgets it, so a body is verified
   * again before any of it is served, ranges included (file-body.ts).
   */
  verified?: boolean;
  /** When its line was written (wall clock ms): purge journal records apply to older lines. */
  time: number;
  /** Bytes of its line in the index. */
  lineBytes: number;
}

export interface DiskWriteOptions extends WriteOptions {
  /**
   * Asked when the write lands: once false (the key was deleted, or a newer body
   * committed above this tier while this one was landing), the write lands nowhere
   * and leaves no older record for the key behind.
   */
  wanted?: () => boolean;
}

export interface DiskTierStats extends TierStats, WriteQueueStats {
  /** Read errors that were not the data's fault (EMFILE, EIO…), since start. */
  ioErrors: number;
  /** Entries removed because their blob failed its check or was missing, since start. */
  corrupt: number;
  /** Bytes of segment files no record refers to any more, until reclaimed (included in bytes). */
  deadBytes: number;
  /** Bytes of the index file (dead lines included until the next compaction). */
  indexBytes: number;
  /** The index is still loading (items and bytes cover what is loaded). */
  loading: boolean;
}

