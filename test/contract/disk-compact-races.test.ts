// Index compaction racing what the tier does meanwhile, on real files and the real
// writer thread: hits that move records in the LRU order, lines appended while the
// compaction starts, and a purge whose background walk has not reached a record yet
// when the compaction passes it and a relocation later moves its body.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { urlOfKey } from '../../src/cache/key.js';
import { compactIndex } from '../../src/store/disk/compaction.js';
import { INDEX_FILE } from '../../src/store/disk/layout.js';
import { DiskTier } from '../../src/store/disk/tier.js';
import type { EntryMeta } from '../../src/store/types.js';
import { makeMeta, selector } from './store.contract.js';
import { capturingLogger, keysBySegment, namesIn, putBodies, quiet, silent, waitFor, withDir } from './disk-helpers.js';

const KiB = 1024;

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

  test('a record a purge has not reached yet is not relocated with an offset into the old index: after a restart every entry reads back its own body, the purged one stays purged', async () => {
    await withDir(async (dir) => {
      const cap = capturingLogger();
      // 1 MiB budget: 64 KiB segments, 16 bodies of 4000 bytes each.
      const open = () => DiskTier.open({ dir, maxBytes: 1024 * KiB, logger: cap.logger });
      let disk = await open();
      const bodies = await putBodies(disk, Array.from({ length: 64 }, (_, i) => urlMeta(`s/${i}`)), 4000);
      const bySegment = keysBySegment(disk.records);
      const segment = [...bySegment.keys()][1]!;
      const inSegment = bySegment.get(segment)!;
      const banned = inSegment[0]!;
      // A hard purge of one key whose background walk waits (as it waits on the journal's
      // append in purge()): until released, the record is in RAM, purged but not removed.
      let release!: () => void;
      const walkAfter = new Promise<void>((r) => (release = r));
      disk.bans.add(selector({ primaryKeys: [banned] }), undefined, undefined, walkAfter);
      try {
        await compactIndex(disk);
        // Its segment made mostly dead: its live bodies (the purged one's too, unless
        // the purge applies) are copied out and the segment removed.
        for (const k of inSegment.slice(1, 12)) {
          assert.ok(await disk.delete(k));
          bodies.delete(k);
        }
        await waitFor(`seg-${segment} relocated and removed`, async () => {
          await disk.queue.idle();
          return !(await namesIn(dir, 'segments')).includes(`seg-${segment}`);
        });
      } finally {
        release();
      }
      bodies.delete(banned);
      await disk.flush();
      assert.equal(disk.has(banned), false);
      await disk.close();

      disk = await open();
      assert.equal(cap.has('warn', /unreadable index lines/), false, 'no fragment line in the index');
      assert.equal(disk.has(banned), false, 'the purged key stays purged');
      assert.deepEqual([...disk.records.keys()].sort(), [...bodies.keys()].sort(), 'every live entry back, no deleted one');
      for (const [k, b] of bodies) assert.ok((await disk.readVerified(k))?.equals(b), `${k} reads back its own body`);
      assert.equal(disk.stats().corrupt, 0);
      await disk.close();
    });
  });
});
