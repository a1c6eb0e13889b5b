// Index compaction under faults, on real files and the real writer thread: a
// compaction whose end fails leaves the writer and the tier on the same index file, so
// records keep their lines, later compactions copy the right ones, and nothing is lost
// or comes back after a restart; one that fails before its end is abandoned by the
// writer, and one that keeps failing (a full disk) is not retried on every line.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { urlOfKey } from '../../src/cache/key.js';
import { existsSync } from 'node:fs';
import { mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compactIndex } from '../../src/store/disk/compaction.js';
import { HEADER_LINE } from '../../src/store/disk/index-log.js';
import { INDEX_COMPACTING, INDEX_FILE } from '../../src/store/disk/layout.js';
import { DiskTier } from '../../src/store/disk/tier.js';
import type { EntryMeta } from '../../src/store/types.js';
import { makeMeta, readBody } from './store.contract.js';
import { capturingLogger, runLimited, silent, withDir } from './disk-helpers.js';

const MiB = 1024 * 1024;

/** Metadata as the pipeline stores it (key = primary key = "GET " + URL): compact records, copied by offset when compacted. */
function urlMeta(i: number): EntryMeta {
  const key = `GET http://media.example/c/${i}.ts`;
  return makeMeta(key, { primaryKey: key, url: urlOfKey(key), headers: { 'content-type': 'video/mp2t', etag: `"v${i}"` }, tags: [] });
}
const bodyOf = (i: number) => Buffer.alloc(3000, 97 + i);

/**
 * Run in a child under `ulimit -n 256`: eight entries (the last deleted), then a
 * compaction whose end meets EMFILE (every descriptor taken while its last step runs),
 * then an entry, two compactions, an entry. Prints what it saw as JSON.
 */
const CHILD = `
import { closeSync, openSync } from 'node:fs';
import { DiskTier } from ${JSON.stringify(new URL('../../src/store/disk/tier.js', import.meta.url).href)};
import { compactIndex } from ${JSON.stringify(new URL('../../src/store/disk/compaction.js', import.meta.url).href)};
const noop = () => {};
const logger = { info: noop, warn: noop, error: noop, debug: noop, trace: noop, fatal: noop };
const [dir, metasJson] = process.argv.slice(2);
const metas = JSON.parse(metasJson);
const body = (i) => Buffer.alloc(3000, 97 + i);
const tier = await DiskTier.open({ dir, maxBytes: ${16 * MiB}, logger });
const put = async (i) => { if (!(await tier.putWhole(metas[i], body(i)))) throw new Error('put ' + i + ' failed'); };
for (let i = 0; i < 8; i++) await put(i);
await tier.delete(metas[7].key);
await tier.flush();
const op = tier.queue.op.bind(tier.queue);
let starve = true;
tier.queue.op = (o) => {
  if (o.t !== 'compact-end' || !starve) return op(o);
  starve = false;
  const fds = [];
  try { for (;;) fds.push(openSync('/dev/null', 'r')); } catch {}
  return op(o).finally(() => { for (const fd of fds) closeSync(fd); });
};
const outcome = () => compactIndex(tier).then(() => 'ok', (e) => e.message);
const out = { first: await outcome() };
await put(8);
const rec = tier.records.get(metas[8].key);
out.after = { lineOff: rec.lineOff, held: rec.held !== undefined };
out.later = [await outcome(), await outcome()];
await put(9);
out.etags = {};
for (const m of metas) out.etags[m.key] = (await tier.readMeta(m.key))?.headers.etag ?? null;
await tier.close();
process.stdout.write(JSON.stringify(out));
`;

interface ChildOut {
  first: string;
  after: { lineOff: number; held: boolean };
  later: string[];
  etags: Record<string, string | null>;
}

describe('disk tier: a compaction whose end fails', () => {
  test('EMFILE at the end: the compaction fails whole, records landing next know their lines, later compactions copy the right lines; all entries (and none deleted) after a restart', async () => {
    await withDir(async (dir) => {
      const metas = Array.from({ length: 10 }, (_, i) => urlMeta(i));
      // A low limit of its own: the child can take every descriptor in a moment.
      const out = JSON.parse(await runLimited(CHILD, 'ulimit -n 256', [dir, JSON.stringify(metas)])) as ChildOut;
      assert.match(out.first, /EMFILE/, 'the injected failure hit the end of the first compaction');
      assert.ok(out.after.lineOff >= 0, 'a record landing after it has its line in the file the tier reads');
      assert.equal(out.after.held, false, 'its metadata is not held in RAM');
      assert.deepEqual(out.later, ['ok', 'ok'], 'later compactions succeed');
      const want = Object.fromEntries(metas.map((m, i) => [m.key, i === 7 ? null : `"v${i}"`]));
      assert.deepEqual(out.etags, want, 'every record reads its own line');

      const disk = await DiskTier.open({ dir, maxBytes: 16 * MiB, logger: silent });
      try {
        assert.equal(disk.stats().items, 9);
        for (const [i, m] of metas.entries()) {
          const e = await disk.get(m.key);
          if (i === 7) {
            assert.equal(e, undefined, 'the deleted entry stays deleted');
            continue;
          }
          assert.equal(e?.meta.headers['etag'], `"v${i}"`, `${m.key}: its own metadata after a restart`);
          assert.ok((await readBody(e.body)).equals(bodyOf(i)), `${m.key}: its body`);
        }
      } finally {
        await disk.close();
      }
    });
  });
});

describe('disk tier: a compaction that fails before its end (a disk full mid-compaction)', () => {
  test('a snapshot chunk fails: the writer abandons the compaction (its file removed, later lines go to the index alone), and the tier compacts again once it can', async () => {
    await withDir(async (dir) => {
      const disk = await DiskTier.open({ dir, maxBytes: 16 * MiB, logger: silent });
      try {
        for (let i = 0; i < 4; i++) assert.ok(await disk.putWhole(urlMeta(i), bodyOf(i)));
        // The lines the chunk copies by offset are gone from the file: its read fails, as a write of it would on a full disk.
        const index = join(dir, INDEX_FILE);
        const whole = await readFile(index);
        await truncate(index, HEADER_LINE.length);
        await assert.rejects(compactIndex(disk), /shorter than a record line/);
        assert.equal(existsSync(join(dir, INDEX_COMPACTING)), false, 'the abandoned compaction file is removed');
        await writeFile(index, whole);
        assert.ok(await disk.putWhole(urlMeta(4), bodyOf(4)));
        await disk.flush();
        assert.equal(existsSync(join(dir, INDEX_COMPACTING)), false, 'later lines are not written to an abandoned compaction');
        await compactIndex(disk);
        for (let i = 0; i < 5; i++) assert.equal((await disk.get(urlMeta(i).key))?.meta.headers['etag'], `"v${i}"`);
      } finally {
        await disk.close();
      }
    });
  });

  test('compaction failing on every try: retried at most once per interval, not on every line, and warned about once', async () => {
    await withDir(async (dir) => {
      const cap = capturingLogger();
      // A small budget: its compaction slack (maxBytes/16) is passed after a few dozen rewrites of one key.
      const disk = await DiskTier.open({ dir, maxBytes: 256 * 1024, logger: cap.logger });
      try {
        // The compaction's file cannot be created (as on a full disk).
        await mkdir(join(dir, INDEX_COMPACTING));
        let begun = 0;
        const op = disk.queue.op.bind(disk.queue);
        disk.queue.op = (o) => {
          if (o.t === 'compact-begin') begun++;
          return op(o);
        };
        for (let i = 0; i < 300; i++) assert.ok(await disk.putWhole(urlMeta(1), bodyOf(i % 20)));
        await disk.flush();
        assert.ok(disk.stats().indexBytes > 32 * 1024, 'the index needed compacting');
        assert.equal(begun, 1, 'one try, then none until the interval has passed');
        assert.equal(cap.lines.filter((l) => /compaction failed/.test(l.msg)).length, 1, 'one warning');
      } finally {
        await disk.close();
      }
    });
  });
});
