// The append log under purge-times.jsonl and purge-outbox.log (util/append-log.ts):
// lines queued while a write is in flight share the next write; the line count
// follows appends, replacements and removal; a failed write rejects its callers
// and the next write still runs (a write that failed part-way is cut back first); a
// file written before (by hand here) is read back.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AppendLog } from '../../src/util/append-log.js';
import { failingAppends } from '../fixtures/failing-appends.js';

test('append log: a burst shares one write; lines are counted; replace and remove reset the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-append-log-'));
  try {
    const path = join(dir, 'x.jsonl');
    await writeFile(path, '{"a":1}\n{"a":2}\n');
    const { log, lines } = await AppendLog.open(path);
    assert.deepEqual(lines, ['{"a":1}', '{"a":2}'], 'a file written before is read as it was');
    assert.equal(log.lines, 2);
    let writes = 0;
    const batches: number[] = [];
    const write = async (batch: string[]) => {
      writes++;
      batches.push(batch.length);
      await log.append(batch);
    };
    const done: Promise<void>[] = [];
    for (let i = 3; i <= 102; i++) {
      log.push(JSON.stringify({ a: i }));
      done.push(log.commit(write));
    }
    await Promise.all(done);
    assert.ok(writes <= 2, `100 lines took ${writes} writes (${batches.join(', ')})`);
    assert.equal(log.lines, 102);
    const text = await readFile(path, 'utf8');
    assert.equal(text.split('\n').filter(Boolean).length, 102);
    assert.ok(text.startsWith('{"a":1}\n{"a":2}\n{"a":3}\n'), 'appended after what was there, in order');
    await log.replace(['{"a":102}']);
    assert.equal(log.lines, 1);
    assert.equal(await readFile(path, 'utf8'), '{"a":102}\n');
    await log.remove();
    assert.equal(log.lines, 0);
    assert.equal(existsSync(path), false);
    // Appending creates the file again.
    log.push('{"a":103}');
    await log.commit(write);
    assert.equal(await readFile(path, 'utf8'), '{"a":103}\n');
    assert.equal((await AppendLog.open(join(dir, 'none.jsonl'))).log.lines, 0, 'no file: no lines');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('append log: a failed write rejects the commits that shared it; the next one runs and carries its own lines', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-append-log-'));
  try {
    const { log } = await AppendLog.open(join(dir, 'y.jsonl'));
    log.push('one');
    const failing = async () => {
      throw new Error('disk full');
    };
    const first = log.commit(failing);
    const shared = log.commit(failing);
    await assert.rejects(first, /disk full/);
    await assert.rejects(shared, /disk full/, 'a commit made before the write started shares its outcome');
    log.push('two');
    await log.commit((batch) => log.append(batch));
    await log.settled();
    assert.equal(await readFile(join(dir, 'y.jsonl'), 'utf8'), 'two\n', 'the failed batch is the caller\'s to keep');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('append log: an append that fails part-way (disk full) leaves the file as it was; the next append reads back whole', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-append-log-'));
  try {
    const path = join(dir, 'z.jsonl');
    await writeFile(path, '{"a":1}\n');
    const plan = { fail: 1 };
    const { log } = await AppendLog.open(path, failingAppends(plan));
    log.push('{"a":2}');
    await assert.rejects(log.commit((batch) => log.append(batch)), /ENOSPC/);
    assert.equal(await readFile(path, 'utf8'), '{"a":1}\n', 'the bytes of the failed append are cut off');
    assert.equal(log.lines, 1);
    log.push('{"a":3}');
    await log.commit((batch) => log.append(batch));
    const reopened = await AppendLog.open(path);
    assert.deepEqual(reopened.lines, ['{"a":1}', '{"a":3}'], 'the line after the failure is its own, not glued to a torn one');
    assert.equal(reopened.log.lines, log.lines);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
