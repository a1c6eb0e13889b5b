// Runs the Store contract over MemoryTier, DiskTier and TieredStore, then what
// only the memory tier does (its per-object limit, bodies owning their memory).
// The disk tier alone: disk-tier.test.ts; the tiered store: tiered-store.test.ts.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { MemoryTier } from '../../src/store/memory/memory.js';
import { DiskTier } from '../../src/store/disk/tier.js';
import { TieredStore } from '../../src/store/tiered.js';
import { makeMeta, putEntry, readBody, storeContract, testExpire, type StoreFactory } from './store.contract.js';
import { purgeContract } from './store-purge.contract.js';

const logger = pino({ level: 'silent' });

const memoryTier: StoreFactory = async (_dir, { maxBytes, maxObjectBytes }) => {
  const store = new MemoryTier({ maxBytes, maxObjectBytes: maxObjectBytes ?? maxBytes, expire: testExpire });
  return { store, settle: () => store.flush(), dispose: () => store.close() };
};

const diskTier: StoreFactory = async (dir, { maxBytes }) => {
  const store = await DiskTier.open({ dir, maxBytes, logger, expire: testExpire });
  return { store, settle: () => store.flush(), dispose: () => store.close() };
};

const tieredStore: StoreFactory = async (dir, { maxBytes, maxObjectBytes }) => {
  const memory = new MemoryTier({ maxBytes, maxObjectBytes: maxObjectBytes ?? maxBytes, expire: testExpire });
  // Wired as src/node.ts wires it: the disk LRU passes over what memory is serving.
  const disk = await DiskTier.open({ dir, maxBytes, logger, inUse: (k) => memory.has(k), expire: testExpire });
  const store = new TieredStore(memory, disk, logger);
  return { store, settle: () => store.flush(), dispose: () => store.close() };
};

for (const [name, factory] of [['MemoryTier', memoryTier], ['DiskTier', diskTier], ['TieredStore', tieredStore]] as const) {
  storeContract(name, factory);
  purgeContract(name, factory);
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
