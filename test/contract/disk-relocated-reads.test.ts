// Reads of a segment body that a relocation moves after the read began: the body was
// found (a stream handed out, a whole read started), then its segment went mostly dead,
// its live bodies were copied out and the segment removed before the read opened it.
// The entry is healthy at its new place: it must read back whole, never be removed as
// corrupt. On real files and the real writer thread.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DiskTier } from '../../src/store/disk/tier.js';
import { makeMeta } from './store.contract.js';
import { keysBySegment, namesIn, outcome, silent, waitFor, withDir } from './disk-helpers.js';

const KiB = 1024;

/** 1 MiB budget: 64 KiB segments of 16 bodies of 4000 bytes; 64 bodies, four segments. */
async function filled(dir: string): Promise<{ disk: DiskTier; bodies: Map<string, Buffer> }> {
  const disk = await DiskTier.open({ dir, maxBytes: 1024 * KiB, logger: silent });
  const bodies = new Map<string, Buffer>();
  for (let i = 0; i < 64; i++) {
    const b = randomBytes(4000);
    bodies.set(`s${i}`, b);
    assert.ok(await disk.putWhole(makeMeta(`s${i}`), b));
  }
  await disk.flush();
  return { disk, bodies };
}

/** The keys in the second segment (closed, not the first: any closed one will do). */
function secondSegment(disk: DiskTier): { segment: number; keys: string[] } {
  const bySegment = keysBySegment(disk.records);
  const segment = [...bySegment.keys()][1]!;
  return { segment, keys: bySegment.get(segment)! };
}

/** Delete all but the first of `keys` (their segment goes mostly dead), then wait until it is relocated and removed. */
async function relocate(disk: DiskTier, dir: string, segment: number, keys: string[], bodies: Map<string, Buffer>): Promise<void> {
  for (const k of keys.slice(1)) {
    assert.ok(await disk.delete(k));
    bodies.delete(k);
  }
  await waitFor(`seg-${segment} relocated and removed`, async () => {
    await disk.flush();
    return !(await namesIn(dir, 'segments')).includes(`seg-${segment}`);
  });
  assert.notEqual(disk.records.get(keys[0]!)?.segment, segment, 'the kept body moved');
}

describe('disk tier: a body relocated after its read began', () => {
  test('a stream handed out before the relocation reads the body whole from its new place; the entry stays', async () => {
    await withDir(async (dir) => {
      const { disk, bodies } = await filled(dir);
      const { segment, keys } = secondSegment(disk);
      const key = keys[0]!;
      // get() streams the body (no whole read): found now, read after the relocation.
      const found = await disk.get(key);
      assert.ok(found);
      await relocate(disk, dir, segment, keys, bodies);
      const got = await outcome(found.body.stream());
      assert.equal(got.error, undefined, 'the read does not fail');
      assert.ok(got.data.equals(bodies.get(key)!), 'the whole body');
      assert.equal(disk.has(key), true, 'the entry stays');
      assert.equal(disk.stats().corrupt, 0);
      assert.ok((await disk.readVerified(key))?.equals(bodies.get(key)!));
      await disk.close();
    });
  });

  test('after a restart (bytes not verified yet): a range handed out before the relocation is verified and served from the new place', async () => {
    await withDir(async (dir) => {
      let { disk, bodies } = await filled(dir);
      await disk.close();
      disk = await DiskTier.open({ dir, maxBytes: 1024 * KiB, logger: silent });
      const { segment, keys } = secondSegment(disk);
      const key = keys[0]!;
      const found = await disk.get(key);
      assert.ok(found);
      assert.notEqual(disk.records.get(key)?.verified, true, 'not verified by this process yet');
      await relocate(disk, dir, segment, keys, bodies);
      // A range of unverified bytes reads the whole body first, then the range: two opens.
      const got = await outcome(found.body.stream(1000, 2999));
      assert.equal(got.error, undefined, 'the read does not fail');
      assert.ok(got.data.equals(bodies.get(key)!.subarray(1000, 3000)), 'the range');
      assert.equal(disk.has(key), true, 'the entry stays');
      assert.equal(disk.stats().corrupt, 0);
      await disk.close();
    });
  });

  test('a whole read begun before the relocation, opening the old segment after its removal, reads again at the new place; the entry stays', async () => {
    await withDir(async (dir) => {
      const { disk, bodies } = await filled(dir);
      const { segment, keys } = secondSegment(disk);
      const key = keys[0]!;
      // The read's open held back until the relocation is over: the window in which the
      // old segment is removed between the read taking its place and opening the file.
      const handles = disk.reads.segments;
      const read = handles.read.bind(handles);
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      let waiting = 0;
      handles.read = async (name, off, size) => {
        waiting++;
        await gate;
        return read(name, off, size);
      };
      const whole = disk.readVerified(key);
      try {
        await waitFor('the read to begin at the old place', () => waiting === 1);
        await relocate(disk, dir, segment, keys, bodies);
      } finally {
        open();
      }
      assert.ok((await whole)?.equals(bodies.get(key)!), 'the whole body');
      assert.equal(disk.has(key), true, 'the entry stays');
      assert.equal(disk.stats().corrupt, 0);
      await disk.close();
    });
  });
});
