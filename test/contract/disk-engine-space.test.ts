// The disk engine's space promises, on real files and its real writer thread: a
// storm of writes against a small queue and budget is shed, not queued without
// bound; segment files are reclaimed; the index is compacted; what a crash or an
// older version left is collected at start; a blob stays readable by cacache.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import cacache from 'cacache';
import { blobPath, INDEX_COMPACTING, INDEX_FILE, INDEX_V1_COMPACTING, segmentPath } from '../../src/store/disk/layout.js';
import { DiskTier } from '../../src/store/disk/tier.js';
import { sha256Integrity } from '../../src/store/integrity.js';
import { MemoryTier } from '../../src/store/memory/memory.js';
import { TieredStore } from '../../src/store/tiered.js';
import type { EntryMeta } from '../../src/store/types.js';
import { JOURNAL_FILE } from '../../src/store/purge/purge-journal.js';
import { makeMeta, putEntry, readBody, selector } from './store.contract.js';
import { blobFiles, fileSize, keysBySegment, namesIn, silent, waitFor, withDir } from './disk-helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Every record the tier holds reads back as the body last stored under its key. */
async function allIntact(disk: DiskTier, bodies: Map<string, Buffer>): Promise<void> {
  for (const key of [...disk.records.keys()]) {
    const got = await disk.readVerified(key);
    assert.ok(got, `${key} readable`);
    assert.ok(got.equals(bodies.get(key)!), `${key} intact`);
  }
}

describe('disk engine: a storm against a tiny queue and budget', () => {
  test('putWhole without awaiting: writes are shed, the queue drains, the budget holds, what landed is intact (also after a restart)', async () => {
    await withDir(async (dir) => {
      const maxBytes = 512 * KiB;
      const open = () => DiskTier.open({ dir, maxBytes, logger: silent, writeQueueMaxWrites: 4 });
      let disk = await open();
      const bodies = new Map<string, Buffer>();
      const results: Promise<boolean>[] = [];
      for (let i = 0; i < 300; i++) {
        // Segment-sized (≤ maxBytes/64 = 8 KiB) and blob-sized bodies, mixed.
        const body = randomBytes(i % 3 === 0 ? 12_000 : 2000);
        bodies.set(`k${i}`, body);
        results.push(disk.putWhole(makeMeta(`k${i}`), body));
        assert.ok(disk.stats().writesQueued <= 4, 'never more queued than the bound');
      }
      const stored = (await Promise.all(results)).filter(Boolean).length;
      await disk.flush();
      const st = disk.stats();
      assert.ok(st.writesShed > 0, 'writes were shed');
      assert.equal(st.writesShed, 300 - stored, 'every refused write was shed (none failed)');
      assert.equal(st.writesQueued, 0);
      assert.equal(st.bytesQueued, 0);
      // RAM beside --memory-size: the writer thread's heap, as it reported with its last batch.
      assert.ok(st.writerHeapBytes > 0, `writerHeapBytes ${st.writerHeapBytes}`);
      assert.ok(st.items > 0 && st.items <= stored, `items ${st.items}, stored ${stored}`);
      assert.ok(st.bytes <= maxBytes, `bytes ${st.bytes} within ${maxBytes}`);
      await allIntact(disk, bodies);
      const blobs = [...disk.records.values()].filter((r) => r.segment === undefined).length;
      assert.equal((await blobFiles(dir)).length, blobs, 'one blob file per blob record, evicted ones removed');
      const items = st.items;
      await disk.close();

      disk = await open();
      assert.equal(disk.stats().items, items);
      assert.ok(disk.stats().bytes <= maxBytes);
      await allIntact(disk, bodies);
      await disk.close();
    });
  });

  test('tiered puts without awaiting: every answer is served from memory; the disk sheds, then holds only intact bodies', async () => {
    await withDir(async (dir) => {
      const maxBytes = 512 * KiB;
      const memory = new MemoryTier({ maxBytes: 16 * MiB, maxObjectBytes: MiB });
      const disk = await DiskTier.open({ dir, maxBytes, logger: silent, writeQueueMaxWrites: 4, inUse: (k) => memory.has(k) });
      const store = new TieredStore(memory, disk, silent);
      const bodies = new Map<string, Buffer>();
      const puts: Promise<void>[] = [];
      for (let i = 0; i < 200; i++) {
        const body = randomBytes(i % 4 === 0 ? 20_000 : 3000);
        bodies.set(`t${i}`, body);
        puts.push(putEntry(store, makeMeta(`t${i}`), body));
      }
      await Promise.all(puts);
      for (const [k, b] of bodies) assert.ok((await readBody((await store.get(k))!.body)).equals(b), `${k} served`);
      await store.flush();
      const st = disk.stats();
      assert.ok(st.writesShed > 0, 'the disk shed writes');
      assert.equal(st.writesQueued, 0);
      assert.ok(st.items > 0 && st.items < 200);
      assert.ok(st.bytes <= maxBytes, `bytes ${st.bytes} within ${maxBytes}`);
      await allIntact(disk, bodies);
      await store.close();
    });
  });
});

describe('disk engine: segment files are reclaimed', () => {
  test('many small bodies under a small budget: several segments; emptied ones removed, mostly dead ones relocated; survivors intact across restarts', async () => {
    await withDir(async (dir) => {
      // maxSegmentBytes = max(64 KiB, maxBytes/16) = 64 KiB: 16 bodies of 4000 bytes a segment.
      const maxBytes = MiB;
      const open = () => DiskTier.open({ dir, maxBytes, logger: silent });
      let disk = await open();
      const bodies = new Map<string, Buffer>();
      for (let i = 0; i < 64; i++) {
        const body = randomBytes(4000);
        bodies.set(`s${i}`, body);
        assert.ok(await disk.putWhole(makeMeta(`s${i}`), body), `s${i} stored`);
      }
      await disk.flush();
      assert.equal(disk.stats().items, 64);
      const bySegment = new Map<number, string[]>();
      for (const [k, r] of disk.records) {
        assert.notEqual(r.segment, undefined, `${k} in a segment`);
        bySegment.set(r.segment!, [...(bySegment.get(r.segment!) ?? []), k]);
      }
      const segs = [...bySegment.keys()].sort((a, b) => a - b);
      assert.ok(segs.length >= 4, `several segments (${segs.length})`);
      for (const s of segs) assert.ok((await fileSize(segmentPath(dir, s))) <= 64 * KiB, `segment ${s} within its size`);
      const [first, second, third] = segs as [number, number, number];

      // The first segment emptied; the second and third left with two bodies each.
      const keep = new Set([...bySegment.get(second)!.slice(0, 2), ...bySegment.get(third)!.slice(0, 2)]);
      const deadBefore = disk.stats().deadBytes;
      for (const s of [first, second, third]) for (const k of bySegment.get(s)!) if (!keep.has(k)) assert.ok(await disk.delete(k));
      const peakDead = disk.stats().deadBytes;
      assert.ok(peakDead >= deadBefore);
      await waitFor('the emptied and relocated segments removed', async () => {
        await disk.flush();
        const names = await namesIn(dir, 'segments');
        return ![first, second, third].some((s) => names.includes(`seg-${s}`));
      });
      for (const k of keep) assert.ok(![first, second, third].includes(disk.records.get(k)!.segment!), `${k} relocated`);
      assert.ok(disk.stats().deadBytes < 16 * 4000, `dead bytes reclaimed (${disk.stats().deadBytes})`);
      assert.equal(disk.stats().items, 64 - 48 + 4);
      await allIntact(disk, bodies);
      await disk.close();

      disk = await open();
      assert.equal(disk.stats().items, 20);
      await allIntact(disk, bodies);
      // After a restart, before any write: a segment emptied now is removed too.
      const last = disk.records.get(`s63`)!.segment!;
      const inLast = [...disk.records.values()].filter((r) => r.segment === last).map((r) => r.meta.key);
      for (const k of inLast) await disk.delete(k);
      await waitFor(`seg-${last} removed`, async () => {
        await disk.flush();
        return !(await namesIn(dir, 'segments')).includes(`seg-${last}`);
      });
      await allIntact(disk, bodies);
      await disk.close();
      disk = await open();
      assert.equal(disk.stats().items, 20 - inLast.length);
      await allIntact(disk, bodies);
      await disk.close();
    });
  });
});

describe('disk engine: segments a start-up load leaves dead', () => {
  test('a purge journalled before a crash: the segments of the entries it drops at start are reclaimed in that run, mostly dead ones relocated; survivors intact across restarts', async () => {
    await withDir(async (dir) => {
      // 64 KiB segments of 16 bodies of 4000 bytes.
      const open = () => DiskTier.open({ dir, maxBytes: MiB, logger: silent });
      let disk = await open();
      const bodies = new Map<string, Buffer>();
      for (let i = 0; i < 64; i++) {
        const body = randomBytes(4000);
        const key = `s${i}`;
        bodies.set(key, body);
        assert.ok(await disk.putWhole(makeMeta(key), body), `${key} stored`);
      }
      await disk.flush();
      const bySegment = keysBySegment(disk.records);
      const segs = [...bySegment.keys()];
      assert.ok(segs.length >= 4, `several segments (${segs.length})`);
      // Two bodies of the first segment survive the purge: it is left mostly dead.
      const keep = bySegment.get(segs[0]!)!.slice(0, 2);
      await disk.close();
      // The purge was acknowledged (its journal line fsynced), then the process died
      // before any removal line was written: the state a crash right after it leaves.
      const purged = [...bodies.keys()].filter((k) => !keep.includes(k));
      await writeFile(join(dir, JOURNAL_FILE), `${JSON.stringify({ id: 1, atMs: Date.now(), selector: selector({ primaryKeys: purged }) })}\n`);

      disk = await open();
      assert.equal(disk.stats().items, keep.length, 'the purge applied at start');
      await waitFor('the segments the purge emptied removed, the first one relocated', async () => {
        await disk.flush();
        const names = await namesIn(dir, 'segments');
        return !segs.some((s) => names.includes(`seg-${s}`));
      });
      assert.ok(disk.stats().deadBytes < 16 * 4000, `dead bytes reclaimed (${disk.stats().deadBytes})`);
      for (const k of keep) assert.ok((await disk.readVerified(k))!.equals(bodies.get(k)!), `${k} intact`);
      await disk.close();

      disk = await open();
      assert.deepEqual([...disk.records.keys()].sort(), [...keep].sort());
      for (const k of keep) assert.ok((await disk.readVerified(k))!.equals(bodies.get(k)!), `${k} intact after a restart`);
      await disk.close();
    });
  });

  test('the same with a purge of everything: every segment of the last run is removed at start and nothing counts as dead', async () => {
    await withDir(async (dir) => {
      const open = () => DiskTier.open({ dir, maxBytes: MiB, logger: silent });
      let disk = await open();
      for (let i = 0; i < 64; i++) assert.ok(await disk.putWhole(makeMeta(`s${i}`), randomBytes(4000)));
      await disk.close();
      const before = await namesIn(dir, 'segments');
      assert.ok(before.length >= 4, `several segments (${before.length})`);
      await writeFile(join(dir, JOURNAL_FILE), `${JSON.stringify({ id: 1, atMs: Date.now(), selector: selector({ all: true }) })}\n`);

      disk = await open();
      assert.equal(disk.stats().items, 0);
      // (The writer's new segment, opened at start, is not one of them.)
      await waitFor('every segment of the last run removed', async () => {
        await disk.flush();
        const names = await namesIn(dir, 'segments');
        return !before.some((n) => names.includes(n));
      });
      assert.equal(disk.stats().deadBytes, 0);
      await disk.close();
    });
  });
});

describe('disk engine: a long churn of small bodies', () => {
  test('dead segment bytes stay bounded and the bytes on disk stay within the budget (records removed while their segment is relocated do not keep the new one alive)', async () => {
    await withDir(async (dir) => {
      const maxBytes = 4 * 1024 * 1024;
      const disk = await DiskTier.open({ dir, maxBytes, logger: silent });
      const headers = { 'x-pad': 'y'.repeat(800) };
      let peakDead = 0;
      let peakBytes = 0;
      for (let i = 0; i < 8_000; i++) {
        const b = randomBytes(2048);
        void disk.putWhole(makeMeta(`k${i}`, { headers }), b);
        if (i % 200 === 199) {
          await disk.flush();
          const st = disk.stats();
          peakDead = Math.max(peakDead, st.deadBytes);
          peakBytes = Math.max(peakBytes, st.bytes);
        }
      }
      await disk.flush();
      const segmentBytes = disk.segments.maxSegmentBytes;
      // Many times the budget went through the tier; dead bytes stay under half the live
      // ones plus a few segments' worth, and the files on disk within the budget.
      assert.ok(peakDead <= maxBytes / 2 + 2 * segmentBytes, `peak dead bytes ${peakDead}`);
      assert.ok(peakBytes <= maxBytes, `peak bytes ${peakBytes} of ${maxBytes}`);
      assert.ok((await namesIn(dir, 'segments')).length <= Math.ceil(maxBytes / segmentBytes) + 2, 'segments removed as they empty');
      assert.ok(disk.stats().items > 200, `still holding entries (${disk.stats().items})`);
      await disk.close();
    });
  });
});

describe('disk engine: index compaction', () => {
  test('many updates and deletes: the index file stays bounded; a restart brings back the latest metadata, deleted keys stay deleted', async () => {
    await withDir(async (dir) => {
      const maxBytes = MiB; // compaction slack: maxBytes/16 = 64 KiB
      const open = () => DiskTier.open({ dir, maxBytes, logger: silent });
      let disk = await open();
      const keys = ['a', 'b', 'c', 'd', 'e'];
      const latest = new Map<string, EntryMeta>();
      for (const k of keys) {
        const m = makeMeta(k);
        await putEntry(disk, m, randomBytes(1000));
        latest.set(k, m);
      }
      let written = 0;
      const updateAll = async (n: number, alive: string[]) => {
        for (let i = 0; i < n; i++) {
          const k = alive[i % alive.length]!;
          const m = { ...disk.metaOf(k)!, headers: { ...disk.metaOf(k)!.headers, etag: `"${k}-${i}"` } };
          written += JSON.stringify(m).length;
          await disk.update(m);
          latest.set(k, m);
        }
      };
      await updateAll(1500, keys);
      await disk.delete('b');
      await disk.delete('d');
      const alive = ['a', 'c', 'e'];
      await updateAll(1500, alive);
      await disk.flush();
      const size = await fileSize(join(dir, INDEX_FILE));
      assert.ok(written > 1_000_000, `lines written: ${written}`);
      // At most twice the live lines plus the slack, and some lines in flight.
      assert.ok(size < 64 * KiB + 20 * KiB, `index file ${size} bytes, bounded`);
      assert.ok(size * 10 < written, 'well below what was written');
      await disk.close();

      disk = await open();
      assert.deepEqual([...disk.records.keys()].sort(), alive);
      for (const k of alive) assert.deepEqual(disk.metaOf(k)!.headers, latest.get(k)!.headers, `${k}: latest metadata`);
      for (const k of ['b', 'd']) assert.equal(await disk.get(k), undefined, `${k} stays deleted`);
      await disk.close();
    });
  });
});

describe('disk engine: start-up collection', () => {
  test('a temp file, cacache index-v5/, an interrupted compaction\'s file, an orphan blob and an unreferenced segment are removed; referenced blobs and segments stay', async () => {
    await withDir(async (dir) => {
      let disk = await DiskTier.open({ dir, maxBytes: 16 * MiB, logger: silent });
      const blob = randomBytes(400_000);
      const small = randomBytes(3000);
      await putEntry(disk, makeMeta('blob'), blob);
      assert.ok(await disk.putWhole(makeMeta('small'), small));
      const seg = disk.records.get('small')!.segment!;
      const kept = blobPath(dir, disk.records.get('blob')!.integrity);
      await disk.close();

      await writeFile(join(dir, 'tmp', 's-1-leftover'), randomBytes(5000));
      await mkdir(join(dir, 'index-v5', '3a', 'bc'), { recursive: true });
      await writeFile(join(dir, 'index-v5', '3a', 'bc', 'bucket'), 'cacache index bucket\n');
      const orphanBytes = randomBytes(7000);
      const orphan = blobPath(dir, sha256Integrity(orphanBytes));
      await mkdir(dirname(orphan), { recursive: true });
      await writeFile(orphan, orphanBytes);
      await writeFile(segmentPath(dir, seg + 7), randomBytes(9000));
      // A crash in the middle of a compaction: the partial rewrite of the index stays behind.
      await writeFile(join(dir, INDEX_COMPACTING), 'partial rewrite\n'.repeat(1000));
      await writeFile(join(dir, INDEX_V1_COMPACTING), 'partial rewrite\n');

      disk = await DiskTier.open({ dir, maxBytes: 16 * MiB, logger: silent });
      await disk.flush();
      assert.deepEqual(await namesIn(dir, 'tmp'), [], 'temp file removed');
      assert.equal(existsSync(join(dir, 'index-v5')), false, 'legacy index removed');
      assert.equal(existsSync(join(dir, INDEX_COMPACTING)), false, 'an interrupted compaction\'s file removed');
      assert.equal(existsSync(join(dir, INDEX_V1_COMPACTING)), false, 'an interrupted v1 compaction\'s file removed');
      assert.equal((await namesIn(dir, 'segments')).includes(`seg-${seg + 7}`), false, 'unreferenced segment removed');
      assert.ok((await namesIn(dir, 'segments')).includes(`seg-${seg}`), 'referenced segment kept');
      assert.equal(existsSync(orphan), false, 'orphan blob removed once flush() resolves');
      assert.deepEqual(await blobFiles(dir), [kept], 'the referenced blob kept');
      assert.ok((await disk.readVerified('blob'))!.equals(blob));
      assert.ok((await disk.readVerified('small'))!.equals(small));
      await disk.close();
    });
  });
});

describe('disk engine: blobs stay in cacache\'s content layout', () => {
  test('a blob Strata wrote, streamed or whole, is read by cacache.get.byDigest', async () => {
    await withDir(async (dir) => {
      const disk = await DiskTier.open({ dir, maxBytes: 16 * MiB, logger: silent });
      const streamed = randomBytes(700_000);
      const whole = randomBytes(500_000);
      await putEntry(disk, makeMeta('streamed'), streamed);
      assert.ok(await disk.putWhole(makeMeta('whole'), whole));
      for (const [k, b] of [['streamed', streamed], ['whole', whole]] as const) {
        const integrity = disk.records.get(k)!.integrity;
        assert.equal(integrity, sha256Integrity(b));
        const got = await cacache.get.byDigest(dir, integrity);
        assert.ok(Buffer.from(got).equals(b), `${k}: same bytes through cacache`);
        const parts: Buffer[] = [];
        for await (const c of cacache.get.stream.byDigest(dir, integrity)) parts.push(c);
        assert.ok(Buffer.concat(parts).equals(b), `${k}: same bytes through cacache's stream`);
      }
      await disk.close();
    });
  });
});

describe('disk engine: directories of removed blobs', () => {
  test('blobs written and removed (deleted, evicted): the directories their paths made go with them, the disk holds what the budget counts', async () => {
    await withDir(async (dir) => {
      // A small budget: blobs from 16 KiB (maxBytes/64), most evicted as more land.
      const disk = await DiskTier.open({ dir, maxBytes: MiB, logger: silent });
      for (let i = 0; i < 120; i++) await disk.putWhole(makeMeta(`b${i}`), randomBytes(40_000));
      for (const key of [...disk.records.keys()].slice(0, 5)) await disk.delete(key);
      await disk.flush();
      const blobs = await blobFiles(dir);
      assert.equal(blobs.length, disk.records.size);
      const dirs = (await readdir(join(dir, 'content-v2'), { recursive: true, withFileTypes: true })).filter((e) => e.isDirectory()).length;
      // content-v2/sha256, and for each blob its xx/ and xx/yy/ at most.
      assert.ok(dirs <= 1 + 2 * blobs.length, `${dirs} directories for ${blobs.length} blobs`);
      await disk.close();
    });
  });
});

describe('disk engine: a write queue bound above the disk budget', () => {
  test('a storm of whole bodies not awaited (the queue may hold more bytes than the disk budget): what lands is evicted to fit, the files on disk stay within the budget', async () => {
    await withDir(async (dir) => {
      const maxBytes = MiB;
      // The queue's default bounds (1024 writes, 64 MiB): far above a 1 MiB disk.
      const disk = await DiskTier.open({ dir, maxBytes, logger: silent });
      const puts: Promise<boolean>[] = [];
      for (let i = 0; i < 400; i++) puts.push(disk.putWhole(makeMeta(`s${i}`), randomBytes(i % 2 ? 40_000 : 5000)));
      // Files and directories come and go as the writer works: one gone meanwhile counts nothing.
      const filesBytes = async (path = dir): Promise<number> => {
        let bytes = 0;
        for (const e of await readdir(path, { withFileTypes: true }).catch(() => [])) {
          const child = join(path, e.name);
          bytes += e.isDirectory() ? await filesBytes(child) : await fileSize(child).catch(() => 0);
        }
        return bytes;
      };
      // Half of them landed (results come in queue order), the rest still queued: the storm is under way.
      await Promise.all(puts.slice(0, 200));
      const midStorm = await filesBytes();
      await Promise.all(puts);
      await disk.flush();
      assert.ok(midStorm <= maxBytes, `mid-storm: ${midStorm} bytes in files within ${maxBytes}`);
      assert.ok(disk.stats().bytes <= maxBytes, `counted ${disk.stats().bytes} within ${maxBytes}`);
      assert.ok((await filesBytes()) <= maxBytes, 'after the storm');
      await disk.close();
    });
  });
});
