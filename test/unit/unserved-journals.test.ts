// Purges journalled into cache directories nobody serves: bounded, and a directory
// removed by hand is not an error (store/purge/unserved-journals.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PurgeJournal } from '../../src/store/purge/purge-journal.js';
import { UnservedJournals } from '../../src/store/purge/unserved-journals.js';
import type { PurgeSelector } from '../../src/store/types.js';

const sel = (path: string): PurgeSelector => ({ primaryKeys: [], paths: [path], urlPrefixes: [], pathPrefixes: [], tags: [], all: false });

test('each purge is appended; past 1,000 records one record purging everything ends the journal, and nothing follows it', async () => {
  const root = await mkdtemp(join(tmpdir(), 'strata-unserved-'));
  try {
    const gone = join(root, 'w9');
    const journals = new UnservedJournals([root, gone]);
    for (let i = 0; i < 1_000; i++) await journals.append({ atMs: 1_000 + i, selector: sel(`/p${i}`) });
    await journals.append({ atMs: 5_000, selector: sel('/over'), softAtMs: 5_000 });
    await journals.append({ atMs: 6_000, selector: sel('/after') });
    const { records } = await PurgeJournal.load(root);
    assert.equal(records.length, 1_001);
    assert.deepEqual(records[999]!.selector.paths, ['/p999']);
    const last = records[1_000]!;
    assert.equal(last.selector.all, true);
    assert.equal(last.atMs, 5_000);
    assert.equal(last.softAtMs, undefined, 'the bound purges hard');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a soft purge of everything does not end the journal; a hard one does', async () => {
  const root = await mkdtemp(join(tmpdir(), 'strata-unserved-'));
  try {
    const journals = new UnservedJournals([root]);
    await journals.append({ atMs: 1, selector: { ...sel('/'), paths: [], all: true }, softAtMs: 1 });
    await journals.append({ atMs: 2, selector: sel('/a') });
    await journals.append({ atMs: 3, selector: { ...sel('/'), paths: [], all: true } });
    await journals.append({ atMs: 4, selector: sel('/b') });
    // A later start appends again: a purge-everything record found in the journal may be one the
    // directory's last worker left unretired, older than what it stored after it.
    await new UnservedJournals([root]).append({ atMs: 5, selector: sel('/c') });
    const { records } = await PurgeJournal.load(root);
    assert.deepEqual(records.map((r) => r.atMs), [1, 2, 3, 5]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
