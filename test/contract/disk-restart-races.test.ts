// Restarts after the disk tier's background work raced a newer state of a key, on real
// files and the real writer thread. The index is "the later line for a key wins"
// (index-log.ts): a line that carries an older state of a key and lands after the
// newer one brings the older state back at the next start. The process is stopped
// (close) once every write has landed: what a kill -9 at that point leaves is the same
// files, since each line is appended in the order the writer ran them.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { urlOfKey } from '../../src/cache/key.js';
import { compactIndex } from '../../src/store/disk/compaction.js';
import { DiskTier } from '../../src/store/disk/tier.js';
import type { Op, OpResult } from '../../src/store/disk/write-ops.js';
import type { EntryMeta } from '../../src/store/types.js';
import { makeMeta, selector, testExpire } from './store.contract.js';
import { keysBySegment, namesIn, putBodies, quiet, silent, waitFor, withDir } from './disk-helpers.js';

const KiB = 1024;

/** Metadata as the pipeline stores it (key = primary key = "GET " + URL): compact records, their metadata on disk only. */
function urlMeta(name: string): EntryMeta {
  const key = `GET http://races.example/${name}`;
  return makeMeta(key, { primaryKey: key, url: urlOfKey(key), tags: [] });
}

/** 1 MiB budget: 64 KiB segments, 16 bodies of 4000 bytes each. */
const open = (dir: string) => DiskTier.open({ dir, maxBytes: 1024 * KiB, logger: silent, expire: testExpire });

/**
 * Run `then` once, right after the first op `matching` is queued (`when: 'queued'`: it goes
 * to the writer after that op), or once its result is back and before the tier hears of it
 * (`'answered'`: the writer ran the op, and runs what `then` queues before anything the tier
 * queues on hearing the result).
 */
function afterOp(disk: DiskTier, matching: (op: Op) => boolean, when: 'queued' | 'answered', then: () => void): { seen: () => boolean } {
  const q = disk.queue as unknown as { op(op: Op): Promise<OpResult> };
  const original = q.op.bind(q);
  let seen = false;
  q.op = (op) => {
    const r = original(op);
    if (seen || !matching(op)) return r;
    seen = true;
    if (when === 'queued') {
      then();
      return r;
    }
    return r.then((result) => {
      then();
      return result;
    });
  };
  return { seen: () => seen };
}

describe('disk tier: background work racing a newer state of a key, then a restart', () => {
  test('a relocation whose copy of a body is done while a newer body of its key is landing: after a restart the newer body is served', async () => {
    await withDir(async (dir) => {
      let disk = await open(dir);
      const bodies = await putBodies(disk, Array.from({ length: 48 }, (_, i) => urlMeta(`s/${i}`)), 4000);
      const bySegment = keysBySegment(disk.records);
      const segment = [...bySegment.keys()][0]!;
      const inSegment = bySegment.get(segment)!;
      const rewritten = inSegment.at(-1)!;
      const newer = randomBytes(4000);
      let landed: Promise<boolean> | undefined;
      // The newer body is queued once the writer has copied the older one, before the tier
      // hears where the copy went: its line lands before anything the tier writes then.
      const hook = afterOp(disk, (op) => op.t === 'relocate' && op.from === segment, 'answered', () => {
        landed = disk.putWhole(urlMeta(rewritten.slice('GET http://races.example/'.length)), newer);
      });
      // Its segment made mostly dead: its live bodies are copied out.
      for (const k of inSegment.slice(0, 12)) {
        assert.ok(await disk.delete(k));
        bodies.delete(k);
      }
      await waitFor('the segment relocated', () => hook.seen());
      assert.ok(await landed!, 'the newer body landed');
      bodies.set(rewritten, newer);
      await waitFor(`seg-${segment} removed`, async () => {
        await quiet(disk);
        return !(await namesIn(dir, 'segments')).includes(`seg-${segment}`);
      });
      assert.ok((await disk.readVerified(rewritten))?.equals(newer), 'the newer body before the restart');
      await disk.close();

      disk = await open(dir);
      assert.deepEqual([...disk.records.keys()].sort(), [...bodies.keys()].sort(), 'every live entry back, no deleted one');
      assert.ok((await disk.readVerified(rewritten))?.equals(newer), 'the newer body after the restart, not the relocated older one');
      for (const [k, b] of bodies) assert.ok((await disk.readVerified(k))?.equals(b), `${k} reads back its own body`);
      await disk.close();
    });
  });

  test('an index compaction whose snapshot passes a key while a newer body of it is landing: after a restart the newer body is served', async () => {
    await withDir(async (dir) => {
      let disk = await open(dir);
      const bodies = await putBodies(disk, Array.from({ length: 8 }, (_, i) => urlMeta(`c/${i}`)), 2000);
      const rewritten = urlMeta('c/3');
      const newer = randomBytes(2000);
      let landed: Promise<boolean> | undefined;
      // Queued right after the compaction began: its line goes to both files, before the
      // snapshot's lines (built once the beginning is answered, the older record still current).
      afterOp(disk, (op) => op.t === 'compact-begin', 'queued', () => {
        landed = disk.putWhole({ ...rewritten }, newer);
      });
      await compactIndex(disk);
      assert.ok(await landed!, 'the newer body landed');
      bodies.set(rewritten.key, newer);
      await quiet(disk);
      assert.ok((await disk.readVerified(rewritten.key))?.equals(newer), 'the newer body before the restart');
      await disk.close();

      disk = await open(dir);
      assert.ok((await disk.readVerified(rewritten.key))?.equals(newer), 'the newer body after the restart, not the older one the compaction copied');
      for (const [k, b] of bodies) assert.ok((await disk.readVerified(k))?.equals(b), `${k} reads back its own body`);
      await disk.close();
    });
  });

  test('a soft purge that reaches a record while a metadata update of it reads its line: the entry stays stale, also after a restart', async () => {
    await withDir(async (dir) => {
      const meta = urlMeta('soft.bin');
      let disk = await open(dir);
      assert.ok(await disk.putWhole({ ...meta }, randomBytes(3000)));
      await quiet(disk);
      await disk.close();
      // A new start: nothing of the record's metadata is in RAM, so the update reads its line.
      disk = await open(dir);
      const stored = (await disk.get(meta.key))!;
      disk.lines.cached.clear();
      // A 304's refresh (begun before the purge: the tiered store let it through), then the soft purge.
      const refreshed: EntryMeta = { ...stored.meta, responseTimeMs: stored.meta.responseTimeMs + 60_000, requestTimeMs: stored.meta.requestTimeMs + 60_000 };
      const update = disk.update(refreshed);
      const purged = disk.purging.ban(selector({ primaryKeys: [meta.key] }), { softAtMs: Date.now() });
      await Promise.all([update, purged]);
      await quiet(disk);
      const during = await disk.readMeta(meta.key);
      assert.match(during?.cacheControl ?? '', /soft-purged-at=/, 'stale after the purge');
      await disk.close();

      disk = await open(dir);
      const after = await disk.readMeta(meta.key);
      assert.ok(after, 'still stored');
      assert.match(after.cacheControl, /soft-purged-at=/, 'still stale after the restart, not the refreshed metadata the purge came after');
      await disk.close();
    });
  });
});

describe('disk tier: a soft purge of a body still landing, then a restart', () => {
  test('the body lands stale and stays stale after its journal record retired', async () => {
    await withDir(async (dir) => {
      const meta = urlMeta('landing-soft.bin');
      let disk = await open(dir);
      // Queued, not landed: the tier has no record of it yet when the purge is made.
      const landed = disk.putWhole({ ...meta }, randomBytes(3000));
      assert.equal(disk.holds(meta.key), false);
      await disk.purging.ban(selector({ primaryKeys: [meta.key] }), { softAtMs: Date.now() });
      assert.ok(await landed, 'a soft purge keeps the body');
      await quiet(disk);
      assert.match((await disk.readMeta(meta.key))?.cacheControl ?? '', /soft-purged-at=/, 'stale once landed');
      await disk.close();

      disk = await open(dir);
      const after = await disk.readMeta(meta.key);
      assert.ok(after, 'still stored');
      assert.match(after.cacheControl, /soft-purged-at=/, 'still stale after the restart');
      await disk.close();
    });
  });
});
