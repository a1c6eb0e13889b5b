// The disk tier's reader thread (read-thread.ts, reader-thread.ts): whole small
// bodies read in batches off the event loop. Real files, the real thread: the bytes
// at the asked offsets, short at a file's end, an I/O error as an error (its code
// kept, so reads.ts keeps the entry), many reads of one turn in one batch, and the
// thread gone after close.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ReadThread } from '../../src/store/disk/read-thread.js';
import { ReadHandles } from '../../src/store/disk/read-handles.js';
import { withDir } from './disk-helpers.js';

describe('ReadThread: batched whole reads off the event loop', () => {
  test('reads the bytes at each offset, many reads of one turn together, short at the end of the file', () =>
    withDir(async (dir) => {
      const data = randomBytes(256 * 1024);
      const path = join(dir, 'seg');
      await writeFile(path, data);
      const fh = await open(path, 'r');
      const thread = new ReadThread();
      try {
        const asks = Array.from({ length: 300 }, (_, i) => ({ off: (i * 7919) % (data.length - 16384), len: 16384 }));
        const got = await Promise.all(asks.map((a) => thread.read(fh.fd, a.off, a.len)));
        got.forEach((b, i) => assert.ok(b.equals(data.subarray(asks[i]!.off, asks[i]!.off + 16384)), `read ${i}`));
        const tail = await thread.read(fh.fd, data.length - 100, 4096);
        assert.equal(tail.length, 100);
        assert.ok(tail.equals(data.subarray(data.length - 100)));
        assert.equal(thread.pending, 0);
      } finally {
        await thread.close();
        await fh.close();
      }
    }));

  test('an I/O error rejects that read with its code, and the batch around it still reads', () =>
    withDir(async (dir) => {
      const path = join(dir, 'f');
      await writeFile(path, 'hello world');
      const fh = await open(path, 'r');
      const dirFh = await open(dir, 'r');
      const thread = new ReadThread();
      try {
        const [ok, bad] = await Promise.allSettled([thread.read(fh.fd, 6, 5), thread.read(dirFh.fd, 0, 10)]);
        assert.equal(ok.status, 'fulfilled');
        assert.equal((ok as PromiseFulfilledResult<Buffer>).value.toString(), 'world');
        assert.equal(bad.status, 'rejected');
        assert.equal(((bad as PromiseRejectedResult).reason as NodeJS.ErrnoException).code, 'EISDIR');
      } finally {
        await thread.close();
        await fh.close();
        await dirFh.close();
      }
    }));

  test('after close, a read fails as an I/O error (EREADER), never as corruption', async () => {
    const thread = new ReadThread();
    await thread.close();
    await assert.rejects(thread.read(0, 0, 1), (err: NodeJS.ErrnoException) => err.code === 'EREADER');
  });

  test('ReadHandles reads through the thread when given it', () =>
    withDir(async (dir) => {
      await writeFile(join(dir, 'a'), 'abcdefgh');
      const thread = new ReadThread();
      let asked = 0;
      const handles = new ReadHandles<string>((n) => join(dir, n), 4, (fd, off, len) => (asked++, thread.read(fd, off, len)));
      try {
        assert.equal((await handles.read('a', 2, 3)).toString(), 'cde');
        assert.equal(asked, 1);
      } finally {
        handles.closeAll();
        await thread.close();
      }
    }));
});
