// Ranges of a disk body this process has not verified yet (after a restart): each is
// served only once the whole body was read and its digest checked, and that whole
// read is done once per body, however many ranges want it at once — players seeking
// into one video after a deploy, or the parts of one multipart/byteranges answer —
// not once per range (16 parts of a 2 GiB body were 32 GiB read and hashed).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DiskTier } from '../../src/store/disk/tier.js';
import type { DiskRecord } from '../../src/store/disk/records.js';
import { flipByte, silent, withDir } from './disk-helpers.js';
import { blobPath } from '../../src/store/disk/layout.js';
import { collect, makeMeta, putEntry } from './store.contract.js';

const MiB = 1024 * 1024;

/** 2 MiB stored under `key` by a tier closed since; its integrity. */
async function storedBody(dir: string, key: string): Promise<{ data: Buffer; integrity: string }> {
  const data = randomBytes(2 * MiB);
  const first = await DiskTier.open({ dir, maxBytes: 1 << 26, logger: silent });
  await putEntry(first, makeMeta(key), data);
  const integrity = (await first.get(key))!.meta.integrity!;
  await first.close();
  return { data, integrity };
}

/** Reopen the tier (nothing verified by this process), counting the verifications of `key`'s body. */
async function reopened(dir: string, key: string): Promise<{ disk: DiskTier; verifications: () => number }> {
  const disk = await DiskTier.open({ dir, maxBytes: 1 << 26, logger: silent });
  const rec = disk.records.get(key)!;
  assert.equal(rec.verified, false, 'a restart forgets what was verified');
  const own = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(rec) as object, 'verified')!;
  let n = 0;
  Object.defineProperty(rec, 'verified', {
    configurable: true,
    get: () => own.get!.call(rec) as boolean,
    set: (v: boolean) => {
      if (v) n++;
      own.set!.call(rec, v);
    },
  } satisfies PropertyDescriptor & ThisType<DiskRecord>);
  return { disk, verifications: () => n };
}

test('concurrent first ranges of a body not yet verified share one whole read; each gets its bytes', async () => {
  await withDir(async (dir) => {
    const { data } = await storedBody(dir, 'm');
    const { disk, verifications } = await reopened(dir, 'm');
    try {
      const entries = await Promise.all(Array.from({ length: 10 }, () => disk.get('m')));
      const got = await Promise.all(entries.map((e, i) => collect(e!.body.stream(i * 1000, i * 1000 + 99))));
      got.forEach((g, i) => assert.ok(g.equals(data.subarray(i * 1000, i * 1000 + 100)), `range ${i}`));
      assert.equal(verifications(), 1, 'one whole read verified the body for all ten');
    } finally {
      await disk.close();
    }
  });
});

test('the parts of one answer (several ranges of one body) are verified by the first part only', async () => {
  await withDir(async (dir) => {
    const { data } = await storedBody(dir, 'p');
    const { disk, verifications } = await reopened(dir, 'p');
    try {
      const e = (await disk.get('p'))!;
      for (let i = 0; i < 16; i++) {
        const at = i * 100_000;
        assert.ok((await collect(e.body.stream(at, at + 9))).equals(data.subarray(at, at + 10)), `part ${i}`);
      }
      assert.equal(verifications(), 1);
    } finally {
      await disk.close();
    }
  });
});

test('a damaged body fails every range waiting on its one verification, and is removed', async () => {
  await withDir(async (dir) => {
    const { data, integrity } = await storedBody(dir, 'd');
    await flipByte(blobPath(dir, integrity), data.length - 1);
    const disk = await DiskTier.open({ dir, maxBytes: 1 << 26, logger: silent });
    try {
      const entries = await Promise.all(Array.from({ length: 3 }, () => disk.get('d')));
      const results = await Promise.allSettled(entries.map((e) => collect(e!.body.stream(0, 9))));
      for (const r of results) assert.equal(r.status === 'rejected' && (r.reason as NodeJS.ErrnoException).code, 'EINTEGRITY');
      assert.equal(await disk.get('d'), undefined);
    } finally {
      await disk.close();
    }
  });
});
