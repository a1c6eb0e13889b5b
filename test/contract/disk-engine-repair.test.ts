// The disk engine's own files after a failure, on real files and its real writer
// thread: a segment that cannot be opened leaves no closed descriptor behind (later
// writes land, each body reads back its own bytes); a torn last index line is cut off
// before anything is appended (a removal written after a crash survives the next
// restart); a failed index append leaves no bytes that shift the lines after it.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { appendFile, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { appendToAll, cutTornTail } from '../../src/store/disk/index-append.js';
import { INDEX_FILE, SEGMENT_DIR } from '../../src/store/disk/layout.js';
import { DiskTier } from '../../src/store/disk/tier.js';
import { collect, makeMeta } from './store.contract.js';
import { silent, withDir } from './disk-helpers.js';

const MiB = 1024 * 1024;
/** Segments of maxBytes/16 (64 KiB): the seventh 10 kB body opens the next one. */
const maxBytes = MiB;
const openTier = (dir: string) => DiskTier.open({ dir, maxBytes, logger: silent });
const body = (i: number) => Buffer.alloc(10_000, 0x41 + i);

describe('disk engine: the next segment cannot be opened', () => {
  test('the put that needed it fails; later puts land; a streamed body opened meanwhile keeps its own bytes; every body reads back as written (also after a restart)', async () => {
    await withDir(async (dir) => {
      let disk = await openTier(dir);
      const stored = new Map<string, Buffer>();
      for (let i = 0; i < 6; i++) {
        assert.ok(await disk.putWhole(makeMeta(`k${i}`), body(i)), `k${i} stored`);
        stored.set(`k${i}`, body(i));
      }
      // The segment directory is unusable for a moment: the next segment's open fails (ENOTDIR).
      const segments = join(dir, SEGMENT_DIR);
      await rename(segments, `${segments}.aside`);
      await writeFile(segments, '');
      assert.equal(await disk.putWhole(makeMeta('k6'), body(6)), false, 'the put that needed a new segment fails');
      await rm(segments);
      await rename(`${segments}.aside`, segments);

      // A large body streams to a temp file the main thread opens: it may take the number the failed roll-over freed.
      const big = makeMeta('big', { bodySize: 400_000 });
      const w = disk.open(big);
      await w.write(Buffer.alloc(200_000, 0x51));
      for (let i = 7; i < 10; i++) {
        assert.ok(await disk.putWhole(makeMeta(`k${i}`), body(i)), `k${i} stored after the failed open`);
        stored.set(`k${i}`, body(i));
      }
      await w.write(Buffer.alloc(200_000, 0x51));
      await w.commit();
      stored.set('big', Buffer.alloc(400_000, 0x51));

      for (const round of ['before a restart', 'after a restart']) {
        for (const [key, want] of stored) {
          const got = key === 'big' ? await collect((await disk.get(key))!.body.stream()) : await disk.readVerified(key);
          assert.ok(got?.equals(want), `${key} reads back its own bytes (${round})`);
        }
        assert.equal(disk.has('k6'), false);
        await disk.close();
        disk = await openTier(dir);
      }
      await disk.close();
    });
  });
});

describe('disk engine: a torn last index line', () => {
  test('is cut off when the writer opens the index: a removal written after the restart survives the next one, the other entries too', async () => {
    await withDir(async (dir) => {
      let disk = await openTier(dir);
      for (const k of ['a', 'b', 'c']) assert.ok(await disk.putWhole(makeMeta(k), Buffer.from(`body of ${k}`)));
      await disk.close();
      // A kill mid-append: the start of a line, no newline.
      const index = join(dir, INDEX_FILE);
      await appendFile(index, '{"k":"GET http://site.example/torn","s":12,"t":17000');

      disk = await openTier(dir);
      assert.deepEqual([...disk.records.keys()].sort(), ['a', 'b', 'c']);
      assert.equal(await disk.delete('a'), true);
      await disk.flush();
      await disk.close();
      const text = await readFile(index, 'utf8');
      assert.ok(text.endsWith('\n'), 'the index ends with a whole line');
      assert.ok(!text.includes('"t":17000{'), 'no line glued to the fragment');

      disk = await openTier(dir);
      assert.equal(disk.has('a'), false, 'the deleted key stays gone');
      for (const k of ['b', 'c']) assert.ok((await disk.readVerified(k))?.equals(Buffer.from(`body of ${k}`)), `${k} survives`);
      await disk.close();
    });
  });

  test('cutTornTail: keeps whole lines, cuts the fragment, empties a file of one torn line', async () => {
    await withDir(async (dir) => {
      const path = join(dir, 'f');
      const long = 'x'.repeat(200_000);
      for (const [content, want] of [
        ['one\ntwo\n', 'one\ntwo\n'],
        [`one\n${long}`, 'one\n'],
        [`${long}\nfrag`, `${long}\n`],
        ['frag', ''],
        ['', ''],
      ] as const) {
        await writeFile(path, content);
        const fd = openSync(path, 'a+');
        try {
          assert.equal(cutTornTail(fd), want.length);
        } finally {
          closeSync(fd);
        }
        assert.equal(readFileSync(path, 'utf8'), want);
      }
    });
  });
});

describe('disk engine: a failed index append', () => {
  test('appendToAll: a short write then ENOSPC on the second file cuts both back; the next append lands at the old ends', async () => {
    await withDir(async (dir) => {
      const paths = [join(dir, 'index'), join(dir, 'compacting')];
      await writeFile(paths[0]!, 'h\nline1\n');
      await writeFile(paths[1]!, 'h\n');
      const fds = [openSync(paths[0]!, 'a+'), openSync(paths[1]!, 'w+')];
      try {
        const targets = [
          { fd: fds[0]!, size: 8 },
          { fd: fds[1]!, size: 2 },
        ];
        // The compacting file's descriptor is at its end, as after its header.
        appendToAll([{ fd: fds[1]!, size: 0 }], Buffer.from('h\n'));
        let calls = 0;
        const failing = (fd: number, data: Uint8Array, at: number) => {
          if (++calls === 1) return appendToAll([{ fd, size: at }], data);
          // Half the line, then the disk is full.
          appendToAll([{ fd, size: at }], data.subarray(0, 3));
          throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
        };
        assert.throws(() => appendToAll(targets, Buffer.from('line2\n'), failing), { code: 'ENOSPC' });
        assert.deepEqual(targets.map((t) => t.size), [8, 2], 'sizes unchanged');
        assert.equal(readFileSync(paths[0]!, 'utf8'), 'h\nline1\n', 'the index is cut back');
        assert.equal(readFileSync(paths[1]!, 'utf8'), 'h\n', 'the compacting file is cut back');
        appendToAll(targets, Buffer.from('line3\n'));
        assert.equal(readFileSync(paths[0]!, 'utf8'), 'h\nline1\nline3\n');
        assert.equal(readFileSync(paths[1]!, 'utf8'), 'h\nline3\n', 'no hole where the failed bytes were');
        assert.deepEqual(targets.map((t) => t.size), [14, 8]);
      } finally {
        for (const fd of fds) closeSync(fd);
      }
    });
  });
});
