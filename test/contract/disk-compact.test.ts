// Compact disk records (issue 15): RAM keeps no metadata for an entry stored under
// its primary key in a segment; a hit reads it from the entry's index line. On real
// files and the real writer thread: round trip, hits, updates, purges (prefix, tag,
// primary key, soft), compaction, segment relocation, restarts, and the upgrade from
// the index format before (index-v1.log).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { urlOfKey } from '../../src/cache/key.js';
import { INDEX_FILE, INDEX_V1_FILE, SEGMENT_DIR, segmentPath } from '../../src/store/disk/layout.js';
import { DiskTier } from '../../src/store/disk/tier.js';
import { sha256Integrity } from '../../src/store/integrity.js';
import { checksumIntegrity } from '../../src/store/integrity.js';
import type { EntryMeta } from '../../src/store/types.js';
import { makeMeta, readBody, selector, testExpire } from './store.contract.js';
import { silent, waitFor, withDir } from './disk-helpers.js';

const KiB = 1024;

/** Metadata as the pipeline stores it: key = primary key = "GET " + URL. */
function urlMeta(path: string, opts: Partial<EntryMeta> = {}): EntryMeta {
  const key = `GET http://media.example/${path}`;
  return makeMeta(key, { primaryKey: key, url: urlOfKey(key), headers: { 'content-type': 'video/mp2t', etag: `"${path}"` }, tags: [], ...opts });
}

const open = (dir: string, maxBytes = 1 << 24) => DiskTier.open({ dir, maxBytes, logger: silent, expire: testExpire });

/** Is the record's metadata out of RAM (only its index line has it)? */
function compact(disk: DiskTier, key: string): boolean {
  const rec = disk.records.get(key);
  return rec !== undefined && rec.held === undefined && rec.lineOff >= 0;
}

async function hit(disk: DiskTier, key: string): Promise<{ meta: EntryMeta; body: Buffer } | undefined> {
  const e = await disk.get(key);
  return e ? { meta: e.meta, body: await readBody(e.body) } : undefined;
}

describe('disk tier: compact records', () => {
  test('an entry under its primary key keeps no metadata in RAM; a hit reads it back whole, before and after a restart', async () => {
    await withDir(async (dir) => {
      let disk = await open(dir);
      const meta = urlMeta('a.ts', { tags: ['show-1', 'ep-2'], requestTimeMs: 1_700_000_000_000 });
      const body = randomBytes(3000);
      assert.ok(await disk.putWhole({ ...meta }, body));
      await disk.flush();
      assert.ok(compact(disk, meta.key), 'metadata out of RAM once its line landed');
      assert.equal(disk.metaOf(meta.key), undefined, 'metaOf: nothing held');
      // A segment body's integrity is a checksum (integrity.ts).
      const want = { ...meta, bodySize: body.length, integrity: checksumIntegrity(body) };
      let got = await hit(disk, meta.key);
      assert.deepEqual(got?.meta, want);
      assert.ok(got?.body.equals(body));
      assert.deepEqual(await disk.readMeta(meta.key), want);
      // Vary selection: the stub names the key; its tags stay indexed.
      assert.deepEqual(disk.variants(meta.key).map((v) => v.key), [meta.key]);
      await disk.close();

      disk = await open(dir);
      assert.ok(compact(disk, meta.key), 'loaded compact');
      got = await hit(disk, meta.key);
      assert.deepEqual(got?.meta, want);
      assert.ok(got?.body.equals(body), 'body verified and intact after a restart');
      assert.equal(await disk.purge(selector({ tags: ['ep-2'] })), 1, 'tags known without the metadata');
      await disk.close();
    });
  });

  test('a varied entry keeps its selection summary in RAM; a blob-file body and a key not derived from its URL keep their whole metadata', async () => {
    await withDir(async (dir) => {
      const disk = await open(dir, 64 << 20);
      const base = urlMeta('v.ts');
      const varied = { ...base, key: `${base.key}\naccept=x\n`, varyNames: ['accept'], varyValues: { accept: 'x' } };
      assert.ok(await disk.putWhole(varied, randomBytes(100)));
      assert.ok(await disk.putWhole(urlMeta('big.ts'), randomBytes(2 << 20)), 'over the small-body limit: a blob file');
      assert.ok(await disk.putWhole(makeMeta('plain'), randomBytes(100)));
      await disk.flush();
      for (const k of [urlMeta('big.ts').key, 'plain']) assert.ok(disk.records.get(k)?.held, `${k} held`);
      const rec = disk.records.get(varied.key)!;
      assert.equal(rec.held, undefined, 'the variant holds no whole metadata');
      const sel = rec.more!.sel!;
      assert.deepEqual([sel.key, sel.primaryKey, sel.varyNames, sel.varyValues, sel.status, 'headers' in sel], [varied.key, base.key, ['accept'], { accept: 'x' }, 200, false]);
      assert.deepEqual(disk.variants(base.key).map((v) => v.key), [varied.key]);
      assert.equal((await disk.readMeta(varied.key))?.headers['content-type'], varied.headers['content-type'], 'the rest read from its line');
      await disk.close();
    });
  });

  test('a 304 update: the newer metadata is served at once, written to the index, and kept across a restart', async () => {
    await withDir(async (dir) => {
      let disk = await open(dir);
      const meta = urlMeta('u.ts');
      const body = randomBytes(500);
      assert.ok(await disk.putWhole({ ...meta }, body));
      await disk.flush();
      const first = (await disk.get(meta.key))!.meta;
      assert.ok(disk.storedFrom(meta.key, first));
      const update = disk.update({ ...first, headers: { ...first.headers, etag: '"2"' }, freshnessLifetimeS: 1234 });
      assert.equal(disk.storedFrom(meta.key, first), false, 'what was handed out is not current any more');
      assert.equal((await disk.get(meta.key))?.meta.headers['etag'], '"2"', 'served before its line lands');
      await update;
      await disk.flush();
      assert.ok(compact(disk, meta.key), 'out of RAM again once its line landed');
      assert.equal((await disk.readMeta(meta.key))?.freshnessLifetimeS, 1234);
      await disk.close();

      disk = await open(dir);
      const got = await hit(disk, meta.key);
      assert.equal(got?.meta.headers['etag'], '"2"');
      assert.equal(got?.meta.freshnessLifetimeS, 1234);
      assert.equal(got?.meta.integrity, checksumIntegrity(body), 'integrity kept');
      assert.ok(got?.body.equals(body));
      await disk.close();
    });
  });

  test('purges over compact records: by URL prefix, by tag, by primary key; hard ones stay across a restart, a soft one leaves the entry stale', async () => {
    await withDir(async (dir) => {
      let disk = await open(dir);
      for (let i = 0; i < 12; i++) assert.ok(await disk.putWhole(urlMeta(`${i < 4 ? 'live' : 'vod'}/s${i}.ts`, { tags: i % 2 ? ['odd'] : [] }), randomBytes(200)));
      await disk.flush();
      const key = (i: number) => urlMeta(`${i < 4 ? 'live' : 'vod'}/s${i}.ts`).key;
      for (let i = 0; i < 12; i++) assert.ok(compact(disk, key(i)));
      assert.equal(await disk.purge(selector({ urlPrefixes: ['http://media.example/live/'] })), 4);
      assert.equal(await disk.purge(selector({ pathPrefixes: ['/vod/s1'] })), 2, 's10, s11');
      assert.equal(await disk.purge(selector({ tags: ['odd'] })), 3, 's5, s7, s9 (s11 gone already)');
      assert.equal(await disk.purge(selector({ primaryKeys: [key(4)] })), 1);
      assert.equal(await disk.purge(selector({ primaryKeys: [key(6)] }), { softAtMs: 42 }), 1);
      for (const i of [0, 1, 2, 3, 4, 5, 7, 9, 10, 11]) assert.equal(await disk.get(key(i)), undefined, `s${i} purged`);
      assert.equal((await disk.get(key(6)))?.meta.cacheControl, 'soft-purged-at=42', 'soft: stale at once');
      assert.equal((await disk.get(key(8)))?.meta.cacheControl, 'max-age=600');
      await disk.close();

      disk = await open(dir);
      assert.equal(disk.stats().items, 2);
      const soft = await hit(disk, key(6));
      assert.equal(soft?.meta.cacheControl, 'soft-purged-at=42', 'the softened metadata is in its line');
      assert.equal(soft?.meta.freshnessLifetimeS, 0);
      assert.ok(compact(disk, key(6)));
      assert.equal(await disk.purge(selector({ all: true })), 2);
      await disk.close();
    });
  });

  test('a soft purge journalled but not written to the lines is applied at start to compact records', async () => {
    await withDir(async (dir) => {
      let disk = await open(dir);
      const meta = urlMeta('j.ts');
      assert.ok(await disk.putWhole({ ...meta }, randomBytes(300)));
      await disk.flush();
      await disk.close();
      // What a purge leaves before its per-key work lands: its journal record only.
      const { PurgeJournal } = await import('../../src/store/purge/purge-journal.js');
      const journal = await PurgeJournal.load(dir);
      await journal.journal.append({ atMs: Date.now() + 1, selector: selector({ primaryKeys: [meta.key] }), softAtMs: 7 });
      await journal.journal.flush();
      disk = await open(dir);
      assert.equal((await disk.get(meta.key))?.meta.cacheControl, 'soft-purged-at=7');
      await disk.flush();
      await disk.close();
      disk = await open(dir);
      assert.equal((await disk.readMeta(meta.key))?.cacheControl, 'soft-purged-at=7', 'written to its line');
      await disk.close();
    });
  });

  test('compaction and segment relocation move lines and bodies; every compact record still reads back, before and after a restart', async () => {
    await withDir(async (dir) => {
      // 1 MiB budget: 64 KiB segments, 4000-byte bodies (16 a segment), 64 KiB of compaction slack.
      let disk = await open(dir, 1024 * KiB);
      const bodies = new Map<string, Buffer>();
      for (let i = 0; i < 64; i++) {
        const body = randomBytes(4000);
        const meta = urlMeta(`r/${i}.ts`);
        bodies.set(meta.key, body);
        assert.ok(await disk.putWhole(meta, body));
      }
      await disk.flush();
      // Updates (dead lines: compaction) and deletes (sparse segments: relocation).
      const keys = [...bodies.keys()];
      for (let round = 0; round < 6; round++) {
        for (const k of keys.slice(40)) {
          const m = (await disk.readMeta(k))!;
          await disk.update({ ...m, headers: { ...m.headers, etag: `"${round}"` } });
        }
      }
      // Of the first 36 (the first segments), every eighth stays.
      for (const [i, k] of keys.slice(0, 36).entries()) {
        if (i % 8 === 0) continue;
        assert.ok(await disk.delete(k));
        bodies.delete(k);
      }
      await waitFor('segments relocated and index compacted', async () => {
        await disk.flush();
        return disk.stats().deadBytes < 64 * KiB && !disk.compacting;
      });
      const check = async () => {
        for (const [k, body] of bodies) {
          const got = await hit(disk, k);
          assert.ok(got?.body.equals(body), `${k} intact`);
          assert.equal(got?.meta.key, k);
          if (keys.indexOf(k) >= 40) assert.equal(got?.meta.headers['etag'], '"5"', `${k}: latest metadata`);
        }
      };
      await check();
      assert.ok([...bodies.keys()].every((k) => compact(disk, k)), 'all compact');
      await disk.close();
      disk = await open(dir, 1024 * KiB);
      assert.equal(disk.stats().items, bodies.size);
      await check();
      await disk.close();
    });
  });
});

describe('disk tier: upgrade from index-v1.log', () => {
  /** A cache directory as the version before wrote it: one segment, index-v1.log lines (whole EntryMeta). */
  async function writeV1(dir: string, entries: { meta: EntryMeta; body: Buffer }[], removed: string[]): Promise<void> {
    await mkdir(join(dir, SEGMENT_DIR), { recursive: true });
    let off = 0;
    const lines: string[] = [];
    const t = Date.now() - 60_000;
    for (const { meta, body } of entries) {
      const integrity = sha256Integrity(body);
      const m = { ...meta, bodySize: body.length, integrity };
      lines.push(`{"i":${JSON.stringify(integrity)},"s":${body.length},"g":0,"o":${off},${JSON.stringify({ k: meta.key, t, m }).slice(1)}\n`);
      off += body.length;
    }
    for (const k of removed) lines.push(`${JSON.stringify({ k, t, d: 1 })}\n`);
    await writeFile(segmentPath(dir, 0), Buffer.concat(entries.map((e) => e.body)));
    await writeFile(join(dir, INDEX_V1_FILE), lines.join(''));
  }

  test('every entry of the old index loads, serves, is converted to index-v2.log in the background and stays across restarts; removals stay removed', async () => {
    await withDir(async (dir) => {
      const entries = Array.from({ length: 20 }, (_, i) => ({ meta: urlMeta(`old/${i}.ts`, { tags: i === 3 ? ['t3'] : [] }), body: randomBytes(100 + i) }));
      const varied = { meta: { ...makeMeta('other#x', { varyNames: ['accept'], varyValues: { accept: 'x' } }) }, body: randomBytes(50) };
      await writeV1(dir, [...entries, varied], [entries[19]!.meta.key]);
      let disk = await open(dir);
      assert.equal(disk.stats().items, 20);
      await disk.flush();
      assert.equal(existsSync(join(dir, INDEX_V1_FILE)), false, 'converted: the old index removed');
      assert.ok((await readFile(join(dir, INDEX_FILE), 'utf8')).startsWith('{"h":2}\n'), 'the new index says it is complete');
      for (const { meta, body } of entries.slice(0, 19)) {
        assert.ok(compact(disk, meta.key), `${meta.key} compact after the conversion`);
        const got = await hit(disk, meta.key);
        assert.ok(got?.body.equals(body), `${meta.key} intact`);
        assert.equal(got?.meta.headers['etag'], meta.headers['etag']);
      }
      assert.equal(await disk.get(entries[19]!.meta.key), undefined, 'removed in the old index');
      assert.equal(await disk.purge(selector({ tags: ['t3'] })), 1);
      await disk.close();

      disk = await open(dir);
      assert.equal(disk.stats().items, 19);
      assert.equal(disk.variants('other')[0]?.key, 'other#x');
      assert.ok((await hit(disk, entries[0]!.meta.key))?.body.equals(entries[0]!.body));
      assert.equal(await disk.get(entries[3]!.meta.key), undefined, 'purged after the upgrade: stays purged');
      await disk.close();
    });
  });

  test('a conversion interrupted before its end: the old index is read again with the new lines after it', async () => {
    await withDir(async (dir) => {
      const entries = Array.from({ length: 5 }, (_, i) => ({ meta: urlMeta(`i/${i}.ts`), body: randomBytes(64) }));
      await writeV1(dir, entries, []);
      // A newer run wrote (and removed) under the new format without finishing a compaction.
      const newer = urlMeta('i/0.ts', { headers: { etag: '"newer"' } });
      const { recordLine, removalLine } = await import('../../src/store/disk/index-log.js');
      const body0 = entries[0]!.body;
      await writeFile(join(dir, INDEX_FILE), recordLine({ ...newer, bodySize: body0.length, integrity: sha256Integrity(body0) }, Date.now(), { segment: 0, off: 0 }) + removalLine(entries[1]!.meta.key, Date.now()));
      const disk = await open(dir);
      assert.equal(disk.stats().items, 4);
      assert.equal((await disk.get(newer.key))?.meta.headers['etag'], '"newer"', 'the later line wins');
      assert.equal(await disk.get(entries[1]!.meta.key), undefined);
      assert.ok((await hit(disk, entries[2]!.meta.key))?.body.equals(entries[2]!.body));
      await disk.close();
    });
  });
});
