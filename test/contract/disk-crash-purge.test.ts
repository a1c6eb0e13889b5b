// A purge acknowledged while the purged entry's disk write was still landing, then a
// kill -9 (found by bench/crash-soak.ts: a purged URL served as a hit after the
// restart). The kill is reproduced by the state it leaves: the directory as it was when
// the purge was answered (its journal) with the index holding the entry's record line
// and none of what followed it (the removal line the unwanted write queued once it
// landed). Whatever the writer thread does after the answer, a kill can leave that.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { urlOfKey } from '../../src/cache/key.js';
import { INDEX_FILE } from '../../src/store/disk/layout.js';
import { DiskTier } from '../../src/store/disk/tier.js';
import { JOURNAL_FILE } from '../../src/store/purge/purge-journal.js';
import type { EntryMeta } from '../../src/store/types.js';
import { makeMeta, selector, testExpire } from './store.contract.js';
import { silent, withDir } from './disk-helpers.js';

function urlMeta(path: string): EntryMeta {
  const key = `GET http://crash.example/${path}`;
  return makeMeta(key, { primaryKey: key, url: urlOfKey(key), tags: [] });
}

const open = (dir: string) => DiskTier.open({ dir, maxBytes: 1 << 26, logger: silent, expire: testExpire });

/** The journal as it is now (read without yielding: the answer's moment). */
function journalNow(dir: string): string | undefined {
  const path = join(dir, JOURNAL_FILE);
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/**
 * The directory a kill leaves when it comes right after `key`'s record line landed:
 * the index cut after that line, the journal as it was at the purge's answer.
 * Returns whether the index had a record line of the key at all.
 */
async function killedAfterRecordLine(dir: string, key: string, journalAtAnswer: string | undefined): Promise<boolean> {
  const lines = (await readFile(join(dir, INDEX_FILE), 'utf8')).split('\n');
  const at = lines.findIndex((l) => l.startsWith(`{"k":${JSON.stringify(key)},`) && !l.includes('"d":1'));
  if (at >= 0) await writeFile(join(dir, INDEX_FILE), lines.slice(0, at + 1).join('\n') + '\n');
  if (journalAtAnswer === undefined) await rm(join(dir, JOURNAL_FILE), { force: true });
  else await writeFile(join(dir, JOURNAL_FILE), journalAtAnswer);
  return at >= 0;
}

describe('disk tier: a purge answered while the write it covers was landing, then a crash', () => {
  test('a whole body (segment) queued before the purge: its record line landed, its removal line did not; the next start drops it', async () => {
    await withDir(async (dir) => {
      const disk = await open(dir);
      const meta = urlMeta('landing.bin');
      let wanted = true;
      // Queued, not landed: the tier has no record of it yet.
      const landed = disk.putWhole({ ...meta }, randomBytes(5000), { wanted: () => wanted });
      assert.equal(disk.holds(meta.key), false);
      // TieredStore.purge cancels the write (wanted() false) and bans in the same step.
      wanted = false;
      await disk.purging.ban(selector({ primaryKeys: [meta.key] }));
      const journal = journalNow(dir);
      assert.equal(await landed, false, 'not wanted: never tracked');
      await disk.flush();
      await disk.close();
      assert.ok(await killedAfterRecordLine(dir, meta.key, journal), 'the record line had landed');
      const again = await open(dir);
      assert.equal(again.holds(meta.key), false, 'the purge acknowledged before the crash still holds');
      assert.equal(await again.get(meta.key), undefined);
      await again.close();
    });
  });

  test('a streamed body (blob) committed after the purge: nothing is queued, so no record line can outlive the purge', async () => {
    await withDir(async (dir) => {
      const disk = await open(dir);
      const meta = urlMeta('streamed.bin');
      let wanted = true;
      const w = disk.open({ ...meta, bodySize: 3 * 1024 * 1024 }, { wanted: () => wanted });
      await w.write(randomBytes(3 * 1024 * 1024));
      wanted = false;
      await disk.purging.ban(selector({ primaryKeys: [meta.key] }));
      const journal = journalNow(dir);
      await w.commit();
      await disk.flush();
      await disk.close();
      await killedAfterRecordLine(dir, meta.key, journal);
      const again = await open(dir);
      assert.equal(again.holds(meta.key), false, 'the purge acknowledged before the crash still holds');
      await again.close();
    });
  });
});
