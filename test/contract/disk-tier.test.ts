// The disk tier alone: restart, shared blobs, damaged blobs, held files, the
// budget, purges across a restart, and the LRU passing over what memory serves.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { allocated, blobPath as contentPath } from '../../src/store/disk/layout.js';
import { DiskTier } from '../../src/store/disk/tier.js';
import { PurgeJournal, JOURNAL_FILE } from '../../src/store/purge/purge-journal.js';
import { blobFiles, waitFor, withDir } from './disk-helpers.js';
import { openFilesUnder } from '../fixtures/stalls.js';
import { collect, makeMeta, putEntry, selector, testExpire } from './store.contract.js';

const logger = pino({ level: 'silent' });

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
      // A body announced larger than the whole budget is not stored and evicts nothing
      // (one of unknown length makes room as it grows, until it is found too large).
      await putEntry(disk, makeMeta('huge', { bodySize: maxBytes + 1 }), randomBytes(maxBytes + 1));
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
