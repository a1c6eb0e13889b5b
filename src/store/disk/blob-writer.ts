// A body streamed to the disk tier (one too large for the memory tier, or a tier
// used alone): written to a temp file with real backpressure and hashed as it
// arrives, then handed to the writer thread, which moves it into place as its blob
// and appends its record line. Smaller bodies held in memory skip this: the tier
// takes them whole (DiskTier.putWhole).

import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { BodyLengthError, type BodyWriter, type EntryMeta } from '../types.js';
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
  let settle!: () => void;
  tier.background(new Promise<void>((r) => (settle = r)));

  const count = () => {
    const now = file ? allocated(size) : 0;
    onTmpBytes(now - counted);
    counted = now;
  };
  const uncount = () => {
    onTmpBytes(-counted);
    counted = 0;
  };
  const openFile = (): WriteStream => {
    const f = createWriteStream(tmpPath, { flags: 'wx' });
    f.on('error', (err) => {
      fileError = err;
    });
    return f;
  };
  const discard = () => {
    uncount();
    file?.destroy();
    void rm(tmpPath, { force: true }).catch(() => undefined);
  };

  const commit = async (): Promise<void> => {
    if (aborted) return;
    if (expected >= 0 && size !== expected) {
      discard();
      throw new BodyLengthError('disk tier', size, expected);
    }
    if (tooLarge) {
      tier.tooLarge(meta);
      return;
    }
    file ??= openFile();
    file.end();
    await finished(file);
    if (fileError) throw fileError;
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
      size += chunk.length;
      if (tooLarge) return;
      if (size > maxBytes) {
        tooLarge = true;
        discard();
        return;
      }
      file ??= openFile();
      if (fileError) throw fileError;
      hash.update(chunk);
      // Counted, but nothing is evicted for it until it is committed: a body that turns out
      // larger than the budget must not have emptied the tier on its way.
      count();
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
