// What a disk hit keeps between hits (issue 15, "hit 16 KiB from disk"): parsed
// metadata of hot compact records (meta-cache.ts), open blob and segment files
// (read-handles.ts), and one shared read for concurrent whole reads of a record
// (reads.ts). None of them may serve what the tier no longer holds: an update, a soft
// or hard purge, a delete, a new body, a compaction or a damaged body each end what
// was kept. On real files and the real writer thread.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { urlOfKey } from '../../src/cache/key.js';
import { compactIndex } from '../../src/store/disk/compaction.js';
import { blobPath, INDEX_FILE, segmentPath } from '../../src/store/disk/layout.js';
import { MetaCache } from '../../src/store/disk/meta-cache.js';
import { DiskRecord } from '../../src/store/disk/records.js';
import { DiskTier } from '../../src/store/disk/tier.js';
import type { EntryMeta } from '../../src/store/types.js';
import { makeMeta, putEntry, readBody, selector, testExpire } from './store.contract.js';
import { flipByte, silent, withDir } from './disk-helpers.js';
import fs from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { ReadHandles } from '../../src/store/disk/read-handles.js';
import { READ_WHOLE_BYTES } from '../../src/store/disk/reads.js';

/** Bodies above maxBytes/64 (256 KiB here) get a blob file; smaller ones go to a segment. */
const maxBytes = 16 * 1024 * 1024;
const open = (dir: string) => DiskTier.open({ dir, maxBytes, logger: silent, expire: testExpire });

/** Metadata as the pipeline stores it (key = primary key = "GET " + URL): its record is compact. */
function urlMeta(path: string, opts: Partial<EntryMeta> = {}): EntryMeta {
  const key = `GET http://media.example/${path}`;
  return makeMeta(key, { primaryKey: key, url: urlOfKey(key), headers: { 'content-type': 'video/mp2t', etag: `"${path}"` }, tags: [], ...opts });
}

async function hit(disk: DiskTier, key: string): Promise<{ meta: EntryMeta; body: Buffer } | undefined> {
  const e = await disk.get(key);
  if (!e) return undefined;
  const whole = await disk.readVerified(key, e.meta);
  return { meta: e.meta, body: whole ?? (await readBody(e.body)) };
}

describe('disk hit: metadata of hot compact records is cached', () => {
  test('a hot record is served without its line; update, soft purge, purge, delete, a new body and a compaction each end the cached metadata', async () => {
    await withDir(async (dir) => {
      const disk = await open(dir);
      const keys: string[] = [];
      for (const name of ['a', 'b', 'c', 'd', 'e', 'f']) {
        const meta = urlMeta(`${name}.ts`);
        keys.push(meta.key);
        assert.ok(await disk.putWhole(meta, randomBytes(2000)));
      }
      await disk.flush();
      const [a, b, c, d, e, f] = keys as [string, string, string, string, string, string];
      for (const k of keys) assert.equal(disk.records.get(k)?.held, undefined, 'compact: metadata on disk only');

      // Cached: a's line damaged behind the tier's back is not read again.
      const first = (await hit(disk, a))!;
      const rec = disk.records.get(a)!;
      await flipByte(join(dir, INDEX_FILE), rec.lineOff + 2);
      const ioErrors = disk.stats().ioErrors;
      const again = (await hit(disk, a))!;
      assert.equal(again.meta, first.meta, 'the same parsed metadata, no read of the line');
      assert.equal(disk.stats().ioErrors, ioErrors);

      // A 304's refresh: the new metadata, while its line lands and after.
      const update = disk.update({ ...first.meta, headers: { ...first.meta.headers, etag: '"2"' } });
      assert.equal((await hit(disk, a))?.meta.headers['etag'], '"2"', 'held while its line lands');
      await update;
      await disk.flush();
      assert.equal(disk.records.get(a)?.held, undefined, 'compact again');
      assert.equal((await hit(disk, a))?.meta.headers['etag'], '"2"', 'read from the new line, not the cached one');

      for (const k of [b, c, d, e, f]) assert.ok(await hit(disk, k));
      const cachedBefore = disk.lines.cached.size;
      assert.ok(cachedBefore >= 6);

      assert.equal(await disk.purge(selector({ primaryKeys: [b] }), { softAtMs: 42 }), 1);
      assert.equal((await hit(disk, b))?.meta.cacheControl, 'soft-purged-at=42', 'soft purge: stale at once');
      assert.equal((await hit(disk, b))?.meta.cacheControl, 'soft-purged-at=42', 'and on the next hit');

      assert.equal(await disk.purge(selector({ primaryKeys: [c] })), 1);
      assert.equal(await disk.get(c), undefined, 'purged');
      assert.ok(await disk.delete(d));
      assert.equal(await disk.get(d), undefined, 'deleted');
      assert.equal(disk.lines.cached.size, cachedBefore - 2, "a removed record's cached metadata is dropped");

      const newer = randomBytes(1500);
      assert.ok(await disk.putWhole(urlMeta('e.ts', { headers: { etag: '"new"' } }), newer));
      await disk.flush();
      const e2 = await hit(disk, e);
      assert.equal(e2?.meta.headers['etag'], '"new"', 'a new body: its own metadata');
      assert.ok(e2?.body.equals(newer));

      const fBefore = (await hit(disk, f))!;
      await compactIndex(disk);
      const fAfter = (await hit(disk, f))!;
      assert.notEqual(fAfter.meta, fBefore.meta, 'read again from the compacted index');
      assert.deepEqual(fAfter.meta, fBefore.meta);
      assert.ok(fAfter.body.equals(fBefore.body));
      await disk.close();
    });
  });

  test('bounded by entries and by estimated bytes, the oldest not hit since its last chance dropped first', () => {
    const rec = (i: number, lineBytes = 100) => new DiskRecord(`k${i}`, 10, 0, 0, i * 1000, lineBytes, undefined);
    const recs = Array.from({ length: 5 }, (_, i) => rec(i));
    const byCount = new MetaCache(3, 1 << 20);
    for (const r of recs) byCount.set({ rec: r, gen: 0, lineOff: r.lineOff, softAt: undefined }, makeMeta(r.key), r.lineBytes);
    assert.equal(byCount.size, 3);
    assert.equal(byCount.get(recs[0]!, 0), undefined, 'oldest dropped');
    assert.ok(byCount.get(recs[4]!, 0));
    assert.equal(byCount.get(recs[4]!, 1), undefined, 'another index file: not used (and dropped)');
    assert.equal(byCount.size, 2);

    const byBytes = new MetaCache(100, 5000);
    for (const r of [rec(0, 1000), rec(1, 1000), rec(2, 1000)]) byBytes.set({ rec: r, gen: 0, lineOff: r.lineOff, softAt: undefined }, makeMeta(r.key), r.lineBytes);
    assert.equal(byBytes.size, 2, 'two estimates of ~2.3 KB fit in 5,000 bytes');
    const huge = rec(9, 10_000);
    byBytes.set({ rec: huge, gen: 0, lineOff: huge.lineOff, softAt: undefined }, makeMeta(huge.key), huge.lineBytes);
    assert.equal(byBytes.get(huge, 0), undefined, 'one larger than the whole bound is not kept');
    assert.equal(byBytes.size, 2);
  });

  test('second chance: an entry hit since the last eviction round outlives older and younger ones that were not', () => {
    const rec = (i: number) => new DiskRecord(`k${i}`, 10, 0, 0, i * 1000, 100, undefined);
    const [a, b, c, d, e, f] = Array.from({ length: 6 }, (_, i) => rec(i));
    const cache = new MetaCache(3, 1 << 20);
    const put = (r: DiskRecord) => cache.set({ rec: r, gen: 0, lineOff: r.lineOff, softAt: undefined }, makeMeta(r.key), r.lineBytes);
    for (const r of [a!, b!, c!, d!]) put(r);
    assert.equal(cache.get(a!, 0), undefined, 'nothing hit: the oldest goes');
    assert.ok(cache.get(b!, 0), 'b hit');
    put(e!);
    assert.ok(cache.get(b!, 0), 'b, the oldest but hit, was kept');
    assert.equal(cache.get(c!, 0), undefined, 'c, the oldest not hit, went instead');
    put(f!);
    assert.equal(cache.size, 3);
    assert.ok(cache.get(b!, 0), 'hit again: kept again');
    assert.equal(cache.get(d!, 0), undefined);
  });
});

describe('disk hit: LRU order', () => {
  test('a hit moves its record to the young end, also right after a write or a removal changed which record is youngest', async () => {
    await withDir(async (dir) => {
      const disk = await open(dir);
      const key = (n: string) => urlMeta(`${n}.ts`).key;
      const put = async (n: string) => {
        assert.ok(await disk.putWhole(urlMeta(`${n}.ts`), randomBytes(1000)));
        await disk.flush();
      };
      const order = () => [...disk.records.keys()].map((k) => /\/(\w)\.ts$/.exec(k)![1]).join('');
      for (const n of ['a', 'b', 'c']) await put(n);
      assert.equal(order(), 'abc');
      disk.hit(key('a'));
      assert.equal(order(), 'bca');
      disk.hit(key('a'));
      assert.equal(order(), 'bca', 'already the youngest: nothing moves');
      await put('d');
      disk.hit(key('a'));
      assert.equal(order(), 'bcda', 'a write made d the youngest: the hit moves a again');
      assert.equal(await disk.delete(key('a')), true);
      disk.hit(key('d'));
      assert.equal(order(), 'bcd');
      disk.hit(key('b'));
      assert.equal(order(), 'cdb');
      assert.ok(await disk.get(key('c')), 'get() is a hit too');
      assert.equal(order(), 'dbc');
      await disk.close();
    });
  });
});

describe('disk hit: metadata handed out for a promotion', () => {
  test('after an update and a compaction, metadata handed out before is not current, even when its record\'s new line sits at the old offset', async () => {
    await withDir(async (dir) => {
      const disk = await open(dir);
      const meta = urlMeta('gen.ts');
      assert.ok(await disk.putWhole(meta, randomBytes(3000)));
      await disk.flush();
      // Compacted once: its line is the first of a compacted file, as it will be after the next.
      await compactIndex(disk);
      const rec = disk.records.get(meta.key)!;
      const offBefore = rec.lineOff;
      const first = (await disk.reads.find(meta.key, () => true))!.meta;
      assert.ok(disk.storedFrom(meta.key, first), 'handed out by a hit that keeps the body');
      await disk.update({ ...first, headers: { ...first.headers, etag: '"2"' } });
      await disk.flush();
      await compactIndex(disk);
      // The only live line: first in the new index file, at the offset the old one had.
      assert.equal(rec.lineOff, offBefore, 'the same offset, in another file');
      assert.equal(disk.storedFrom(meta.key, first), false, 'older metadata is not what the tier stores: no stale promotion');
      const now = (await disk.reads.find(meta.key, () => true))!.meta;
      assert.equal(now.headers['etag'], '"2"');
      assert.ok(disk.storedFrom(meta.key, now));
      await disk.close();
    });
  });
});

describe('disk hit: what is read on the event loop', () => {
  test('a verified body in an open file is read at once when small; one memory keeps above READ_WHOLE_BYTES goes to the reader thread (a promise), whatever memory admits', async () => {
    await withDir(async (dir) => {
      const disk = await open(dir);
      const small = urlMeta('small.ts');
      const big = urlMeta('big.ts');
      const smallBody = randomBytes(2000);
      const bigBody = randomBytes(READ_WHOLE_BYTES + 4096);
      assert.ok(await disk.putWhole(small, smallBody));
      assert.ok(await disk.putWhole(big, bigBody));
      await disk.flush();
      // First reads verify the bodies and keep their files open.
      for (const m of [small, big]) assert.ok(await disk.reads.find(m.key, () => true));
      const s = disk.reads.find(small.key, () => true);
      assert.ok(s !== undefined && !(s instanceof Promise), 'small: at once');
      assert.ok(s.body.buffer!.equals(smallBody));
      const b = disk.reads.find(big.key, () => true);
      assert.ok(b instanceof Promise, 'large: not read on the event loop');
      assert.ok((await b)!.body.buffer!.equals(bigBody));
      await disk.close();
    });
  });

  test('hits of one record in one turn share one read; a read of another record or a new turn reads again; every buffer goes back', async () => {
    await withDir(async (dir) => {
      const disk = await open(dir);
      const [a, b] = [urlMeta('a.ts'), urlMeta('b.ts')];
      const [bodyA, bodyB] = [randomBytes(2000), randomBytes(2000)];
      assert.ok(await disk.putWhole(a, bodyA));
      assert.ok(await disk.putWhole(b, bodyB));
      await disk.flush();
      for (const m of [a, b]) (await disk.reads.find(m.key))!.body.release?.(); // verified, metadata cached
      await new Promise((r) => setImmediate(r));
      const held = disk.reads.lent.held;
      const now = (key: string) => {
        const e = disk.reads.find(key);
        assert.ok(e !== undefined && !(e instanceof Promise), 'read at once');
        return e.body;
      };
      const a1 = now(a.key);
      const a2 = now(a.key);
      assert.equal(a2.buffer!.buffer, a1.buffer!.buffer, 'the same turn, the same record: one read');
      const b1 = now(b.key);
      const a3 = now(a.key);
      assert.notEqual(a3.buffer!.buffer, a1.buffer!.buffer, 'another record read between: read again');
      for (const [body, want] of [[a1, bodyA], [a2, bodyA], [b1, bodyB], [a3, bodyA]] as const) assert.ok(body.buffer!.equals(want));
      for (const body of [a1, a2, b1, a3]) body.release!();
      await new Promise((r) => setImmediate(r));
      assert.equal(disk.reads.lent.held - held, 3 * 4096, "three reads' buffers back once the turn let go of the last");
      const before = disk.reads.lent.held;
      const a4 = now(a.key);
      assert.ok(a4.buffer!.equals(bodyA));
      assert.equal(before - disk.reads.lent.held, 4096, 'a new turn reads again (into a buffer of its own)');
      a4.release!();
      await disk.close();
    });
  });
});

describe('disk hit: verified once, read through held files, concurrent reads shared', () => {
  test('after a restart a damaged segment body is caught by the read concurrent hits share: counted once, removed, never returned', async () => {
    await withDir(async (dir) => {
      let disk = await open(dir);
      const meta = urlMeta('seg.ts');
      const body = randomBytes(16 * 1024);
      assert.ok(await disk.putWhole(meta, body));
      const other = urlMeta('other.ts');
      const otherBody = randomBytes(16 * 1024);
      assert.ok(await disk.putWhole(other, otherBody));
      await disk.flush();
      const rec = disk.records.get(meta.key)!;
      await disk.close();
      await flipByte(segmentPath(dir, rec.segment!), rec.off! + 100);

      disk = await open(dir);
      const got = await Promise.all([1, 2, 3].map(() => disk.readVerified(meta.key)));
      assert.deepEqual(got, [undefined, undefined, undefined]);
      assert.equal(disk.stats().corrupt, 1, 'one read, one removal');
      assert.equal(disk.holds(meta.key), false);
      const ok = await Promise.all([1, 2, 3].map(() => disk.readVerified(other.key)));
      for (const b of ok) assert.ok(b?.equals(otherBody), 'the intact neighbour reads back');
      assert.equal(ok[0], ok[1], 'concurrent reads shared one buffer');
      await disk.close();
    });
  });

  test('a blob held open for reads is let go when the blob is written again, deleted or found damaged', async () => {
    await withDir(async (dir) => {
      let disk = await open(dir);
      const body = randomBytes(300_000);
      await putEntry(disk, makeMeta('one'), body);
      await disk.flush();
      const integrity = disk.records.get('one')!.integrity;
      await disk.close();

      disk = await open(dir);
      assert.ok((await disk.readVerified('one'))?.equals(body), 'verified after the restart');
      assert.equal(disk.reads.blobs.size, 1, 'its file held open');
      // Damage the file held open, then write the same body again: the writer moves a new
      // file to the path, and reads must use it, not the damaged one held before.
      await flipByte(blobPath(dir, integrity), 1000);
      await putEntry(disk, makeMeta('two'), body);
      await disk.flush();
      assert.equal(disk.reads.blobs.size, 0, 'the old file let go');
      assert.ok((await disk.readVerified('two'))?.equals(body), 'the new file read');
      assert.ok((await disk.readVerified('one'))?.equals(body), 'for the older key too');

      assert.ok(await disk.delete('one'));
      assert.equal(disk.reads.blobs.size, 1, 'still referred to by "two"');
      assert.ok(await disk.delete('two'));
      assert.equal(disk.reads.blobs.size, 0, 'the blob removed: its file let go');
      await disk.flush();
      await disk.close();
    });
  });

  test('a blob grown behind the tier\'s back fails its length check through the held file: removed, counted', async () => {
    await withDir(async (dir) => {
      const disk = await open(dir);
      const body = randomBytes(300_000);
      await putEntry(disk, makeMeta('long'), body);
      await disk.flush();
      assert.ok((await disk.readVerified('long'))?.equals(body));
      await appendFile(blobPath(dir, disk.records.get('long')!.integrity), Buffer.from('x'));
      assert.equal(await disk.readVerified('long'), undefined);
      assert.equal(disk.stats().corrupt, 1);
      assert.equal(disk.holds('long'), false);
      assert.equal(disk.reads.blobs.size, 0);
      await disk.close();
    });
  });

  test('held files are bounded: the least recently used is closed, every read returns its own file\'s bytes', async () => {
    await withDir(async (dir) => {
      const files = ['f0', 'f1', 'f2'].map((n) => join(dir, n));
      const bodies = files.map(() => randomBytes(4096));
      for (let i = 0; i < files.length; i++) await writeFile(files[i]!, bodies[i]!);
      const handles = new ReadHandles<number>((i) => files[i]!, 2);
      for (const i of [0, 1, 2, 0, 2, 1]) {
        const got = await handles.read(i, 100, 1000);
        assert.ok(got.equals(bodies[i]!.subarray(100, 1100)), `file ${i}`);
        assert.ok(handles.size <= 2);
      }
      const tail = await handles.read(1, 4000, 1000);
      assert.equal(tail.length, 96, 'fewer bytes at the end of the file');
      handles.closeAll();
      assert.equal(handles.size, 0);
    });
  });

  test('a read on the event loop is one pread: a blob asked for a byte more than its body comes back whole, and short', async () => {
    await withDir(async (dir) => {
      const file = join(dir, 'blob');
      const body = randomBytes(4096);
      await writeFile(file, body);
      const handles = new ReadHandles<number>(() => file, 2);
      assert.equal(handles.readNow(0, 0, Buffer.alloc(1), 1), undefined, 'no handle held yet');
      await handles.read(0, 0, 1); // opens the file and holds it
      const real = fs.readSync;
      let preads = 0;
      fs.readSync = ((...args: Parameters<typeof real>) => (preads++, real(...args))) as typeof real;
      syncBuiltinESMExports();
      try {
        const into = Buffer.alloc(8192);
        assert.equal(handles.readNow(0, 0, into, body.length + 1), body.length, 'the end of the file: fewer bytes than asked');
        assert.ok(into.subarray(0, body.length).equals(body));
        assert.equal(preads, 1, 'no second pread to find the end');
      } finally {
        fs.readSync = real;
        syncBuiltinESMExports();
      }
      handles.closeAll();
    });
  });
});
