// RFC 9111 §4.4 and objects stored in slices (src/pipeline/slices.ts): an unsafe
// method's answer ends the joining of every fetch of its URI begun before it, the
// fetches of its slices included (each slice is fetched under a flight of its own,
// cache/slicing.ts sliceKey), so a range request after the answer gets the new
// version from a fetch of its own.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { startHarness } from '../fixtures/harness.js';

const KiB = 1024;
const SLICE = 64 * KiB;
const SIZE = 1024 * KiB;

function content(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7 + (i >> 10)) & 0xff;
  return b;
}

test('a range request after a POST does not join a slice fetch begun before it: its own fetch, the new version', async () => {
  const versions = [content(SIZE, 1), content(SIZE, 2)];
  let version = 0;
  const ranges: string[] = [];
  const held: (() => void)[] = [];
  const h = await startHarness((req, res: ServerResponse) => {
    if (req.method === 'POST') {
      version = 1;
      return void res.writeHead(201, { 'content-length': '0' }).end();
    }
    ranges.push(req.headers.range ?? '');
    const body = versions[version]!;
    const etag = `"v${version + 1}"`;
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')!;
    const start = Number(m[1]);
    const end = Math.min(Number(m[2]), SIZE - 1);
    const answer = () =>
      res
        .writeHead(206, { 'content-type': 'video/mp4', etag, 'cache-control': 'max-age=600', 'accept-ranges': 'bytes', 'content-range': `bytes ${start}-${end}/${SIZE}`, 'content-length': end - start + 1 })
        .end(body.subarray(start, end + 1));
    // The first slice fetch is held until the test answers it, with the version current when it arrived.
    if (ranges.length === 1) held.push(answer);
    else answer();
  }, { slices: { thresholdBytes: 256 * KiB, sliceBytes: SLICE } });
  try {
    const before = h.get('/big', { range: 'bytes=0-99' });
    before.catch(() => undefined);
    await h.until(() => held.length === 1, 'the slice fetch at the origin');

    const post = await h.get('/big', {}, 'POST', 'new');
    assert.equal(post.status, 201);

    const after = h.get('/big', { range: 'bytes=0-99' });
    after.catch(() => undefined);
    await h.until(() => ranges.length === 2, 'the range request after the POST to make its own slice fetch');
    assert.equal(h.node.stats.counters.joined, 0);
    const a = await after;
    assert.equal(a.status, 206);
    assert.deepEqual(a.body, versions[1]!.subarray(0, 100), 'the new version');

    held.shift()!();
    const b = await before;
    assert.deepEqual(b.body, versions[0]!.subarray(0, 100), 'begun before the write: its own answer');
  } finally {
    for (const answer of held.splice(0)) answer();
    await h.close();
  }
});
