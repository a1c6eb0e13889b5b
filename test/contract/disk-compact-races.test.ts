// Index compaction racing what the tier does meanwhile, on real files and the real
// writer thread: hits that move records in the LRU order, lines appended while the
// compaction starts.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { urlOfKey } from '../../src/cache/key.js';
import { compactIndex } from '../../src/store/disk/compaction.js';
import { INDEX_FILE } from '../../src/store/disk/layout.js';
import { DiskTier } from '../../src/store/disk/tier.js';
import type { EntryMeta } from '../../src/store/types.js';
import { makeMeta } from './store.contract.js';
import { silent, waitFor, withDir } from './disk-helpers.js';

/** Metadata as the pipeline stores it (key = primary key = "GET " + URL): compact records, copied by offset when compacted. */
function urlMeta(name: string): EntryMeta {
  const key = `GET http://media.example/${name}`;
  return makeMeta(key, { primaryKey: key, url: urlOfKey(key), headers: { 'content-type': 'video/mp2t' }, tags: [] });
}

/** How many lines of the index file name each key. */
async function linesPerKey(dir: string): Promise<Map<string, number>> {
  const n = new Map<string, number>();
  for (const line of (await readFile(join(dir, INDEX_FILE), 'utf8')).split('\n')) {
    const k = /^\{"k":("(?:[^"\\]|\\.)*")/.exec(line)?.[1];
    if (k !== undefined) n.set(JSON.parse(k) as string, (n.get(JSON.parse(k) as string) ?? 0) + 1);
  }
  return n;
}

const turn = () => new Promise<void>((r) => setImmediate(r));

/** Every write landed and no compaction running (one may start as the last writes land: flush() does not wait for it). */
async function quiet(disk: DiskTier): Promise<void> {
  await waitFor('writes landed, no compaction running', async () => {
    await disk.flush();
    return !disk.compacting;
  });
}

describe('disk tier: compaction racing the tier', () => {
  test('records hit while a compaction runs are written once each, and the compaction ends', async () => {
    await withDir(async (dir) => {
      const disk = await DiskTier.open({ dir, maxBytes: 1 << 30, logger: silent, writeQueueMaxWrites: 10_000 });
      // Three slices of the compaction (1,000 lines each): turns of the event loop between them.
      const N = 3_000;
      const keys: string[] = [];
      for (let i = 0; i < N; i++) {
        const m = urlMeta(`k/${i}`);
        keys.push(m.key);
        void disk.putWhole(m, Buffer.from(`body ${i}`));
      }
      await quiet(disk);
      assert.equal(disk.stats().items, N, 'all stored');
      const compaction = compactIndex(disk);
      // Every turn while it runs: hits on records it may have passed already, and a write,
      // which brings the LRU order up to date (the hit records move to its young end).
      let writes = 0;
      for (let j = 0; disk.compacting; j++) {
        for (let i = 0; i < 200; i++) disk.hit(keys[(j * 200 + i) % N]!);
        await disk.putWhole(urlMeta(`w/${writes++ % 20}`), Buffer.from('w'));
        await turn();
      }
      await compaction;
      await quiet(disk);
      const lines = await linesPerKey(dir);
      const twice = keys.filter((k) => lines.get(k) !== 1);
      assert.deepEqual(twice.slice(0, 5), [], `records hit during the compaction have one line each (${twice.length} do not)`);
      assert.ok(writes > 0, 'writes ran beside the compaction');
      await disk.close();
    });
  });

  test('lines queued while the compaction starts are counted in the index size it leaves', async () => {
    await withDir(async (dir) => {
      const disk = await DiskTier.open({ dir, maxBytes: 1 << 30, logger: silent, writeQueueMaxWrites: 10_000 });
      const keys: string[] = [];
      for (let i = 0; i < 1_000; i++) {
        const m = urlMeta(`k/${i}`);
        keys.push(m.key);
        void disk.putWhole(m, Buffer.from(`body ${i}`));
      }
      await quiet(disk);
      const size = async () => (await stat(join(dir, INDEX_FILE))).size;
      assert.equal(disk.stats().indexBytes, await size(), 'counted exactly before');
      const compaction = compactIndex(disk);
      // Queued in the same turn, after compact-begin and before its answer: they go to both files.
      const deletes = keys.slice(0, 300).map((k) => disk.delete(k));
      await Promise.all([compaction, ...deletes]);
      await quiet(disk);
      assert.equal(disk.stats().indexBytes, await size(), 'the index size counted is the file\'s');
      await disk.close();
    });
  });
});
