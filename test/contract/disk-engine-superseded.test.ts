// A newer body that does not reach the disk, on real files and the real writer thread:
// shed (a full queue, temp files at the budget) or failed, it leaves no older record
// to be served again once memory lets it go or after a restart; a 304 of it is not
// written over the older body; a purge waits for it before it retires its journal;
// temp files of streamed bodies stay within the budget.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DiskTier } from '../../src/store/disk/tier.js';
import { MemoryTier } from '../../src/store/memory/memory.js';
import { TieredStore } from '../../src/store/tiered.js';
import type { EntryMeta } from '../../src/store/types.js';
import { makeMeta, putEntry, readBody, selector } from './store.contract.js';
import { blobFiles, namesIn, silent, withDir } from './disk-helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const KEY = 'x';
const version = (n: number, size: number): EntryMeta => makeMeta(KEY, { headers: { etag: `"v${n}"`, 'cache-control': 'max-age=600' }, bodySize: size });

interface Stack {
  memory: MemoryTier;
  disk: DiskTier;
  store: TieredStore;
}

async function stack(dir: string, over: { writeQueueMaxBytes?: number } = {}): Promise<Stack> {
  const memory = new MemoryTier({ maxBytes: 16 * MiB, maxObjectBytes: MiB });
  const disk = await DiskTier.open({ dir, maxBytes: 16 * MiB, logger: silent, inUse: (k) => memory.has(k), ...over });
  return { memory, disk, store: new TieredStore(memory, disk, silent) };
}

/** What the store serves under KEY: its ETag and body, or undefined. */
async function served(store: TieredStore): Promise<{ etag: string | undefined; body: Buffer } | undefined> {
  const e = await store.get(KEY);
  return e && { etag: e.meta.headers['etag'], body: await readBody(e.body) };
}

/** v1 stored on both tiers; then v2 committed while `fault` keeps it off the disk; then a 304 of v2. */
async function newerBodyOffDisk(dir: string, sizes: [number, number], over: { writeQueueMaxBytes?: number }, fault: () => Promise<() => Promise<void>>): Promise<void> {
  let { memory, disk, store } = await stack(dir, over);
  const v1 = randomBytes(sizes[0]);
  const v2 = randomBytes(sizes[1]);
  await putEntry(store, version(1, v1.length), v1);
  await store.flush();
  assert.ok(disk.holds(KEY), 'v1 on disk');
  const restore = await fault();
  await putEntry(store, version(2, v2.length), v2);
  await store.flush();
  await restore();
  assert.equal((await served(store))?.etag, '"v2"', 'memory serves v2');
  assert.equal(disk.holds(KEY), false, 'the older record is gone with it');

  // A 304 of v2: its metadata must not be grafted onto v1's body on disk.
  const refreshed = (await store.get(KEY))!.meta;
  await store.update({ ...refreshed, responseTimeMs: refreshed.responseTimeMs + 1000 });
  await store.flush();
  // Memory lets v2 go: v1 must not stand in for it.
  await memory.delete(KEY);
  const after = await served(store);
  assert.ok(after === undefined || after.body.equals(v2), 'v1 is not served once memory evicted v2');
  await store.close();

  ({ disk, store } = await stack(dir));
  const restarted = await served(store);
  assert.equal(restarted, undefined, 'after a restart neither v1 nor v2-metadata-on-v1 is served');
  await store.close();
}

describe('disk engine: a newer body that does not land', () => {
  test('shed (the queue is too small for it): the older record goes; a 304 of the newer does not land on the older body; nothing after a restart', async () => {
    await withDir(async (dir) => {
      await newerBodyOffDisk(dir, [1000, 3000], { writeQueueMaxBytes: 2000 }, async () => async () => undefined);
    });
  });

  test('failed (content-v2/ unusable for the blob write): the older record goes; nothing after a restart', async () => {
    await withDir(async (dir) => {
      const content = join(dir, 'content-v2');
      await newerBodyOffDisk(dir, [300_000, 310_000], {}, async () => {
        await rename(content, `${content}.aside`);
        await writeFile(content, 'not a directory');
        return async () => {
          await rm(content);
          await rename(`${content}.aside`, content);
        };
      });
    });
  });

  test('an older write that fails while a newer one of the key is landing: the newer one stays, also after a restart', async () => {
    await withDir(async (dir) => {
      let disk = await DiskTier.open({ dir, maxBytes: 16 * MiB, logger: silent });
      await writeFile(join(dir, 'content-v2'), 'not a directory');
      // v1 needs a blob file (fails), v2 goes to a segment (lands): queued together, v1 first.
      const v2 = randomBytes(2000);
      const w1 = disk.putWhole(version(1, 300_000), randomBytes(300_000));
      const w2 = disk.putWhole(version(2, v2.length), v2);
      assert.equal(await w1, false, 'v1 failed');
      assert.equal(await w2, true, 'v2 landed');
      await disk.flush();
      assert.ok(disk.has(KEY), 'v2 is held');
      assert.equal((await disk.readMeta(KEY))?.headers['etag'], '"v2"');
      assert.ok((await disk.readVerified(KEY))?.equals(v2));
      await disk.close();
      await rm(join(dir, 'content-v2'));
      disk = await DiskTier.open({ dir, maxBytes: 16 * MiB, logger: silent });
      assert.equal((await disk.readMeta(KEY))?.headers['etag'], '"v2"', 'v2 after a restart (no removal line written for it)');
      assert.ok((await disk.readVerified(KEY))?.equals(v2));
      await disk.close();
    });
  });

  test("update() refuses metadata of another body: the stored record's line stays its own", async () => {
    await withDir(async (dir) => {
      let disk = await DiskTier.open({ dir, maxBytes: 16 * MiB, logger: silent });
      const body = randomBytes(2000);
      assert.ok(await disk.putWhole(version(1, body.length), body));
      const stored = (await disk.get(KEY))!.meta;
      await disk.update({ ...stored, headers: { etag: '"v2"' }, bodySize: 3000, integrity: undefined });
      await disk.update({ ...stored, headers: { etag: '"v3"' }, integrity: 'crc32-00000000' });
      await disk.flush();
      assert.equal((await disk.readMeta(KEY))?.headers['etag'], '"v1"');
      await disk.close();
      disk = await DiskTier.open({ dir, maxBytes: 16 * MiB, logger: silent });
      assert.equal((await disk.readMeta(KEY))?.headers['etag'], '"v1"', 'after a restart too');
      assert.ok((await disk.readVerified(KEY))?.equals(body));
      await disk.close();
    });
  });

  test('a removal (delete, purge) while a newer write of the key is landing, which then fails: it waits for that write, and the key does not come back after a restart', async () => {
    await withDir(async (dir) => {
      let disk = await DiskTier.open({ dir, maxBytes: 16 * MiB, logger: silent });
      const v1 = randomBytes(300_000);
      assert.ok(await disk.putWhole(version(1, v1.length), v1));
      assert.ok(await disk.putWhole(makeMeta('other'), Buffer.from('other body')));
      const content = join(dir, 'content-v2');
      await rename(content, `${content}.aside`);
      await writeFile(content, 'not a directory');
      let failed = false;
      const landing = disk.putWhole(version(2, 300_001), randomBytes(300_001)).then((ok) => {
        failed = !ok;
        return ok;
      });
      // The removal skipped for the landing write (its line would supersede) must wait for its outcome.
      assert.equal(await disk.delete(KEY), true);
      assert.equal(failed, true, 'delete answered after the newer write failed');
      assert.equal(await landing, false);
      await disk.flush();
      await rm(content);
      await rename(`${content}.aside`, content);
      await disk.close();
      disk = await DiskTier.open({ dir, maxBytes: 16 * MiB, logger: silent });
      assert.equal(disk.has(KEY), false, 'the removed key stays gone');
      assert.ok(disk.has('other'));
      await disk.close();
    });
  });
});

/** Bytes of every file under `dir`. */
async function bytesUnder(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) n += (await stat(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))).size;
  }
  return n;
}

describe('disk engine: temp files of streamed bodies', () => {
  test('a streamed body beside a nearly full tier: least recently used entries are evicted as it reserves room, the disk stays within the budget while it streams, nothing is shed', async () => {
    for (const announced of [true, false]) {
      await withDir(async (dir) => {
        const maxBytes = 4 * MiB;
        const disk = await DiskTier.open({ dir, maxBytes, logger: silent });
        // 3.4 MB stored in blob files of their own (above maxBytes/64).
        for (let i = 0; i < 12; i++) assert.ok(await disk.putWhole(makeMeta(`b${i}`), randomBytes(280_000)));
        await disk.flush();
        const body = randomBytes(3 * MiB);
        const w = disk.open(makeMeta('big', announced ? { bodySize: body.length } : {}));
        for (let k = 0; k < 48; k++) {
          await w.write(body.subarray(k * 64 * KiB, (k + 1) * 64 * KiB));
          assert.ok(disk.usedBytes() <= maxBytes, `announced=${announced}: within the budget while streaming (${disk.usedBytes()} after ${k + 1} chunks)`);
        }
        await disk.queue.idle();
        assert.ok((await bytesUnder(dir)) <= maxBytes, `announced=${announced}: the files on disk within the budget while streaming`);
        assert.equal(disk.stats().writesShed, 0, 'nothing shed: eviction made the room');
        assert.equal(disk.has('b0'), false, 'the least recently used entry went');
        assert.ok(disk.has('b11'), 'the most recent one stays');
        await w.commit();
        await disk.flush();
        assert.ok((await readBody((await disk.get('big'))!.body)).equals(body), 'the streamed body landed whole');
        assert.ok(disk.usedBytes() <= maxBytes);
        assert.ok((await bytesUnder(dir)) <= maxBytes, 'the files on disk within the budget after');
        await disk.close();
      });
    }
  });

  test('concurrent large streamed writes against a small budget: shed beyond it, the disk stays within it, committed entries are not all evicted', async () => {
    await withDir(async (dir) => {
      const maxBytes = 4 * MiB;
      const disk = await DiskTier.open({ dir, maxBytes, logger: silent });
      for (let i = 0; i < 50; i++) assert.ok(await disk.putWhole(makeMeta(`small${i}`), randomBytes(2000)));
      const writers = [];
      const bigs = new Map<string, Buffer>();
      for (let j = 0; j < 6; j++) {
        const meta = makeMeta(`big${j}`, { bodySize: MiB });
        const body = randomBytes(MiB);
        bigs.set(meta.key, body);
        const w = disk.open(meta);
        writers.push(w);
        for (let k = 0; k < 16; k++) await w.write(body.subarray(k * 64 * KiB, (k + 1) * 64 * KiB));
        assert.ok(disk.usedBytes() <= maxBytes, `within the budget while writing (${disk.usedBytes()})`);
      }
      assert.ok(disk.tmpBytes <= maxBytes, 'temp bytes within the budget');
      assert.ok(disk.stats().writesShed >= 2, `streamed writes beyond the budget are shed (${disk.stats().writesShed})`);
      assert.ok(await disk.putWhole(makeMeta('one-more'), randomBytes(2000)));
      assert.ok(disk.stats().items >= 40, `a small landing does not empty the tier (${disk.stats().items} entries)`);
      await Promise.all(writers.map((w) => w.commit()));
      await disk.flush();
      const st = disk.stats();
      assert.ok(st.bytes <= maxBytes, `within the budget after (${st.bytes})`);
      const landed = [...bigs.keys()].filter((k) => disk.has(k));
      assert.ok(landed.length >= 2, `the admitted bodies landed (${landed.length})`);
      for (const k of landed) assert.ok((await readBody((await disk.get(k))!.body)).equals(bigs.get(k)!), `${k} intact`);
      assert.ok(st.items > landed.length, 'not everything else was evicted for them');
      assert.deepEqual(await namesIn(dir, 'tmp'), [], 'no temp file of a shed body left');
      let onDisk = 0;
      for (const f of await blobFiles(dir)) onDisk += (await stat(f)).size;
      assert.ok(onDisk <= maxBytes, `blob files within the budget (${onDisk})`);
      await disk.close();
    });
  });
});
