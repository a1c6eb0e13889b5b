// The disk tier's index loading in the background (store/disk/load.ts): the tier
// answers before the load ends; what happens meanwhile (writes, deletes,
// invalidations, purges) wins over what loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { DiskTier } from '../../src/store/disk/tier.js';
import { collect, freshDir, makeMeta, putEntry, removeDir, selector, testExpire } from './store.contract.js';

const logger = pino({ level: 'silent' });
const N = 3_000;

async function filled(dir: string): Promise<Map<string, Buffer>> {
  const bodies = new Map<string, Buffer>();
  const disk = await DiskTier.open({ dir, maxBytes: 1 << 30, logger, expire: testExpire });
  // 100 at a time: one commit at a time took seconds; the index loads alike however it was written.
  for (let start = 0; start < N; start += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, j) => {
        const i = start + j;
        const b = randomBytes(64);
        bodies.set(`k${i}`, b);
        return putEntry(disk, makeMeta(`k${i}`, { tags: i % 2 ? ['odd'] : [], url: `http://h.example/p/${i}` }), b);
      }),
    );
  }
  await disk.close();
  return bodies;
}

test('a tier opened with loadInBackground answers before its index is loaded; writes, deletes, invalidations and purges made meanwhile win', async () => {
  const dir = await freshDir();
  try {
    const bodies = await filled(dir);
    const disk = await DiskTier.open({ dir, maxBytes: 1 << 30, logger, expire: testExpire, loadInBackground: true });
    // Nothing is loaded yet when open() resolves: the load starts after it.
    assert.equal(disk.stats().loading, true);
    assert.equal(await disk.get('k0'), undefined, 'an entry not loaded yet is a miss');
    // Meanwhile: a newer body for k1, k2 deleted, k3's URL invalidated, odd tags purged.
    const newer = randomBytes(64);
    await putEntry(disk, makeMeta('k1', { url: 'http://h.example/p/1' }), newer);
    await disk.delete('k2');
    await disk.invalidate('k3');
    await disk.purge(selector({ tags: ['odd'] }));
    await disk.ready;
    assert.equal(disk.stats().loading, false);
    assert.ok((await collect((await disk.get('k1'))!.body.stream())).equals(newer), 'the write made while loading wins');
    assert.equal(await disk.get('k2'), undefined, 'deleted while loading');
    assert.equal(await disk.get('k3'), undefined, 'invalidated while loading');
    assert.equal(await disk.get('k5'), undefined, 'purged while loading');
    assert.ok((await collect((await disk.get('k4'))!.body.stream())).equals(bodies.get('k4')!));
    // Purged records leave the count when the background purge walk has removed them.
    await disk.flush();
    assert.equal(disk.stats().items, N / 2 - 1 /* k2 */ + 1 /* k1, odd but rewritten after the purge */);
    await disk.close();

    // And all of it is durable.
    const again = await DiskTier.open({ dir, maxBytes: 1 << 30, logger, expire: testExpire });
    for (const k of ['k2', 'k3', 'k5', 'k7']) assert.equal(await again.get(k), undefined, k);
    assert.ok((await collect((await again.get('k1'))!.body.stream())).equals(newer));
    assert.ok((await again.get('k6'))!);
    assert.equal(again.stats().items, N / 2);
    await again.close();
  } finally {
    await removeDir(dir);
  }
});

test('a URI invalidated while the index loads loses its keyed versions ("#…") and their variants as they load, for good', async () => {
  const dir = await freshDir();
  try {
    const url = 'http://h.example/q';
    const keys = [`GET ${url}`, `GET ${url}#side=canary`, `GET ${url}#x-device=mobile\naccept-encoding=br\n`];
    const kept = `GET ${url}2#side=canary`;
    const disk = await DiskTier.open({ dir, maxBytes: 1 << 30, logger, expire: testExpire });
    for (const k of [...keys, kept]) {
      const primaryKey = k.split('\n')[0]!;
      await putEntry(disk, makeMeta(k, { primaryKey, url: primaryKey.slice(4) }), randomBytes(64));
    }
    await disk.close();
    const loading = await DiskTier.open({ dir, maxBytes: 1 << 30, logger, expire: testExpire, loadInBackground: true });
    assert.equal(loading.stats().loading, true);
    await loading.invalidate(`GET ${url}`);
    await loading.ready;
    for (const k of keys) assert.equal(await loading.get(k), undefined, `${JSON.stringify(k)} invalidated while loading`);
    assert.ok(await loading.get(kept), 'another URI with the same start is kept');
    await loading.close();
    const again = await DiskTier.open({ dir, maxBytes: 1 << 30, logger, expire: testExpire });
    for (const k of keys) assert.equal(await again.get(k), undefined, `${JSON.stringify(k)}: the removal is durable`);
    assert.equal(again.stats().items, 1);
    await again.close();
  } finally {
    await removeDir(dir);
  }
});
