// The disk tier's purge journal (store/purge/purge-journal.ts): a record whose
// append failed part-way (disk full) rejects, and the next record, acknowledged,
// is read back whole at the next start: it is never glued to torn bytes, whether
// the failed append was cut back or not, nor to a torn line a crash left.

import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { JOURNAL_FILE, PurgeJournal } from '../../src/store/purge/purge-journal.js';
import { emptySelector } from '../../src/store/purge/purge-match.js';
import { failingAppends } from '../fixtures/failing-appends.js';

const rec = (path: string) => ({ atMs: Date.now(), selector: { ...emptySelector(), paths: [path] } });
const paths = (records: { selector: { paths: string[] } }[]) => records.map((r) => r.selector.paths[0]);

test('purge journal: a failed append (disk full, part written) does not take the next acknowledged purge with it', async () => {
  for (const cutFails of [false, true]) {
    const dir = await mkdtemp(join(tmpdir(), 'strata-journal-'));
    try {
      const plan = { fail: 0, cutFails };
      const { journal } = await PurgeJournal.load(dir, failingAppends(plan));
      await journal.append(rec('/p0'));
      plan.fail = 1;
      await assert.rejects(journal.append(rec('/p1')), /ENOSPC/);
      await journal.append(rec('/p2'));
      const again = await PurgeJournal.load(dir);
      assert.equal(again.skipped, 0, `nothing torn is left (cutting back ${cutFails ? 'failed' : 'worked'})`);
      assert.deepEqual(paths(again.records), ['/p0', '/p2'], 'the failed purge was never acknowledged; the next one was, and is there');
      assert.equal(journal.size, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});

test('purge journal: a torn last line left by a crash is skipped, and the next record is not glued to it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-journal-'));
  try {
    const { journal } = await PurgeJournal.load(dir);
    await journal.append(rec('/p0'));
    await appendFile(join(dir, JOURNAL_FILE), '{"id":2,"atMs":1,"sel');
    const loaded = await PurgeJournal.load(dir);
    assert.equal(loaded.skipped, 1);
    await loaded.journal.append(rec('/p3'));
    const again = await PurgeJournal.load(dir);
    assert.equal(again.skipped, 0);
    assert.deepEqual(paths(again.records), ['/p0', '/p3']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
