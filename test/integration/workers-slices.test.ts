// Slices of one object on a node's workers (src/workers/worker-fetch.ts): a slice
// fetch takes the lock of that slice, not of the whole object, so two workers
// filling different slices of one object do not wait on each other. A real
// `strata --workers 2` against an origin that answers ranges and holds the
// slices back until the test lets them go.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOrigin } from '../fixtures/harness.js';
import { get, servedBy, startWorkers, stopAll } from '../fixtures/workers.js';

const KiB = 1024;
const SLICE = 64 * KiB;
const SIZE = 1024 * KiB;

const sliceRange = (i: number) => `bytes=${i * SLICE}-${(i + 1) * SLICE - 1}`;

/** Resolves once `cond` holds, polled; fails past `ms`. */
async function until(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An origin answering ranges of one object, holding every answer back until released. */
async function heldOrigin() {
  const body = Buffer.alloc(SIZE, 's');
  const ranges: string[] = [];
  const held = new Map<string, () => void>();
  let holdBack = true;
  const origin = await startOrigin((req, res) => {
    const range = req.headers.range ?? '';
    ranges.push(range);
    const m = /^bytes=(\d+)-(\d+)$/.exec(range);
    if (!m) {
      res.writeHead(200, { 'cache-control': 'max-age=600', etag: '"v1"', 'accept-ranges': 'bytes', 'content-length': SIZE });
      res.end(body);
      return;
    }
    const start = Number(m[1]);
    const end = Math.min(Number(m[2]), SIZE - 1);
    const answer = () => {
      res.writeHead(206, { 'cache-control': 'max-age=600', etag: '"v1"', 'accept-ranges': 'bytes', 'content-range': `bytes ${start}-${end}/${SIZE}`, 'content-length': end - start + 1 });
      res.end(body.subarray(start, end + 1));
    };
    if (holdBack) held.set(range, answer);
    else answer();
  });
  const release = () => {
    holdBack = false;
    for (const answer of held.values()) answer();
  };
  return { origin, ranges, held, release };
}

test('2 workers: two slices of one object are filled at once by two workers (a lock per slice, not per object)', async () => {
  const { origin, ranges, held, release } = await heldOrigin();
  const dir = await mkdtemp(join(tmpdir(), 'strata-wk-slices-'));
  const { s, base, pids } = await startWorkers(2, origin, dir, ['--slice-threshold', '256KiB', '--slice-size', '64KiB']);
  try {
    // Slice 0 is being fetched by one worker (held at the origin) ...
    const first = get(base, '/big', 'GET', { range: 'bytes=0-99' });
    await until(() => held.has(sliceRange(0)), 'the fetch of slice 0');
    // ... while a request for slice 3 reaches the other worker (node:cluster hands connections round): it fetches at once.
    const second = get(base, '/big', 'GET', { range: `bytes=${3 * SLICE}-${3 * SLICE + 99}` });
    await until(() => held.has(sliceRange(3)), 'the fetch of slice 3 while slice 0 is in flight');
    release();
    const [a, b] = await Promise.all([first, second]);
    assert.deepEqual([a.status, b.status], [206, 206]);
    assert.equal(a.body.length, 100);
    assert.equal(b.body.length, 100);
    assert.notEqual(servedBy(a), servedBy(b), `slices 0 and 3 on two workers (${a.cacheStatus} / ${b.cacheStatus})`);
    assert.deepEqual(ranges, [sliceRange(0), sliceRange(3)], 'each slice fetched once');
    await stopAll(s, pids);
  } finally {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('2 workers: a slice one worker is filling is not fetched again by the other: it waits, then takes it from that worker (only-if-cached, answered from the stored slice)', async () => {
  const { origin, ranges, held, release } = await heldOrigin();
  const dir = await mkdtemp(join(tmpdir(), 'strata-wk-slices-'));
  const { s, base, pids } = await startWorkers(2, origin, dir, ['--slice-threshold', '256KiB', '--slice-size', '64KiB']);
  try {
    const first = get(base, '/same', 'GET', { range: 'bytes=0-99' });
    await until(() => held.has(sliceRange(0)), 'the fetch of slice 0');
    // The next connection goes to the other worker: the same slice, while the first worker holds its lock.
    const second = get(base, '/same', 'GET', { range: 'bytes=100-199' });
    release();
    const [a, b] = await Promise.all([first, second]);
    assert.deepEqual([a.status, b.status], [206, 206]);
    assert.deepEqual([a.body.length, b.body.length], [100, 100]);
    assert.notEqual(servedBy(a), servedBy(b), `answered by two workers (${a.cacheStatus} / ${b.cacheStatus})`);
    assert.deepEqual(ranges, [sliceRange(0)], 'the slice fetched from the origin once');
    await stopAll(s, pids);
  } finally {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
