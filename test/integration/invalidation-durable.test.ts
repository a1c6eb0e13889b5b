// RFC 9111 §4.4 and a crash of the process (CACHING.md, Invalidation): the removal
// an unsafe method's answer stands for is written to the disk index before that
// answer, also when the URI's first disk write is still landing then (its record
// line written by the writer thread, not yet taken in by the tier). What a crash
// leaves is the cache directory as it is at the answer: a copy of it, opened by a
// new disk tier, must not hold the entry.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { DiskTier } from '../../src/store/disk/tier.js';
import type { OpResult } from '../../src/store/disk/write-ops.js';
import { startHarness } from '../fixtures/harness.js';

test("a POST while the URI's first disk write is landing: the removal is on disk before the answer, so a crash then does not bring the entry back", async () => {
  const h = await startHarness((req, res) => {
    if (req.method === 'POST') return void res.writeHead(201, { 'content-length': '0' }).end();
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '2' }).end('v1');
  });
  const copy = mkdtempSync(join(tmpdir(), 'strata-crash-'));
  const disk = h.node.store().disk;
  // The hook: the tier takes in the first write's landing only when released (the writer
  // thread has written its body and record line by then), as a busy event loop would.
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let written = false;
  const put = disk.queue.put.bind(disk.queue);
  disk.queue.put = (...args: Parameters<typeof put>): Promise<OpResult> =>
    put(...args).then(async (r) => {
      written = true;
      await released;
      return r;
    });
  // Released as soon as the invalidation waits for that landing, or else once the POST is answered.
  let waitedOn!: () => void;
  const waited = new Promise<void>((r) => (waitedOn = r));
  const settled = disk.landings.settled.bind(disk.landings);
  disk.landings.settled = (key: string) => {
    waitedOn();
    return settled(key);
  };
  try {
    assert.equal((await h.get('/w')).text, 'v1');
    await h.stored(1);
    await h.until(() => written, 'the record line written by the writer thread');
    assert.ok(disk.landings.pending(`GET http://${new URL(h.base).host}/w`), 'its landing not taken in yet');

    const post = h.get('/w', {}, 'POST', 'x');
    const first = await Promise.race([post.then(() => 'answered'), waited.then(() => 'waited')]);
    if (first === 'waited') release();
    assert.equal((await post).status, 201);
    // What a crash of the process at the answer leaves: written lines, not fsynced, are kept.
    cpSync(h.cacheDir, copy, { recursive: true });
    release();

    const after = await DiskTier.open({ dir: copy, maxBytes: 1 << 26, logger: pino({ level: 'silent' }) });
    try {
      assert.deepEqual(after.variants(`GET http://${new URL(h.base).host}/w`), [], 'the invalidated entry is not back after the crash');
    } finally {
      await after.close();
    }
  } finally {
    release();
    rmSync(copy, { recursive: true, force: true });
    await h.close();
  }
});
