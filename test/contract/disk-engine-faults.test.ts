// The disk engine under faults, on real files, its real writer thread and a real
// child process: a read that fails for the system's reasons deletes nothing; a disk
// that cannot be written leaves the answer in memory; a process killed mid-fill
// leaves no partial body behind; bytes damaged while the node was down are never
// served, not even as a range.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { blobPath, segmentPath } from '../../src/store/disk/layout.js';
import { DiskTier } from '../../src/store/disk/tier.js';
import { MemoryTier } from '../../src/store/memory/memory.js';
import { TieredStore } from '../../src/store/tiered.js';
import { collect, freshDir, makeMeta, putEntry, readBody, removeDir } from './store.contract.js';
import { blobFiles, capturingLogger, flipByte, namesIn, outcome, runLimited, silent, waitFor, withDir } from './disk-helpers.js';

const MiB = 1024 * 1024;
/** Bodies above maxBytes/64 (256 KiB here) get a blob file; smaller ones go to a segment. */
const maxBytes = 16 * MiB;
const openTier = (dir: string) => DiskTier.open({ dir, maxBytes, logger: silent });

/** Replace a file by a directory of the same name (reads fail with EISDIR); returns the restorer. */
async function swapForDirectory(path: string): Promise<() => Promise<void>> {
  await rename(path, `${path}.aside`);
  await mkdir(path);
  return async () => {
    await rmdir(path);
    await rename(`${path}.aside`, path);
  };
}

describe('disk engine: an I/O error during a read deletes nothing', () => {
  test('readVerified, a whole stream and a range of a blob and of a segment body: missed, counted as I/O errors, kept; readable once the file is back', async () => {
    await withDir(async (dir) => {
      let disk = await openTier(dir);
      const bodies = { blob: randomBytes(300_000), seg: randomBytes(5000) };
      await putEntry(disk, makeMeta('blob'), bodies.blob);
      // Only whole bodies (the memory tier's copies) go to segments.
      assert.ok(await disk.putWhole(makeMeta('seg'), bodies.seg));
      const paths = { blob: blobPath(dir, disk.records.get('blob')!.integrity), seg: segmentPath(dir, disk.records.get('seg')!.segment!) };
      assert.equal(disk.records.get('blob')!.segment, undefined, 'a blob file of its own');
      assert.notEqual(disk.records.get('seg')!.segment, undefined, 'in a segment file');

      for (const round of ['written by this process', 'after a restart (not verified yet)']) {
        for (const key of ['blob', 'seg'] as const) {
          const what = `${key}, ${round}`;
          const restore = await swapForDirectory(paths[key]);
          const before = disk.stats();
          assert.equal(await disk.readVerified(key), undefined, what);
          for (const range of [[], [100, 1099]] as const) {
            const e = await disk.get(key);
            assert.ok(e, `${what}: the record is still served`);
            const o = await outcome(e.body.stream(...range));
            assert.equal(o.ended, false, `${what} ${range}: the stream never ends cleanly`);
            assert.equal(o.error?.code, 'EISDIR', what);
          }
          const after = disk.stats();
          assert.equal(after.ioErrors, before.ioErrors + 3, `${what}: three reads counted as I/O errors`);
          assert.equal(after.corrupt, before.corrupt, `${what}: not counted as corrupt`);
          assert.equal(after.items, 2);
          assert.ok(disk.holds(key), `${what}: the record stays`);
          await disk.flush();
          await restore();
          assert.ok((await disk.readVerified(key))?.equals(bodies[key]), `${what}: reads back`);
          const e = await disk.get(key);
          assert.ok((await collect(e!.body.stream(100, 1099))).equals(bodies[key].subarray(100, 1100)), `${what}: range reads back`);
          assert.ok((await collect(e!.body.stream())).equals(bodies[key]), `${what}: stream reads back`);
        }
        await disk.close();
        disk = await openTier(dir);
        assert.equal(disk.stats().items, 2, 'nothing was removed on disk either');
      }
      await disk.close();
    });
  });
});

describe('disk engine: a disk that cannot be written', () => {
  test('writer thread unable to start (segments/ and tmp/ are plain files): puts succeed, memory serves them, the disk holds nothing, failures logged', async () => {
    await withDir(async (dir) => {
      const cap = capturingLogger();
      const memory = new MemoryTier({ maxBytes: 16 * MiB, maxObjectBytes: MiB });
      const disk = await DiskTier.open({ dir, maxBytes, logger: cap.logger, inUse: (k) => memory.has(k) });
      // The writer thread starts with the first write (it creates segments/): not yet.
      assert.equal(existsSync(join(dir, 'segments')), false, 'no writer thread before the first write');
      await rm(join(dir, 'tmp'), { recursive: true, force: true });
      await writeFile(join(dir, 'tmp'), 'not a directory');
      await writeFile(join(dir, 'segments'), 'not a directory');
      const store = new TieredStore(memory, disk, cap.logger);
      const bodies = { small: randomBytes(5000), large: randomBytes(300_000) };
      for (const [k, b] of Object.entries(bodies)) await putEntry(store, makeMeta(k), b);
      await store.flush();
      for (const [k, b] of Object.entries(bodies)) {
        const e = await store.get(k);
        assert.ok(e, `${k} served`);
        assert.ok(e.body.buffer, `${k} from memory`);
        assert.ok((await readBody(e.body)).equals(b));
        assert.equal(disk.holds(k), false, `${k} not on disk`);
      }
      const st = disk.stats();
      assert.equal(st.items, 0);
      assert.equal(st.writesQueued, 0);
      assert.equal(st.bytesQueued, 0);
      assert.ok(cap.has('error', /writer thread failed/), 'the thread failure is logged');
      assert.ok(cap.has('warn', /write failed; the entry is kept in memory only/), 'the lost write is logged');
      await store.close();
      assert.deepEqual(await blobFiles(dir), []);
    });
  });

  test('writer thread unable to start under a storm of writes: not restarted for every batch (one failure logged), the writes fail at once meanwhile, and a thread starts again once the disk is back', async () => {
    await withDir(async (dir) => {
      const cap = capturingLogger();
      const disk = await DiskTier.open({ dir, maxBytes, logger: cap.logger });
      await rm(join(dir, 'tmp'), { recursive: true, force: true });
      await writeFile(join(dir, 'tmp'), 'not a directory');
      await writeFile(join(dir, 'segments'), 'not a directory');
      const crashes = () => cap.lines.filter((l) => /writer thread failed/.test(l.msg)).length;
      // Forty batches, each in a turn of its own (the queue sends one batch per turn).
      for (let i = 0; i < 40; i++) assert.equal(await disk.putWhole(makeMeta(`k${i}`), randomBytes(2000)), false);
      assert.equal(crashes(), 1, 'one thread failed; no new thread for every batch');
      assert.ok(disk.stats().writeErrors >= 40, 'each failed write counted');
      await rm(join(dir, 'tmp'));
      await rm(join(dir, 'segments'));
      const body = randomBytes(2000);
      await waitFor('a write landing again', async () => (await disk.putWhole(makeMeta('back'), body)) || (await new Promise((r) => setTimeout(r, 50)), false));
      assert.ok((await disk.readVerified('back'))!.equals(body));
      await disk.close();
    });
  });

  test('blob writes failing one by one (content-v2/ is a plain file): the thread keeps writing segments, the blob body stays in memory, no temp file left', async () => {
    await withDir(async (dir) => {
      const cap = capturingLogger();
      const memory = new MemoryTier({ maxBytes: 16 * MiB, maxObjectBytes: MiB });
      const disk = await DiskTier.open({ dir, maxBytes, logger: cap.logger, inUse: (k) => memory.has(k) });
      await writeFile(join(dir, 'content-v2'), 'not a directory');
      const store = new TieredStore(memory, disk, cap.logger);
      const large = randomBytes(300_000);
      const small = randomBytes(5000);
      await putEntry(store, makeMeta('large'), large);
      await putEntry(store, makeMeta('small'), small);
      await store.flush();
      assert.ok((await readBody((await store.get('large'))!.body)).equals(large), 'served from memory');
      assert.equal(disk.holds('large'), false);
      assert.ok(disk.holds('small'), 'the writer thread still works');
      assert.ok((await disk.readVerified('small'))!.equals(small));
      assert.deepEqual(await namesIn(dir, 'tmp'), [], 'the temp file of the failed blob is removed');
      assert.ok(cap.has('warn', /write failed; the entry is kept in memory only/));
      assert.equal(cap.has('error', /writer thread failed/), false, 'an op failure is not a thread failure');
      await store.close();
    });
  });
});

/** A child process that commits two entries, then streams a large body slowly, forever short of its commit. */
const CHILD = `
import { DiskTier } from ${JSON.stringify(new URL('../../src/store/disk/tier.js', import.meta.url).href)};
const noop = () => {};
const logger = { info: noop, warn: noop, error: noop, debug: noop, trace: noop, fatal: noop };
const [dir, metasJson] = process.argv.slice(2);
const metas = JSON.parse(metasJson);
const tier = await DiskTier.open({ dir, maxBytes: ${256 * MiB}, logger });
if (!(await tier.putWhole(metas.seg, Buffer.alloc(3000, 's')))) throw new Error('seg not stored');
const blob = tier.open(metas.blob);
await blob.write(Buffer.alloc(${2 * MiB}, 'b'));
await blob.commit();
await tier.flush();
process.stdout.write('committed\\n');
const w = tier.open(metas.partial);
const chunk = Buffer.alloc(64 * 1024, 'p');
for (let i = 0; i < 800; i++) {
  await w.write(chunk);
  await new Promise((r) => setTimeout(r, 5));
}
await w.commit();
await tier.flush();
process.stdout.write('finished\\n');
`;

describe('disk engine: a process killed mid-fill', () => {
  test('kill -9 while a 50 MB body streams to its temp file: the next start finds tmp/ empty, no partial blob, the key absent; committed entries intact', async () => {
    await withDir(async (dir) => {
      const scriptDir = await freshDir('strata-child-');
      try {
        const script = join(scriptDir, 'fill.mjs');
        await writeFile(script, CHILD);
        const metas = { seg: makeMeta('seg'), blob: makeMeta('blob'), partial: makeMeta('partial', { bodySize: 800 * 64 * 1024 }) };
        const child = spawn(process.execPath, [script, dir, JSON.stringify(metas)], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (err += c.toString()));
        const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
        try {
          await waitFor('the child to commit its first entries', () => out.includes('committed') || child.exitCode !== null, 20_000);
          assert.ok(out.includes('committed'), `child failed: ${err}`);
          // Its temp file holds part of the body (more than a MiB of the 50).
          let partial = '';
          await waitFor('a partial body in tmp/', async () => {
            for (const name of await namesIn(dir, 'tmp')) {
              const size = await stat(join(dir, 'tmp', name)).then((s) => s.size, () => 0);
              if (size > MiB) partial = name;
            }
            return partial !== '';
          }, 20_000);
          child.kill('SIGKILL');
        } finally {
          if (child.exitCode === null) child.kill('SIGKILL');
        }
        const { signal } = await exited;
        assert.equal(signal, 'SIGKILL', 'killed mid-fill, not finished');
        assert.equal(out.includes('finished'), false);
        assert.ok((await namesIn(dir, 'tmp')).length > 0, 'the crash left its temp file');

        const disk = await openTier(dir);
        assert.deepEqual(await namesIn(dir, 'tmp'), [], 'tmp/ is emptied at start');
        assert.equal(await disk.get('partial'), undefined);
        assert.equal(disk.holds('partial'), false);
        assert.ok((await disk.readVerified('seg'))!.equals(Buffer.alloc(3000, 's')));
        assert.ok((await collect((await disk.get('blob'))!.body.stream())).equals(Buffer.alloc(2 * MiB, 'b')));
        await disk.flush();
        const blobs = await blobFiles(dir);
        assert.equal(blobs.length, 1, 'only the committed blob');
        assert.equal((await stat(blobs[0]!)).size, 2 * MiB);
        await disk.close();
      } finally {
        await removeDir(scriptDir);
      }
    });
  });
});

describe('disk engine: a body damaged while the node was down, read by range', () => {
  test('a blob and a segment body with a byte flipped mid-body: the range stream errors, the entry is removed and stays removed', async () => {
    await withDir(async (dir) => {
      let disk = await openTier(dir);
      const bodies = { blob: randomBytes(600_000), seg: randomBytes(20_000), intact: randomBytes(20_000) };
      await putEntry(disk, makeMeta('blob'), bodies.blob);
      assert.ok(await disk.putWhole(makeMeta('seg'), bodies.seg));
      assert.ok(await disk.putWhole(makeMeta('intact'), bodies.intact));
      const blob = disk.records.get('blob')!;
      const seg = disk.records.get('seg')!;
      assert.equal(blob.segment, undefined);
      assert.notEqual(seg.segment, undefined);
      await disk.close();
      await flipByte(blobPath(dir, blob.integrity), 300_000);
      await flipByte(segmentPath(dir, seg.segment!), seg.off! + 10_000);

      disk = await openTier(dir);
      for (const key of ['blob', 'seg'] as const) {
        const before = disk.stats();
        const e = await disk.get(key);
        assert.ok(e, `${key}: listed until read`);
        // A range far from the damage: it cannot be hashed alone, so the whole body is checked first.
        const o = await outcome(e.body.stream(100, 5099));
        assert.equal(o.ended, false, `${key}: the range never ends cleanly`);
        assert.equal(o.error?.code, 'EINTEGRITY', key);
        assert.equal(o.data.length, 0, `${key}: no byte of it was served`);
        assert.equal(disk.stats().corrupt, before.corrupt + 1, `${key}: counted as corrupt`);
        assert.equal(disk.stats().ioErrors, before.ioErrors);
        assert.equal(disk.holds(key), false, `${key}: removed`);
        assert.equal(await disk.get(key), undefined);
      }
      const intact = await disk.get('intact');
      assert.ok((await collect(intact!.body.stream(100, 5099))).equals(bodies.intact.subarray(100, 5100)), 'an undamaged neighbour in the segment is served');
      await disk.close();

      disk = await openTier(dir);
      assert.equal(await disk.get('blob'), undefined, 'blob stays removed after a restart');
      assert.equal(await disk.get('seg'), undefined, 'segment body stays removed after a restart');
      assert.ok(disk.holds('intact'));
      await disk.flush();
      assert.deepEqual(await blobFiles(dir), [], 'the damaged blob file is gone');
      await disk.close();
    });
  });
});

/**
 * Run under `ulimit -f` (the file size limit): stores a 20 KB blob ('shared'), fills the
 * index with entries until their lines no longer fit (the writes whose line failed put
 * their 100-byte bodies in a segment), then writes blobs whose lines cannot fit: a new
 * body, the shared body again under another key, and a streamed one. Prints what is left.
 */
const FULL_INDEX_CHILD = `
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DiskTier } from ${JSON.stringify(new URL('../../src/store/disk/tier.js', import.meta.url).href)};
import { makeMeta } from ${JSON.stringify(new URL('./store.contract.js', import.meta.url).href)};
const noop = () => {};
const logger = { info: noop, warn: noop, error: noop, debug: noop, trace: noop, fatal: noop };
const [dir] = process.argv.slice(2);
const tier = await DiskTier.open({ dir, maxBytes: ${MiB}, logger });
const padded = (key, pad, more = {}) => makeMeta(key, { headers: pad ? { 'x-pad': 'p'.repeat(pad) } : {}, ...more });
const shared = Buffer.alloc(20_000, 's');
if (!(await tier.putWhole(padded('shared', 0), shared))) throw new Error('shared not stored');
let n = 0;
let segmentFailures = 0;
// Lines ever shorter, until not even the shortest fits: a blob's (longer) line cannot either.
for (const pad of [4000, 1000, 250, 60, 0]) {
  for (;;) {
    if (++n > 5000) throw new Error('the index never filled');
    if (!(await tier.putWhole(padded('f' + String(n).padStart(5, '0'), pad), Buffer.alloc(100, 'f')))) break;
  }
  segmentFailures++;
}
const blobStored = await tier.putWhole(padded('b00001', 60), Buffer.alloc(20_000, 'u'));
const sharedAgainStored = await tier.putWhole(padded('b00002', 60), shared);
const w = tier.open(padded('b00003', 60, { bodySize: 20_000 }));
await w.write(Buffer.alloc(20_000, 'a'));
const streamed = await w.commit().then(() => 'committed', (err) => err.code);
await tier.flush();
const sizes = (sub) => {
  const out = [];
  for (const e of readdirSync(join(dir, sub), { recursive: true, withFileTypes: true })) if (e.isFile()) out.push(statSync(join(e.parentPath ?? e.path, e.name)).size);
  return out;
};
const st = tier.stats();
process.stdout.write(JSON.stringify({
  segmentFailures, blobStored, sharedAgainStored, streamed,
  blobSizes: sizes('content-v2'), tmp: sizes('tmp').length,
  segmentBytesBooked: tier.segments.bytes, segmentBytesOnDisk: sizes('segments').reduce((a, b) => a + b, 0), deadBytes: st.deadBytes,
  sharedReads: (await tier.readVerified('shared'))?.equals(shared) ?? false,
}));
await tier.close();
`;

describe('disk engine: bodies whose index line cannot be written', () => {
  test('index at its size limit (EFBIG): a blob whose line failed is removed unless a record shares it, a segment body whose line failed is counted as dead bytes', async () => {
    await withDir(async (dir) => {
      // 128 blocks: 64 KiB (sh counts 512-byte blocks) or 128 KiB; blobs (20 KB) and segments (64 KiB at most) fit under it, the index does not.
      const out = JSON.parse(await runLimited(FULL_INDEX_CHILD, 'ulimit -f 128', [dir])) as {
        segmentFailures: number;
        blobStored: boolean;
        sharedAgainStored: boolean;
        streamed: string;
        blobSizes: number[];
        tmp: number;
        segmentBytesBooked: number;
        segmentBytesOnDisk: number;
        deadBytes: number;
        sharedReads: boolean;
      };
      assert.equal(out.blobStored, false, 'the blob whose line failed is not stored');
      assert.equal(out.sharedAgainStored, false);
      assert.equal(out.streamed, 'EFBIG', 'the streamed write fails with the index');
      assert.deepEqual(out.blobSizes, [20_000], "only the shared record's blob is left: the others' blobs were removed");
      assert.equal(out.sharedReads, true, 'the blob a record still refers to stays');
      assert.equal(out.tmp, 0, 'no temp file left');
      assert.equal(out.segmentBytesBooked, out.segmentBytesOnDisk, 'every byte in segment files is counted against the budget');
      assert.ok(out.deadBytes >= out.segmentFailures * 100, `segment bodies with no line are dead bytes (${out.deadBytes})`);

      // After a restart only what has a line is there.
      const disk = await DiskTier.open({ dir, maxBytes: MiB, logger: silent });
      for (const key of ['b00001', 'b00002', 'b00003']) assert.equal(disk.has(key), false, key);
      assert.ok((await disk.readVerified('shared'))?.equals(Buffer.alloc(20_000, 's')));
      await disk.close();
    });
  });
});
