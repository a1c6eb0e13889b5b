// The ring bodies travel in to the disk writer thread (src/store/disk/body-ring.ts):
// after any sequence of puts and in-order releases, no two regions in use overlap,
// each region still holds the bytes put into it, a body that does not fit is
// refused (-1: the queue then clones it), and an emptied ring takes a body of its
// whole size again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BodyRing } from '../../src/store/disk/body-ring.js';
import { seededRandom } from '../fixtures/seeded-random.js';

test('regions in use never overlap and keep their bytes, across wraps', () => {
  const rnd = seededRandom(7);
  const ring = new BodyRing(4096);
  const view = new Uint8Array(ring.memory);
  const live: { at: number; len: number; fill: number }[] = [];
  let refused = 0;
  let wrapped = 0;
  for (let step = 0; step < 20_000; step++) {
    if (live.length > 0 && rnd() < 0.45) {
      ring.release();
      live.shift();
      continue;
    }
    const len = 1 + Math.floor(rnd() * 1500);
    const fill = step % 251;
    const half = len >> 1;
    const at = ring.put([new Uint8Array(half).fill(fill), new Uint8Array(len - half).fill(fill)], len);
    if (at < 0) {
      refused++;
      continue;
    }
    if (live.length > 0 && at < live[live.length - 1]!.at) wrapped++;
    assert.ok(at + len <= ring.size, 'a region lies inside the ring');
    for (const r of live) assert.ok(at + len <= r.at || r.at + r.len <= at, `region [${at}, ${at + len}) overlaps [${r.at}, ${r.at + r.len})`);
    live.push({ at, len, fill });
    for (const r of live) assert.ok(view[r.at] === r.fill && view[r.at + r.len - 1] === r.fill, 'a region in use keeps its bytes');
  }
  assert.ok(refused > 0 && wrapped > 0, `the sequence exercised both a full ring (${refused}) and wraps (${wrapped})`);
  assert.equal(ring.inUse, live.length);
});

test('a body larger than the ring, or empty, is refused; an emptied ring takes its whole size', () => {
  const ring = new BodyRing(1024);
  assert.equal(ring.put([new Uint8Array(1025)], 1025), -1);
  assert.equal(ring.put([], 0), -1);
  assert.equal(ring.put([new Uint8Array(600)], 600), 0);
  assert.equal(ring.put([new Uint8Array(600)], 600), -1, 'no room for a second one');
  ring.release();
  assert.equal(ring.inUse, 0);
  assert.equal(ring.put([new Uint8Array(1000), new Uint8Array(24)], 1024), 0);
});

test('a backlog that never empties keeps to the start of the ring: the pages touched follow the backlog, not the ring size', () => {
  // Why: a ring's pages, once written, stay resident for the life of the process. Under a
  // storm of misses the queue seldom empties, and a ring that only restarted at 0 when
  // empty walked its whole 16 MiB (10-12 MiB resident in a 60 s storm of 2 KiB bodies,
  // counted by no budget) to carry a backlog of a few hundred KiB.
  const ring = new BodyRing(1024 * 1024);
  const len = 2048;
  let inUse = 0;
  let highest = 0;
  for (let step = 0; step < 20_000; step++) {
    // A backlog of 4 to 12 bodies: never empty.
    if (inUse >= 12 || (inUse > 4 && step % 3 === 0)) {
      ring.release();
      inUse--;
      continue;
    }
    const at = ring.put([new Uint8Array(len)], len);
    assert.ok(at >= 0, 'a body fits a ring far larger than the backlog');
    highest = Math.max(highest, at + len);
    inUse++;
  }
  assert.ok(inUse > 0);
  assert.ok(highest <= 3 * 12 * len, `the ring was written up to byte ${highest} for a backlog of at most ${12 * len} bytes`);
});
