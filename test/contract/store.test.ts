// Runs the Store contract over MemoryTier, DiskTier and TieredStore, then the
// behaviour only one tier has: memory's per-object limit, disk durability, shared
// blobs and corruption, promotion from disk to memory.

import type { EntryMeta } from '../../src/store/types.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { allocated, blobPath as contentPath, segmentPath } from '../../src/store/disk/layout.js';
import { MemoryTier } from '../../src/store/memory.js';
import { DiskTier } from '../../src/store/disk/tier.js';
import { TieredStore } from '../../src/store/tiered.js';
import { PurgeJournal, JOURNAL_FILE } from '../../src/store/purge-journal.js';
import { SupersededError } from '../../src/store/types.js';
import { blobFiles, waitFor, withDir } from './disk-helpers.js';
import { collect, makeMeta, putEntry, readBody, selector, storeContract, testExpire } from './store.contract.js';

const logger = pino({ level: 'silent' });

storeContract('MemoryTier', async (_dir, { maxBytes, maxObjectBytes }) => {
  const store = new MemoryTier({ maxBytes, maxObjectBytes: maxObjectBytes ?? maxBytes, expire: testExpire });
  return { store, settle: () => store.flush(), dispose: () => store.close() };
});

storeContract('DiskTier', async (dir, { maxBytes }) => {
  const store = await DiskTier.open({ dir, maxBytes, logger, expire: testExpire });
  return { store, settle: () => store.flush(), dispose: () => store.close() };
});

storeContract('TieredStore', async (dir, { maxBytes, maxObjectBytes }) => {
  const memory = new MemoryTier({ maxBytes, maxObjectBytes: maxObjectBytes ?? maxBytes, expire: testExpire });
  // Wired as src/node.ts wires it: the disk LRU passes over what memory is serving.
  const disk = await DiskTier.open({ dir, maxBytes, logger, inUse: (k) => memory.has(k), expire: testExpire });
  const store = new TieredStore(memory, disk, logger);
  return { store, settle: () => store.flush(), dispose: () => store.close() };
});

/** Open file descriptors of this process that point into `dir` (Linux only). */
function openFilesUnder(dir: string): number | undefined {
  if (!existsSync('/proc/self/fd')) return undefined;
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir)) n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

describe('MemoryTier only', () => {
  test('a body above maxObjectBytes is not stored and evicts nothing', async () => {
    const mem = new MemoryTier({ maxBytes: 64 * 1024, maxObjectBytes: 8 * 1024 });
    const small = randomBytes(4096);
    await putEntry(mem, makeMeta('a'), small);
    await putEntry(mem, makeMeta('b'), small);
    const before = mem.stats();
    assert.equal(mem.admits(8 * 1024), true);
    assert.equal(mem.admits(8 * 1024 + 1), false);

    // Known length above the limit, and unknown length that grows above it.
    await putEntry(mem, makeMeta('big1', { bodySize: 9000 }), randomBytes(9000), 1000);
    await putEntry(mem, makeMeta('big2'), randomBytes(30_000), 1000);
    assert.equal(mem.put(makeMeta('big3', { bodySize: 9000 }), randomBytes(9000)), false);
    for (const k of ['big1', 'big2', 'big3']) assert.equal(await mem.get(k), undefined, k);
    assert.deepEqual(mem.stats(), before);
    assert.ok((await readBody((await mem.get('a'))!.body)).equals(small));
    assert.ok(await mem.get('b'));
  });

  test('a committed body too large for memory removes the older one under that key', async () => {
    const mem = new MemoryTier({ maxBytes: 64 * 1024, maxObjectBytes: 8 * 1024 });
    await putEntry(mem, makeMeta('k', { headers: { etag: '"old"' } }), randomBytes(100));
    // The newer response cannot be kept here; the older one must not stand in for it.
    await putEntry(mem, makeMeta('k', { headers: { etag: '"new"' } }), randomBytes(20_000), 4096);
    assert.equal(mem.peek('k'), undefined);
    assert.deepEqual(mem.variants('k'), []);
    // An explicit abort keeps the older entry (nothing newer was committed).
    await putEntry(mem, makeMeta('j'), randomBytes(100));
    const w = mem.open(makeMeta('j'));
    await w.write(randomBytes(50));
    w.abort();
    assert.ok(mem.peek('j'));
  });
});

describe('DiskTier only', () => {
  test('restart: entries, metadata and bytes are back; deleted entries stay deleted', async () => {
    await withDir(async (dir) => {
      const a = randomBytes(70_000);
      const b = randomBytes(10);
      let disk = await DiskTier.open({ dir, maxBytes: 1 << 24, logger });
      await putEntry(disk, makeMeta('a', { headers: { etag: '"a"' }, tags: ['t1'] }), a);
      await putEntry(disk, makeMeta('v#1', { primaryKey: 'v', varyNames: ['accept'], varyValues: { accept: 'x' } }), b);
      await putEntry(disk, makeMeta('v#2', { primaryKey: 'v', varyNames: ['accept'], varyValues: { accept: 'y' } }), b);
      await putEntry(disk, makeMeta('z', { bodySize: 0 }), Buffer.alloc(0));
      await putEntry(disk, makeMeta('gone'), randomBytes(500));
      await disk.update({ ...(await disk.get('a'))!.meta, headers: { etag: '"a2"' } });
      assert.equal(await disk.delete('gone'), true);
      await disk.close();

      disk = await DiskTier.open({ dir, maxBytes: 1 << 24, logger });
      const ea = await disk.get('a');
      assert.ok(ea);
      assert.equal(ea.meta.headers['etag'], '"a2"', 'latest metadata wins');
      assert.deepEqual(ea.meta.tags, ['t1']);
      assert.equal(ea.meta.bodySize, a.length);
      assert.ok((await collect(ea.body.stream())).equals(a));
      assert.ok((await collect(ea.body.stream(100, 199))).equals(a.subarray(100, 200)));
      assert.ok((await disk.readVerified('a'))!.equals(a));
      assert.deepEqual(disk.variants('v').map((m) => m.varyValues['accept']).sort(), ['x', 'y']);
      const ez = await disk.get('z');
      assert.ok(ez);
      assert.equal((await collect(ez.body.stream())).length, 0);
      assert.equal(await disk.get('gone'), undefined);
      assert.deepEqual(disk.variants('gone'), []);
      // Blobs in whole blocks (the two small variants share one) and the index's lines.
      const st = disk.stats();
      assert.equal(st.items, 4);
      assert.ok(st.bytes >= allocated(a.length) + allocated(b.length) + allocated(0) && st.bytes < allocated(a.length) + 3 * 4096 + 8192, `bytes ${st.bytes}`);

      // Deleted after a reopen: still gone after the next.
      assert.equal(await disk.delete('v#1'), true);
      await disk.close();
      disk = await DiskTier.open({ dir, maxBytes: 1 << 24, logger });
      assert.deepEqual(disk.variants('v').map((m) => m.key), ['v#2']);
      assert.equal(await disk.get('gone'), undefined);
      await disk.close();
    });
  });

  test('identical bodies share one blob; it goes only with its last reference', async () => {
    await withDir(async (dir) => {
      const disk = await DiskTier.open({ dir, maxBytes: 1 << 24, logger });
      const data = randomBytes(30_000);
      await putEntry(disk, makeMeta('one'), data);
      await putEntry(disk, makeMeta('two'), data);
      const m1 = (await disk.get('one'))!.meta;
      const m2 = (await disk.get('two'))!.meta;
      assert.ok(m1.integrity?.startsWith('sha256-'));
      assert.equal(m1.integrity, m2.integrity);
      const path = contentPath(dir, m1.integrity!);
      assert.deepEqual(await blobFiles(dir), [path]);

      assert.equal(await disk.delete('one'), true);
      await disk.flush();
      assert.ok(existsSync(path), 'still referenced by "two"');
      assert.ok((await collect((await disk.get('two'))!.body.stream())).equals(data));
      assert.ok((await disk.readVerified('two'))!.equals(data));

      assert.equal(await disk.delete('two'), true);
      await disk.flush();
      assert.equal(existsSync(path), false, 'blob removed with its last reference');
      assert.deepEqual(await blobFiles(dir), []);
      await disk.close();
    });
  });

  test('replacing a key with a different body removes the old blob file', async () => {
    await withDir(async (dir) => {
      const disk = await DiskTier.open({ dir, maxBytes: 1 << 24, logger });
      await putEntry(disk, makeMeta('k'), randomBytes(5000));
      const oldPath = contentPath(dir, (await disk.get('k'))!.meta.integrity!);
      await putEntry(disk, makeMeta('k'), randomBytes(6000));
      await disk.flush();
      const newPath = contentPath(dir, (await disk.get('k'))!.meta.integrity!);
      assert.equal(existsSync(oldPath), false, 'the replaced blob is not leaked');
      assert.deepEqual(await blobFiles(dir), [newPath]);
      // Replacing with the same bytes keeps the (shared) blob.
      const same = await readFile(newPath);
      await putEntry(disk, makeMeta('k'), same);
      await disk.flush();
      assert.deepEqual(await blobFiles(dir), [newPath]);
      assert.ok((await disk.readVerified('k'))!.equals(same));
      await disk.close();
    });
  });

  test('a blob being removed is not lost by a concurrent write of the same bytes', async () => {
    await withDir(async (dir) => {
      const disk = await DiskTier.open({ dir, maxBytes: 1 << 24, logger });
      const data = randomBytes(200_000);
      for (let round = 0; round < 20; round++) {
        await putEntry(disk, makeMeta('x'), data);
        // Refill the same bytes under another key while the old reference is dropped.
        const w = disk.open(makeMeta(`y${round}`));
        await w.write(data);
        const committing = w.commit();
        // Drop the last old reference just after the new blob was moved into place (the
        // temporary file is gone) and before the new record is tracked.
        if (round % 2 === 0) await waitFor('the temp file moved into place', () => readdirSync(join(dir, 'tmp')).length === 0);
        await disk.delete('x');
        await committing;
        await disk.flush();
        const got = await disk.readVerified(`y${round}`);
        assert.ok(got?.equals(data), `round ${round}: y still readable`);
        await disk.delete(`y${round}`);
        await disk.flush();
      }
      assert.deepEqual(await blobFiles(dir), []);
      await disk.close();
    });
  });

  test('a corrupted blob, first read after a restart: readVerified misses and evicts; a full stream errors and evicts', async () => {
    await withDir(async (dir) => {
      let disk = await DiskTier.open({ dir, maxBytes: 1 << 24, logger });
      const small = randomBytes(2000);
      await putEntry(disk, makeMeta('s'), small);
      const large = randomBytes(1024 * 1024);
      await putEntry(disk, makeMeta('l'), large);
      await putEntry(disk, makeMeta('l2'), large); // shares the bad bytes
      const sPath = contentPath(dir, (await disk.get('s'))!.meta.integrity!);
      const lPath = contentPath(dir, (await disk.get('l'))!.meta.integrity!);
      await disk.close();
      // Damaged while the node was down: a restart trusts no blob until it is read whole.
      await writeFile(sPath, Buffer.from(small).fill(0x41));
      const bad = Buffer.from(large);
      bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff; // the very last byte
      await writeFile(lPath, bad);
      assert.equal((await stat(lPath)).size, large.length);
      disk = await DiskTier.open({ dir, maxBytes: 1 << 24, logger });

      assert.equal(await disk.readVerified('s'), undefined);
      assert.equal(await disk.get('s'), undefined);
      assert.deepEqual(disk.variants('s'), []);
      await disk.flush();
      assert.equal(existsSync(sPath), false);

      const e = await disk.get('l');
      assert.ok(e);

      const s = e.body.stream();
      let received = 0;
      s.on('data', (c: Buffer) => (received += c.length));
      const [err] = (await once(s, 'error')) as [NodeJS.ErrnoException];
      assert.equal(err.code, 'EINTEGRITY');
      // Whoever relays the stream never sees the whole length of a corrupted body.
      assert.ok(received < large.length, `held back the tail (${received}/${large.length})`);
      assert.equal(await disk.get('l'), undefined);
      assert.equal(await disk.get('l2'), undefined, 'a key sharing the bad blob goes too');
      await disk.flush();
      assert.equal(existsSync(lPath), false);
      assert.deepEqual(disk.stats().items, 0);
      await disk.close();
      // And not back after a restart.
      const again = await DiskTier.open({ dir, maxBytes: 1 << 24, logger });
      assert.equal(again.stats().items, 0);
      await again.close();
    });
  });

  test('a blob this process wrote or verified is not hashed again, but a blob cut short still fails its read', async () => {
    await withDir(async (dir) => {
      const disk = await DiskTier.open({ dir, maxBytes: 1 << 24, logger });
      const data = randomBytes(512 * 1024);
      await putEntry(disk, makeMeta('t'), data);
      const path = contentPath(dir, (await disk.get('t'))!.meta.integrity!);
      // Same length, other bytes, behind the running node's back: not re-hashed.
      const other = Buffer.from(data);
      other[0] = other[0]! ^ 0xff;
      await writeFile(path, other);
      const whole = await collect((await disk.get('t'))!.body.stream());
      assert.ok(whole.equals(other), 'length-checked only: the trusted blob is not re-hashed on every read');
      // A blob cut short is still caught.
      await writeFile(path, data.subarray(0, 1000));
      const s = (await disk.get('t'))!.body.stream();
      s.resume();
      const [err] = (await once(s, 'error')) as [NodeJS.ErrnoException];
      assert.equal(err.code, 'EINTEGRITY');
      assert.equal(await disk.get('t'), undefined);
      await disk.close();
    });
  });

  test('a stream destroyed by its reader releases the file', async () => {
    await withDir(async (dir) => {
      const disk = await DiskTier.open({ dir, maxBytes: 1 << 24, logger });
      await putEntry(disk, makeMeta('f'), randomBytes(4 * 1024 * 1024));
      if (openFilesUnder(dir) === undefined) return;
      const base = openFilesUnder(dir);
      for (const range of [[], [0, 3 * 1024 * 1024]] as const) {
        const s = (await disk.get('f'))!.body.stream(...range);
        await once(s, 'data');
        s.destroy();
        await once(s, 'close');
      }
      for (let i = 0; i < 50 && openFilesUnder(dir) !== base; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(openFilesUnder(dir), base, 'no file descriptor left open');
      assert.ok(await disk.get('f'), 'a reader going away is not corruption');
      await disk.close();
    });
  });

  test('disk budget eviction removes blobs and stays in force after a reopen', async () => {
    await withDir(async (dir) => {
      // Three 30,000-byte bodies (whole blocks: 32 KiB each) and their index lines fit, four do not.
      const maxBytes = 120_000;
      let disk = await DiskTier.open({ dir, maxBytes, logger });
      const bodies = new Map<string, Buffer>();
      for (let i = 0; i < 6; i++) {
        const b = randomBytes(30_000);
        bodies.set(`e${i}`, b);
        await putEntry(disk, makeMeta(`e${i}`), b);
      }
      await disk.flush();
      assert.equal(disk.stats().items, 3);
      assert.equal(disk.stats().evictions, 3, 'counted');
      assert.ok(disk.stats().bytes > 3 * 32_768 && disk.stats().bytes <= maxBytes);
      const files = await blobFiles(dir);
      assert.equal(files.length, 3, 'evicted blobs removed from disk');
      for (let i = 0; i < 3; i++) assert.equal(await disk.get(`e${i}`), undefined);
      await disk.close();

      disk = await DiskTier.open({ dir, maxBytes, logger });
      assert.equal(disk.stats().items, 3);
      for (let i = 0; i < 3; i++) assert.equal(await disk.get(`e${i}`), undefined, `e${i} stays evicted`);
      for (let i = 3; i < 6; i++) assert.ok((await disk.readVerified(`e${i}`))!.equals(bodies.get(`e${i}`)!));
      // A body larger than the whole budget is not stored and evicts nothing.
      await putEntry(disk, makeMeta('huge'), randomBytes(maxBytes + 1));
      await disk.flush();
      assert.equal(await disk.get('huge'), undefined);
      assert.equal(disk.stats().items, 3);
      assert.equal((await blobFiles(dir)).length, 3);
      await disk.close();

      // A smaller budget at the next start evicts down to it, oldest first, for good.
      disk = await DiskTier.open({ dir, maxBytes: 50_000, logger });
      assert.equal(disk.stats().items, 1);
      await disk.flush();
      assert.equal((await blobFiles(dir)).length, 1);
      await disk.close();
      disk = await DiskTier.open({ dir, maxBytes, logger });
      assert.equal(disk.stats().items, 1);
      assert.ok(await disk.get('e5'));
      await disk.close();
    });
  });

  test('a committed body too large for the disk removes the older one under that key', async () => {
    await withDir(async (dir) => {
      const disk = await DiskTier.open({ dir, maxBytes: 50_000, logger });
      await putEntry(disk, makeMeta('k', { headers: { etag: '"old"' } }), randomBytes(1000));
      await putEntry(disk, makeMeta('k', { headers: { etag: '"new"' } }), randomBytes(60_000));
      await disk.flush();
      assert.equal(await disk.get('k'), undefined);
      assert.deepEqual(await blobFiles(dir), []);
      await disk.close();
      const again = await DiskTier.open({ dir, maxBytes: 50_000, logger });
      assert.equal(await again.get('k'), undefined);
      await again.close();
    });
  });
});

describe('DiskTier only: purges', () => {
  const open = (dir: string, maxBytes = 1 << 24) => DiskTier.open({ dir, maxBytes, logger, expire: testExpire });

  test('purges survive a restart: hard-purged entries are gone, soft-purged ones still stale, blobs removed', async () => {
    await withDir(async (dir) => {
      let disk = await open(dir);
      for (let i = 0; i < 10; i++) await putEntry(disk, makeMeta(`p${i}`, { tags: i % 2 ? ['odd'] : ['even'] }), randomBytes(1000 + i));
      assert.equal(await disk.purge(selector({ tags: ['odd'] })), 5);
      assert.equal(await disk.purge(selector({ primaryKeys: ['p0', 'p2'] }), { softAtMs: 42 }), 2);
      await disk.close();
      assert.equal(existsSync(join(dir, JOURNAL_FILE)), false, 'journal retired once the per-key work landed');
      assert.equal((await blobFiles(dir)).length, 5, 'blobs of purged entries removed');

      disk = await open(dir);
      assert.equal(disk.stats().items, 5);
      for (let i = 1; i < 10; i += 2) assert.equal(await disk.get(`p${i}`), undefined, `p${i} stays purged`);
      assert.equal(disk.metaOf('p0')?.cacheControl, 'soft-purged-at=42');
      assert.equal(disk.metaOf('p2')?.freshnessLifetimeS, 0);
      assert.equal(disk.metaOf('p4')?.freshnessLifetimeS, 600);
      // The tag index is rebuilt from the stored metadata.
      assert.equal(await disk.purge(selector({ tags: ['even'] })), 5);
      await disk.close();
    });
  });

  test('a journalled purge whose per-key work never landed is applied at start, to older entries only', async () => {
    await withDir(async (dir) => {
      let disk = await open(dir);
      await putEntry(disk, makeMeta('old-hard', { tags: ['x'] }), randomBytes(100));
      await putEntry(disk, makeMeta('old-soft', { tags: ['y'] }), randomBytes(100));
      await putEntry(disk, makeMeta('untouched', { tags: ['z'] }), randomBytes(100));
      await disk.close();
      // As if the node stopped right after acknowledging these purges.
      const { journal } = await PurgeJournal.load(dir);
      await journal.append({ atMs: Date.now(), selector: selector({ tags: ['x'] }) });
      await journal.append({ atMs: Date.now(), selector: selector({ tags: ['y'] }), softAtMs: 7 });
      await journal.append({ atMs: 0, selector: selector({ tags: ['z'] }) });
      // A torn last line: a purge interrupted before it was acknowledged.
      await writeFile(join(dir, JOURNAL_FILE), (await readFile(join(dir, JOURNAL_FILE), 'utf8')) + '{"id": 9, "atMs"', 'utf8');

      disk = await open(dir);
      assert.equal(await disk.get('old-hard'), undefined);
      assert.equal(disk.metaOf('old-soft')?.cacheControl, 'soft-purged-at=7');
      assert.ok(disk.metaOf('untouched'), 'written after the purge instant: not purged');
      await disk.flush();
      assert.equal(existsSync(join(dir, JOURNAL_FILE)), false, 'applied, then retired');
      await disk.close();
      disk = await open(dir);
      assert.equal(await disk.get('old-hard'), undefined);
      assert.equal(disk.metaOf('old-soft')?.cacheControl, 'soft-purged-at=7', 'the softened metadata is in the index now');
      assert.equal(disk.stats().items, 2);
      await disk.close();
    });
  });

  test('a key written again after a purge keeps its new entry across a restart', async () => {
    await withDir(async (dir) => {
      let disk = await open(dir);
      await putEntry(disk, makeMeta('k', { tags: ['t'], headers: { etag: '"1"' } }), randomBytes(100));
      const purged = disk.purge(selector({ tags: ['t'] }));
      await putEntry(disk, makeMeta('k', { tags: ['t'], headers: { etag: '"2"' } }), randomBytes(100));
      assert.equal(await purged, 1);
      await disk.close();
      disk = await open(dir);
      assert.equal(disk.metaOf('k')?.headers['etag'], '"2"');
      await disk.close();
    });
  });
});

describe('TieredStore only', () => {
  async function tiered(dir: string, memoryMaxObjectBytes = 64 * 1024) {
    const memory = new MemoryTier({ maxBytes: 16 * 1024 * 1024, maxObjectBytes: memoryMaxObjectBytes });
    const disk = await DiskTier.open({ dir, maxBytes: 1 << 24, logger, inUse: (k) => memory.has(k) });
    return { memory, disk, store: new TieredStore(memory, disk, logger) };
  }

  test("a purge tells the store's 'purged' listeners in the step it takes effect, before it resolves", async () => {
    await withDir(async (dir) => {
      const t = await tiered(dir);
      await putEntry(t.store, makeMeta('p', { tags: ['x'] }), randomBytes(10));
      const heard: unknown[] = [];
      t.store.onPurged((sel, soft) => heard.push({ tags: sel.tags, soft, visible: t.store.peek('p') !== undefined }));
      assert.equal(await t.store.purge(selector({ tags: ['x'] })), 1);
      heard.push('resolved');
      // Told once, before the purge answered, with the entry already out of sight.
      assert.deepEqual(heard, [{ tags: ['x'], soft: false, visible: false }, 'resolved']);
      await t.store.close();
    });
  });

  test('a disk-only entry small enough for memory is promoted on get', async () => {
    await withDir(async (dir) => {
      const data = randomBytes(10_000);
      const large = randomBytes(100_000);
      const larger = randomBytes(300 * 1024);
      let t = await tiered(dir);
      await putEntry(t.store, makeMeta('small'), data);
      await putEntry(t.store, makeMeta('large'), large);
      await putEntry(t.store, makeMeta('larger'), larger);
      assert.ok(t.memory.peek('small'), 'written through to memory');
      assert.equal(t.memory.peek('large'), undefined, 'too large for memory');
      assert.ok(t.disk.has('large'));
      await t.store.close();

      // A new TieredStore over the same directory: memory is empty.
      t = await tiered(dir);
      assert.equal(t.store.peek('small'), undefined);
      const e = await t.store.get('small');
      assert.ok(e);
      assert.ok((await readBody(e.body)).equals(data));
      const hot = t.memory.peek('small');
      assert.ok(hot?.body.buffer, 'promoted to memory');
      assert.ok(hot.body.buffer.equals(data));
      assert.ok(t.store.peek('small'));
      // Too large for memory: not promoted; still small enough to be read whole, in one read (tiered.ts READ_WHOLE_BYTES).
      const l = await t.store.get('large');
      assert.ok(l);
      assert.ok(l.body.buffer?.equals(large), 'read whole');
      assert.ok((await collect(l.body.stream())).equals(large));
      assert.equal(t.memory.peek('large'), undefined);
      // Larger than that: streamed from its file.
      const xl = await t.store.get('larger');
      assert.equal(xl?.body.buffer, undefined);
      assert.ok(xl && (await collect(xl.body.stream())).equals(larger));
      await t.store.close();
    });
  });

  test('a corrupted small disk entry is a miss, not promoted', async () => {
    await withDir(async (dir) => {
      let t = await tiered(dir);
      const data = randomBytes(3000);
      await putEntry(t.store, makeMeta('c'), data);
      await t.store.flush();
      // A small body lives in a segment file: its bytes there are damaged.
      const rec = t.disk.records.get('c')!;
      assert.notEqual(rec.segment, undefined, 'a small body is written to a segment');
      await t.store.close();
      const fh = await open(segmentPath(dir, rec.segment!), 'r+');
      await fh.write(Buffer.alloc(data.length, 1), 0, data.length, rec.off!);
      await fh.close();
      t = await tiered(dir);
      assert.equal(await t.store.get('c'), undefined);
      assert.equal(t.memory.peek('c'), undefined);
      assert.deepEqual(t.store.variants('c'), []);
      await t.store.close();
    });
  });

  test('a promotion racing a delete does not bring the entry back', async () => {
    await withDir(async (dir) => {
      let t = await tiered(dir);
      for (let i = 0; i < 20; i++) await putEntry(t.store, makeMeta(`d${i}`), randomBytes(50_000));
      await t.store.close();
      t = await tiered(dir);
      for (let i = 0; i < 20; i++) {
        const reading = t.store.get(`d${i}`);
        // Let the disk read start, then purge.
        for (let j = 0; j < i % 4; j++) await new Promise((r) => setImmediate(r));
        await t.store.delete(`d${i}`);
        await reading;
        assert.equal(t.store.peek(`d${i}`), undefined, `d${i} purged`);
        assert.equal(await t.store.get(`d${i}`), undefined);
      }
      await t.store.close();
    });
  });

  test('replacing a key with a body too large for memory never serves the older body', async () => {
    await withDir(async (dir) => {
      const t = await tiered(dir, 8 * 1024);
      const old = randomBytes(1000);
      const next = randomBytes(50_000);
      await putEntry(t.store, makeMeta('k', { headers: { etag: '"old"' } }), old);
      assert.ok(t.memory.peek('k'));
      // Known length: memory is skipped at open.
      await putEntry(t.store, makeMeta('k', { headers: { etag: '"new"' }, bodySize: next.length }), next);
      let e = await t.store.get('k');
      assert.equal(e?.meta.headers['etag'], '"new"');
      assert.ok((await readBody(e!.body)).equals(next));
      // Unknown length that outgrows memory while being written.
      await putEntry(t.store, makeMeta('k', { headers: { etag: '"small"' } }), old);
      assert.ok(t.memory.peek('k'));
      await putEntry(t.store, makeMeta('k', { headers: { etag: '"newer"' } }), next, 4096);
      assert.equal(t.store.peek('k'), undefined);
      e = await t.store.get('k');
      assert.equal(e?.meta.headers['etag'], '"newer"');
      assert.ok((await readBody(e!.body)).equals(next));
      assert.deepEqual(t.store.variants('k').map((m) => (m as EntryMeta).headers['etag']), ['"newer"']);
      await t.store.close();
    });
  });

  // The tiered store may resolve commit() once memory holds the entry and let the disk
  // write land afterwards; nothing done after commit() resolved may be undone by it.
  test('a delete or purge after commit() resolved is not undone by the disk write landing', async () => {
    await withDir(async (dir) => {
      let t = await tiered(dir, 4 * 1024 * 1024);
      const data = randomBytes(2 * 1024 * 1024);
      for (let i = 0; i < 5; i++) {
        await putEntry(t.store, makeMeta(`del${i}`), data, 64 * 1024);
        await t.store.delete(`del${i}`);
        await putEntry(t.store, makeMeta(`pv${i}#a`, { primaryKey: `pv${i}` }), data, 64 * 1024);
        assert.equal(await t.store.deleteVariants(`pv${i}`), 1);
      }
      await t.store.flush();
      for (let i = 0; i < 5; i++) {
        assert.equal(await t.store.get(`del${i}`), undefined);
        assert.equal(t.disk.has(`del${i}`), false, `del${i} not on disk`);
        assert.deepEqual(t.store.variants(`pv${i}`), []);
      }
      assert.equal(t.disk.stats().items, 0);
      await t.store.close();
      t = await tiered(dir);
      assert.equal(t.disk.stats().items, 0, 'purges are durable');
      await t.store.close();
    });
  });

  test('an older disk write landing after a newer commit does not put the older body back', async () => {
    await withDir(async (dir) => {
      let t = await tiered(dir, 4 * 1024 * 1024);
      const older = randomBytes(3 * 1024 * 1024);
      const newer = randomBytes(100);
      await putEntry(t.store, makeMeta('k', { headers: { etag: '"older"' } }), older, 64 * 1024);
      await putEntry(t.store, makeMeta('k', { headers: { etag: '"newer"' } }), newer);
      await t.store.flush();
      assert.equal(t.disk.metaOf('k')?.headers['etag'], '"newer"');
      assert.ok((await t.disk.readVerified('k'))?.equals(newer));
      await t.store.close();
      t = await tiered(dir);
      const e = await t.store.get('k');
      assert.equal(e?.meta.headers['etag'], '"newer"');
      assert.ok((await readBody(e!.body)).equals(newer));
      await t.store.close();
    });
  });

  test('an update() while the disk write is landing reaches the disk', async () => {
    await withDir(async (dir) => {
      let t = await tiered(dir, 4 * 1024 * 1024);
      const meta = makeMeta('u', { headers: { etag: '"1"' } });
      await putEntry(t.store, meta, randomBytes(2 * 1024 * 1024), 64 * 1024);
      await t.store.update({ ...meta, headers: { etag: '"2"' }, freshnessLifetimeS: 1234 });
      await t.store.close();
      t = await tiered(dir);
      assert.equal(t.disk.metaOf('u')?.headers['etag'], '"2"');
      assert.equal(t.disk.metaOf('u')?.freshnessLifetimeS, 1234);
      await t.store.close();
    });
  });
  test('a purge supersedes matching writes in flight: opened before it, they never become visible', async () => {
    await withDir(async (dir) => {
      const t = await tiered(dir);
      const byTag = t.store.open(makeMeta('tagged', { tags: ['t'] }));
      const byPrefix = t.store.open(makeMeta('under', { url: 'http://site.example/dir/x' }));
      const other = t.store.open(makeMeta('other', { tags: ['u'] }));
      for (const w of [byTag, byPrefix, other]) await w.write(Buffer.from('body'));
      assert.equal(await t.store.purge(selector({ tags: ['t'], pathPrefixes: ['/dir/'] })), 0);
      await assert.rejects(byTag.commit(), SupersededError);
      await assert.rejects(byPrefix.commit(), SupersededError);
      await other.commit();
      // A write opened after the purge is not affected.
      await putEntry(t.store, makeMeta('tagged', { tags: ['t'] }), Buffer.from('later'));
      await t.store.flush();
      assert.equal(await t.store.get('under'), undefined);
      assert.equal(t.disk.has('under'), false);
      assert.equal((await readBody((await t.store.get('tagged'))!.body)).toString(), 'later');
      assert.ok(await t.store.get('other'));
      await t.store.close();
    });
  });

  test('a soft purge of an entry whose disk write is still landing: it lands, with the softened metadata', async () => {
    await withDir(async (dir) => {
      const open = async () => {
        const memory = new MemoryTier({ maxBytes: 16 * 1024 * 1024, maxObjectBytes: 4 * 1024 * 1024, expire: testExpire });
        const disk = await DiskTier.open({ dir, maxBytes: 1 << 24, logger, expire: testExpire });
        return { memory, disk, store: new TieredStore(memory, disk, logger) };
      };
      let t = await open();
      await putEntry(t.store, makeMeta('landing', { tags: ['t'] }), randomBytes(2 * 1024 * 1024), 64 * 1024);
      assert.equal(await t.store.purge(selector({ tags: ['t'] }), { softAtMs: 99 }), 1);
      await t.store.flush();
      assert.equal(t.disk.metaOf('landing')?.cacheControl, 'soft-purged-at=99');
      await t.store.close();
      t = await open();
      assert.equal(t.disk.metaOf('landing')?.cacheControl, 'soft-purged-at=99', 'durable');
      await t.store.close();
    });
  });

  test('a purge after commit() resolved is not undone by the disk write landing; counts each entry once', async () => {
    await withDir(async (dir) => {
      let t = await tiered(dir, 4 * 1024 * 1024);
      await putEntry(t.store, makeMeta('small', { tags: ['t'] }), randomBytes(100));
      await t.store.flush();
      await putEntry(t.store, makeMeta('landing', { tags: ['t'] }), randomBytes(2 * 1024 * 1024), 64 * 1024);
      assert.equal(await t.store.purge(selector({ tags: ['t'] })), 2, 'an entry in both tiers counts once');
      await t.store.flush();
      assert.equal(t.disk.stats().items, 0);
      assert.equal(t.memory.stats().items, 0);
      await t.store.close();
      t = await tiered(dir);
      assert.equal(t.disk.stats().items, 0, 'durable');
      await t.store.close();
    });
  });
});

describe('disk tier: entries the memory tier is serving', () => {
  test('are passed over by the disk LRU while others can go, and evicted only when nothing else is left', async () => {
    await withDir(async (dir) => {
      const hot = new Set(['a']);
      const tier = await DiskTier.open({ dir, maxBytes: 20_000, logger, inUse: (k) => hot.has(k) });
      // Distinct 1,000-byte bodies (a block each on disk, with their index lines): three fit in 20,000 bytes, four do not.
      let fill = 0;
      const body = () => Buffer.alloc(1000, ++fill);
      for (const k of ['a', 'b', 'c']) await putEntry(tier, makeMeta(k, { bodySize: 1000 }), body());
      // 'a' is the least recently written, but memory is answering it: 'b' goes instead.
      await putEntry(tier, makeMeta('d', { bodySize: 1000 }), body());
      assert.ok(tier.has('a'));
      assert.ok(!tier.has('b'));
      assert.ok(tier.has('c') && tier.has('d'));
      // Everything in use: the budget still holds.
      hot.add('c').add('d');
      await putEntry(tier, makeMeta('e', { bodySize: 1000 }), body());
      hot.add('e');
      assert.ok(tier.stats().bytes <= 20_000);
      await tier.close();
    });
  });
});

describe('memory tier: bodies own their memory', () => {
  test('a stored body does not keep the larger buffer it arrived in alive', async () => {
    const memory = new MemoryTier({ maxBytes: 1 << 20, maxObjectBytes: 1 << 20 });
    const slab = Buffer.alloc(64 * 1024, 7);
    const chunk = slab.subarray(100, 1124); // 1 KiB view into a 64 KiB slab, as a socket read hands it over
    await putEntry(memory, makeMeta('owned', { bodySize: chunk.length }), chunk);
    const stored = memory.peek('owned')!.body.buffer!;
    assert.ok(stored.equals(chunk));
    assert.equal(stored.buffer.byteLength, chunk.length, 'the stored bytes have an ArrayBuffer of their own size');
    await memory.close();
  });
});

describe('TieredStore: an entry between memory eviction and its disk landing', () => {
  test('is still found by get() (no refetch of a body that is being written)', async () => {
    await withDir(async (dir) => {
      // Room in memory for one 100 kB body only.
      const memory = new MemoryTier({ maxBytes: 150_000, maxObjectBytes: 120_000 });
      const disk = await DiskTier.open({ dir, maxBytes: 1 << 24, logger, inUse: (k) => memory.has(k) });
      // Hold the disk tier's commit of "a" until released: its write is still landing.
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const open = disk.open.bind(disk);
      disk.open = (meta, opts) => {
        const w = open(meta, opts);
        if (meta.key !== 'a') return w;
        return { ...w, commit: async () => {
          await gate;
          await w.commit();
        } };
      };
      const store = new TieredStore(memory, disk, logger);
      const a = randomBytes(100_000);
      await putEntry(store, makeMeta('a'), a);
      await putEntry(store, makeMeta('b'), randomBytes(100_000));
      assert.equal(memory.peek('a'), undefined, 'evicted from memory by b');
      assert.equal(memory.stats().evictions, 1, 'counted');
      assert.equal(disk.has('a'), false, 'not on disk yet');
      const landing = await store.get('a');
      assert.ok(landing, 'found while landing');
      assert.ok((await readBody(landing.body)).equals(a));
      release();
      await store.flush();
      const landed = await store.get('a');
      assert.ok(landed && (await readBody(landed.body)).equals(a));
      await store.delete('a');
      assert.equal(await store.get('a'), undefined);
      await store.close();
    });
  });
});
