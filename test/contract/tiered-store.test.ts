// The tiered store: promotion, races between commits, deletes, purges and disk
// writes landing, and an entry between memory eviction and its disk landing.

import type { EntryMeta } from '../../src/store/types.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { open } from 'node:fs/promises';
import { pino } from 'pino';
import { segmentPath } from '../../src/store/disk/layout.js';
import { MemoryTier } from '../../src/store/memory/memory.js';
import { DiskTier } from '../../src/store/disk/tier.js';
import { TieredStore } from '../../src/store/tiered.js';
import { SupersededError } from '../../src/store/types.js';
import { withDir } from './disk-helpers.js';
import { collect, makeMeta, putEntry, readBody, selector, testExpire } from './store.contract.js';

const logger = pino({ level: 'silent' });

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

  test('a small disk-only hit (kept out of memory) is read whole through the reader thread: concurrent hits, LRU touch, a delete between hits', async () => {
    await withDir(async (dir) => {
      const bodies = Array.from({ length: 20 }, () => randomBytes(16 * 1024));
      let t = await tiered(dir);
      for (let i = 0; i < bodies.length; i++) await putEntry(t.store, makeMeta(`d${i}`), bodies[i]!);
      await t.store.close();
      // Memory refuses 16 KiB bodies: every hit reads from disk.
      t = await tiered(dir, 16 * 1024 - 1);
      const hits = await Promise.all(Array.from({ length: 200 }, (_, k) => t.store.get(`d${k % bodies.length}`)));
      hits.forEach((e, k) => assert.ok(e?.body.buffer?.equals(bodies[k % bodies.length]!), `hit ${k}`));
      assert.equal(t.memory.peek('d0'), undefined, 'not promoted');
      // The hit moved its record to the young end of the disk's LRU order.
      await t.store.get('d3');
      assert.equal([...t.disk.records.keys()].at(-1), 'd3');
      // Deleted between hits: never served again (its metadata cached for hits or not).
      assert.equal(await t.store.delete('d3'), true);
      assert.equal(await t.store.get('d3'), undefined);
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
        assert.equal(await t.store.invalidate(`pv${i}`), 1);
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
  test('an update() that refreshes an older body (WriteOptions.refreshes) is dropped by both tiers, the newer body\'s landing disk write included; one of the stored body applies', async () => {
    await withDir(async (dir) => {
      let t = await tiered(dir, 4 * 1024 * 1024);
      const older = makeMeta('r', { headers: { etag: '"A"' } });
      await putEntry(t.store, older, randomBytes(2 * 1024 * 1024), 64 * 1024);
      await t.store.flush();
      const validated = (await t.store.get('r'))!;
      // A newer body committed; its disk write still landing when the late refresh of the older one comes.
      await putEntry(t.store, makeMeta('r', { headers: { etag: '"B"' } }), randomBytes(2 * 1024 * 1024), 64 * 1024);
      await t.store.update({ ...validated.meta, headers: { etag: '"A"', 'x-late': '1' }, freshnessLifetimeS: 999 }, { refreshes: validated });
      await t.store.flush();
      assert.equal(t.store.peek('r')?.meta.headers['etag'], '"B"', 'memory keeps the newer body\'s metadata');
      assert.equal((await t.disk.readMeta('r'))?.headers['etag'], '"B"', 'so does the disk');
      const current = (await t.store.get('r'))!;
      await t.store.update({ ...current.meta, headers: { etag: '"B"', 'x-refreshed': '1' } }, { refreshes: current });
      await t.store.flush();
      assert.equal(t.store.peek('r')?.meta.headers['x-refreshed'], '1', 'a refresh of the stored body applies');
      await t.store.close();
      t = await tiered(dir);
      const after = await t.disk.readMeta('r');
      assert.equal(after?.headers['etag'], '"B"');
      assert.equal(after?.headers['x-refreshed'], '1');
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
