// The order of a removal on its way to the writer thread, which a kill -9 can cut
// anywhere (found by bench/crash-soak.ts: after a restart an entry was served from an
// index line whose blob file was gone — "corrupted or missing blob removed" — and its
// client's connection cut). The writer thread runs the queue in order and writes the
// lines queued before an op ahead of it (writer-thread.ts), so "the removal line is
// queued before the unlink" is exactly "no crash leaves a line naming a removed blob".

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { urlOfKey } from '../../src/cache/key.js';
import { blobPath } from '../../src/store/disk/layout.js';
import { DiskTier } from '../../src/store/disk/tier.js';
import type { OpResult } from '../../src/store/disk/write-ops.js';
import type { EntryMeta } from '../../src/store/types.js';
import { makeMeta } from './store.contract.js';
import { silent, withDir } from './disk-helpers.js';

const MiB = 1024 * 1024;

function urlMeta(path: string): EntryMeta {
  const key = `GET http://crash.example/${path}`;
  return makeMeta(key, { primaryKey: key, url: urlOfKey(key), tags: [] });
}

/** What the tier queues for the writer: removal lines and blob unlinks, in order. */
function watchQueue(disk: DiskTier): string[] {
  const seen: string[] = [];
  const q = disk.queue as unknown as { line(text: string): Promise<OpResult>; unlink(integrity: string, still: () => boolean): Promise<OpResult> };
  const line = q.line.bind(q);
  const unlink = q.unlink.bind(q);
  q.line = (text) => {
    const rec = JSON.parse(text) as { k: string; d?: number };
    if (rec.d) seen.push(`removal ${rec.k}`);
    return line(text);
  };
  q.unlink = (integrity, still) => {
    seen.push(`unlink ${integrity}`);
    return unlink(integrity, still);
  };
  return seen;
}

/** Every unlink of `integrity` comes after the removal line of `key`. */
function removalFirst(seen: string[], key: string, integrity: string): void {
  const removal = seen.indexOf(`removal ${key}`);
  const unlink = seen.indexOf(`unlink ${integrity}`);
  assert.ok(unlink >= 0, `the blob of ${key} is removed (queued: ${JSON.stringify(seen)})`);
  assert.ok(removal >= 0 && removal < unlink, `the removal line of ${key} is queued before its blob's unlink: ${JSON.stringify(seen)}`);
}

describe('disk tier: a removal is queued line first, body second', () => {
  test('a delete: the removal line goes to the writer before the blob is unlinked', async () => {
    await withDir(async (dir) => {
      const disk = await DiskTier.open({ dir, maxBytes: 64 * MiB, logger: silent });
      const meta = urlMeta('deleted.bin');
      assert.ok(await disk.putWhole({ ...meta }, randomBytes(2 * MiB)));
      await disk.flush();
      const integrity = disk.records.get(meta.key)!.integrity;
      const seen = watchQueue(disk);
      assert.equal(await disk.delete(meta.key), true);
      await disk.flush();
      removalFirst(seen, meta.key, integrity);
      assert.equal(existsSync(blobPath(dir, integrity)), false);
      await disk.close();
    });
  });

  test('an eviction: the evicted entry’s removal line goes to the writer before its blob is unlinked', async () => {
    await withDir(async (dir) => {
      const disk = await DiskTier.open({ dir, maxBytes: 8 * MiB, logger: silent });
      const first = urlMeta('first.bin');
      assert.ok(await disk.putWhole({ ...first }, randomBytes(3 * MiB)));
      await disk.flush();
      const integrity = disk.records.get(first.key)!.integrity;
      const seen = watchQueue(disk);
      for (let i = 0; i < 3 && disk.holds(first.key); i++) await disk.putWhole(urlMeta(`next-${i}.bin`), randomBytes(3 * MiB));
      await disk.flush();
      assert.equal(disk.holds(first.key), false, 'evicted');
      removalFirst(seen, first.key, integrity);
      await disk.close();
    });
  });
});
