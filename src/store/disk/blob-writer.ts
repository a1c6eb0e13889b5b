// A body streamed to the disk tier (one too large for the memory tier, or a tier
// used alone): written to a temp file with real backpressure and hashed as it
// arrives, then handed to the writer thread, which moves it into place as its blob
// and appends its record line. Smaller bodies held in memory skip this: the tier
// takes them whole (DiskTier.putWhole).
//
// Temp files count against the budget from the start: a body of announced size
// reserves it at open, one of unknown size as it grows, and least recently used
// entries are evicted as it does to make room (accounting only: their files are
// removed by the writer thread, nothing here waits on the disk). Room was measured
// against the queue alone, so a 3 MiB body streamed beside 3.4 MB stored took a 4 MiB
// tier to 6.5 MB until it landed. What eviction cannot free (temp files, the queue,
// the index's slack, past the budget) is shed, counted like a shed whole body: six
// concurrent 1 MiB bodies against a 4 MiB budget made the first landing evict the
// whole tier, itself included.

import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { BodyLengthError, type BodyWriter, type EntryMeta } from '../types.js';
import { unfreeableBytes } from './eviction.js';
import { lineParts } from './index-log.js';
import { allocated, TMP_DIR } from './layout.js';
import type { DiskTier, DiskWriteOptions } from './tier.js';

/** `onTmpBytes(delta)`: the budget's count of bytes in temp files. */
export function openBlobWriter(tier: DiskTier, meta: EntryMeta, opts: DiskWriteOptions, onTmpBytes: (delta: number) => void): BodyWriter {
  const maxBytes = tier.opts.maxBytes;
  const expected = meta.bodySize;
  const hash = createHash('sha256');
  const tmpPath = join(tier.opts.dir, TMP_DIR, `s-${process.pid}-${randomUUID()}`);
  let file: WriteStream | undefined;
  let fileError: Error | undefined;
  let size = 0;
  let counted = 0;
  // Why two flags: an explicit abort leaves any older entry under the key alone, but a
  // committed body over the budget is a newer response this tier cannot keep, so the
  // older one is dropped rather than left to stand in for it (also after a restart).
  let aborted = tier.isClosed;
  let tooLarge = expected > maxBytes;
  /** Refused for the temp files' budget: nothing is written; the older entry under the key goes at commit. */
  let shed = false;
  const announced = expected > 0 ? allocated(expected) : 0;
  let settle!: () => void;
  tier.background(new Promise<void>((r) => (settle = r)));

  /**
   * Hold `bytes` of temp space for this body (what it announced, or has written if more),
   * evicting to make room; false when the bytes eviction cannot free would pass the budget.
   */
  const reserve = (bytes: number): boolean => {
    if (bytes <= counted) return true;
    if (unfreeableBytes(tier) + bytes - counted >= maxBytes) return false;
    onTmpBytes(bytes - counted);
    counted = bytes;
    tier.evictOverBudget();
    return true;
  };
  const uncount = () => {
    onTmpBytes(-counted);
    counted = 0;
  };
  const openFile = (): WriteStream => {
    const f = createWriteStream(tmpPath, { flags: 'wx' });
    f.on('error', (err) => {
      fileError = err;
      tier.writeFailures.failed(err, { key: meta.key }, 'disk tier: a streamed body could not be written to its temp file; the answer is served, not stored on disk');
    });
    return f;
  };
  const removeTmp = () => void rm(tmpPath, { force: true }).catch(() => undefined);
  const discard = () => {
    uncount();
    // Removed once closed: a file whose open is still pending would be created after an rm made now.
    if (file && !file.closed) file.once('close', removeTmp).destroy();
    else removeTmp();
  };
  const shedIt = () => {
    shed = true;
    discard();
    tier.queue.countShed();
    tier.warnings.warn('shed', { writesShed: tier.queue.stats().writesShed, tmpBytes: tier.tmpBytes }, 'disk tier: temp files at the budget; streamed writes shed (answers still served)');
  };
  if (!aborted && !tooLarge && !reserve(announced)) shedIt();

  const commit = async (): Promise<void> => {
    if (aborted) return;
    if (expected >= 0 && size !== expected) {
      discard();
      throw new BodyLengthError('disk tier', size, expected);
    }
    if (tooLarge) {
      tier.landings.tooLarge(meta);
      return;
    }
    if (shed) {
      void tier.landings.dropOlder(meta.key, 'its newer body was shed', false);
      return;
    }
    file ??= openFile();
    file.end();
    await finished(file).catch((err: Error) => (fileError ??= err));
    if (fileError) {
      // A whole body that could not be written: the older one must not stand in for it.
      void tier.landings.dropOlder(meta.key, 'its newer body could not be written', true);
      throw fileError;
    }
    // Not wanted any more (a purge or delete cancelled it): queued now, its line would be
    // stamped after the purge's journal record, which then would not cover it, and a
    // crash before its removal line landed brought the purged body back.
    if (opts.wanted && !opts.wanted()) {
      discard();
      return;
    }
    meta.bodySize = size;
    const integrity = 'sha256-' + hash.digest('base64');
    const time = Date.now();
    const parts = lineParts(meta, time);
    const queued = tier.queue.adopt(tmpPath, integrity, size, parts);
    // The temp file becomes the blob (or is removed) in the writer: no longer a temp byte.
    void queued.then(uncount, uncount);
    const stored = await tier.landings.land(meta, queued, time, parts, opts.wanted);
    if (!stored) {
      const r = await queued;
      if (!r.ok) throw Object.assign(new Error(`disk tier: ${r.message}`), { code: r.code });
    }
  };

  return {
    write: async (chunk) => {
      if (aborted) return;
      // Cancelled while it streams (a purge, a delete, a newer response of the key): what it
      // wrote goes now, not when the origin's body ends — a large one held its temp space
      // (counted against the budget, so evicting live entries) for the rest of its transfer.
      if (opts.wanted && !opts.wanted()) {
        aborted = true;
        discard();
        return;
      }
      size += chunk.length;
      if (tooLarge || shed) return;
      if (size > maxBytes) {
        tooLarge = true;
        discard();
        return;
      }
      if (!reserve(Math.max(allocated(size), announced))) return shedIt();
      file ??= openFile();
      if (fileError) throw fileError;
      hash.update(chunk);
      if (!file.write(chunk)) await once(file, 'drain');
    },
    commit: async () => {
      try {
        await commit();
      } catch (err) {
        discard();
        throw err;
      } finally {
        settle();
      }
    },
    abort: () => {
      aborted = true;
      discard();
      settle();
    },
  };
}
