// The fan-out outbox on disk: a queued purge survives a restart until every peer
// acknowledged it; a dropped peer is owed nothing; the files go when it is empty;
// a purge is one appended line; a peer's backlog is bounded; a failed append swallows
// nothing appended after it.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MAX_OWED_PER_PEER, OUTBOX_FILE, OUTBOX_LOG, PurgeOutbox } from '../../src/cluster/outbox.js';
import { emptySelector } from '../../src/store/purge/purge-match.js';
import { failingAppends } from '../fixtures/failing-appends.js';

const purge = (id: string) => ({ id, from: 'a', selector: { ...emptySelector(), paths: [`/${id}`] } });

test('outbox: durable until acknowledged; drop and ack empty it; unreadable records are skipped', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-outbox-'));
  try {
    const { outbox } = await PurgeOutbox.load(dir);
    await outbox.add(purge('p1'), ['b', 'c']);
    await outbox.add(purge('p2'), ['c']);
    await outbox.ack('p1', 'b');
    assert.deepEqual(outbox.pendingCounts(), { c: 2 });
    // A restart: what is owed is still owed, oldest first.
    const again = (await PurgeOutbox.load(dir)).outbox;
    assert.deepEqual(again.owed('c').map((p) => p.id), ['p1', 'p2']);
    assert.equal(again.hasPending('b'), false);
    const id1 = again.nextId('a');
    assert.notEqual(id1, again.nextId('a'));
    await again.drop('c');
    assert.deepEqual(again.pendingCounts(), {});
    await again.flush();
    assert.equal(existsSync(join(dir, OUTBOX_FILE)), false, 'an empty outbox leaves no file');
    await writeFile(join(dir, OUTBOX_FILE), JSON.stringify({ seq: 3, records: [{ purge: { id: 1 }, pending: ['b'] }, { purge: purge('p3'), pending: ['b'] }] }));
    const { outbox: third, skipped } = await PurgeOutbox.load(dir);
    assert.equal(skipped, 1);
    assert.deepEqual(third.owed('b').map((p) => p.id), ['p3']);
    await writeFile(join(dir, OUTBOX_FILE), '{"seq": 3, "reco');
    assert.equal((await PurgeOutbox.load(dir)).skipped, 1, 'a damaged file does not stop the node');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('outbox: what is owed to an address goes to the node id it turns out to have, once; to no one if it is this node', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-outbox-'));
  try {
    const { outbox } = await PurgeOutbox.load(dir);
    await outbox.add(purge('p1'), ['b', 'address http://10.0.0.2:8080']);
    await outbox.add(purge('p2'), ['address http://10.0.0.2:8080', 'address http://10.0.0.1:8080']);
    const moved = outbox.reassign('address http://10.0.0.2:8080', 'b');
    // At once, before it is written: a delivery started right after sees it.
    assert.deepEqual(outbox.owed('b').map((p) => p.id), ['p1', 'p2']);
    await moved;
    await outbox.reassign('address http://10.0.0.1:8080', undefined);
    assert.deepEqual(outbox.pendingCounts(), { b: 2 });
    assert.deepEqual((await PurgeOutbox.load(dir)).outbox.pendingCounts(), { b: 2 }, 'durable');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('outbox: a burst of purges and a backlog acknowledged one by one are written together, not once per record', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-outbox-'));
  try {
    const { outbox } = await PurgeOutbox.load(dir);
    const n = 500;
    await Promise.all(Array.from({ length: n }, (_, i) => outbox.add(purge(`p${i}`), ['b', 'c'])));
    assert.ok(outbox.writes <= 3, `${n} concurrent adds took ${outbox.writes} writes`);
    assert.equal((await PurgeOutbox.load(dir)).outbox.owed('b').length, n, 'every one of them is durable');
    const before = outbox.writes;
    // As a drain does: each acknowledged at once, the next sent without waiting for the write.
    for (const p of outbox.owed('b')) void outbox.ack(p.id, 'b');
    assert.equal(outbox.hasPending('b'), false, 'acknowledged in memory at once');
    await outbox.flush();
    assert.ok(outbox.writes - before <= 2, `a backlog of ${n} acknowledgements took ${outbox.writes - before} writes`);
    assert.deepEqual((await PurgeOutbox.load(dir)).outbox.pendingCounts(), { c: n });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('outbox: a purge appends one line, the snapshot is rewritten only once the log doubled what is owed; a torn last line and a log older than the snapshot are not replayed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-outbox-'));
  try {
    const { outbox } = await PurgeOutbox.load(dir);
    for (let i = 0; i < 5; i++) await outbox.add(purge(`p${i}`), ['b']);
    const log = join(dir, OUTBOX_LOG);
    const lines = async () => (await readFile(log, 'utf8')).split('\n').filter(Boolean).length;
    assert.equal(existsSync(join(dir, OUTBOX_FILE)), false, 'no snapshot yet: every change is a line');
    assert.equal(await lines(), 1 + 5, 'the generation line, then one line per purge');
    await outbox.ack('p0', 'b');
    assert.equal(await lines(), 7);
    // Many changes: the snapshot is rewritten, the log starts again.
    for (let i = 5; i < 1_200; i++) {
      await outbox.add(purge(`p${i}`), ['b']);
      await outbox.ack(`p${i}`, 'b');
    }
    assert.ok(existsSync(join(dir, OUTBOX_FILE)), 'a snapshot');
    assert.ok((await lines()) < 1_100, `the log was emptied at the rewrite (${await lines()} lines)`);
    assert.deepEqual(outbox.owed('b').map((p) => p.id), ['p1', 'p2', 'p3', 'p4']);
    assert.deepEqual((await PurgeOutbox.load(dir)).outbox.owed('b').map((p) => p.id), ['p1', 'p2', 'p3', 'p4'], 'snapshot and log together');
    // A torn last line (a crash mid-append): skipped, the rest stands.
    await appendFile(log, '{"op":"add","purge":{"id":"p9');
    const torn = await PurgeOutbox.load(dir);
    assert.equal(torn.skipped, 1);
    assert.deepEqual(torn.outbox.owed('b').map((p) => p.id), ['p1', 'p2', 'p3', 'p4']);
    // A log of the generation before the snapshot (a crash between the rename and its removal): not replayed.
    await writeFile(log, `${JSON.stringify({ op: 'gen', gen: 0 })}\n${JSON.stringify({ op: 'drop', peer: 'b' })}\n`);
    assert.deepEqual((await PurgeOutbox.load(dir)).outbox.owed('b').map((p) => p.id), ['p1', 'p2', 'p3', 'p4']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('outbox: a peer owed more than MAX_OWED_PER_PEER purges is owed one purge of everything instead (bounded), durably', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-outbox-'));
  try {
    const { outbox } = await PurgeOutbox.load(dir);
    const n = MAX_OWED_PER_PEER + 1;
    // Every other purge is owed to 'up' too: it stays under the cap.
    await Promise.all(Array.from({ length: n }, (_, i) => outbox.add(purge(`p${i}`), i % 2 === 0 ? ['down', 'up'] : ['down'])));
    const up = Math.ceil(n / 2);
    assert.equal(outbox.owedCount('up'), up, 'a peer under the cap keeps each purge');
    assert.equal(outbox.owedCount('down'), 1);
    const [all] = outbox.owed('down');
    assert.equal(all!.selector.all, true);
    assert.equal(all!.from, 'a');
    assert.equal(outbox.owes('down', 'p0'), true, 'what it became is still owed: the purge answer says pending');
    // More purges: queued after it, collapsed again past the cap.
    await outbox.add(purge('late'), ['down']);
    assert.deepEqual(outbox.owed('down').map((p) => p.id), [all!.id, 'late']);
    const again = (await PurgeOutbox.load(dir)).outbox;
    assert.deepEqual(again.owed('down').map((p) => p.id), [all!.id, 'late'], 'durable');
    assert.equal(again.owedCount('up'), up);
    await outbox.ack(all!.id, 'down');
    assert.equal(outbox.owes('down', 'p0'), false);
    assert.equal(outbox.owes('down', 'late'), true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('outbox: a log skipped at load (older generation) or holding a torn line is not appended to: purges added after the restart survive the next one', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-outbox-'));
  try {
    // A crash between a snapshot's rename (gen 1, holding p1) and the removal of the log of gen 0.
    await writeFile(join(dir, OUTBOX_FILE), JSON.stringify({ seq: 1, gen: 1, records: [{ purge: purge('p1'), pending: ['b'] }] }));
    await writeFile(join(dir, OUTBOX_LOG), JSON.stringify({ op: 'gen', gen: 0 }) + '\n' + JSON.stringify({ op: 'add', purge: purge('p1'), pending: ['b'], seq: 1 }) + '\n');
    let { outbox } = await PurgeOutbox.load(dir);
    await outbox.add(purge('p2'), ['b']);
    ({ outbox } = await PurgeOutbox.load(dir));
    assert.deepEqual(outbox.owed('b').map((p) => p.id), ['p1', 'p2'], 'p2 was acknowledged as on disk');
    // A crash mid-append: the torn line must not swallow the next change.
    await appendFile(join(dir, OUTBOX_LOG), '{"op":"add","purge":{"id":"p9","fr');
    ({ outbox } = await PurgeOutbox.load(dir));
    await outbox.add(purge('p3'), ['b']);
    ({ outbox } = await PurgeOutbox.load(dir));
    assert.deepEqual(outbox.owed('b').map((p) => p.id), ['p1', 'p2', 'p3']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('outbox: the ids a peer\'s purge of everything stands for are bounded: a peer down for good does not grow memory with every purge', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-outbox-'));
  try {
    const { outbox } = await PurgeOutbox.load(dir);
    for (let i = 0; i < 5 * MAX_OWED_PER_PEER; i++) await outbox.add(purge(`q${i}`), ['b']);
    const last = `q${5 * MAX_OWED_PER_PEER - 1}`;
    assert.equal(outbox.owes('b', last), true, 'the newest purge is owed (itself or within a purge of everything)');
    assert.equal(outbox.owes('b', 'q0'), false, 'the oldest ids, three collapses back, are no longer remembered');
    const replaced = (outbox as unknown as { replaced: Map<string, { ids: Set<string> }> }).replaced.get('b');
    assert.ok(replaced === undefined || replaced.ids.size <= 2 * MAX_OWED_PER_PEER + 2, `${replaced?.ids.size} ids remembered`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('outbox: a stale or torn log is not written at load (a disk still full does not stop the start); the next save rewrites instead of appending', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-outbox-'));
  try {
    let { outbox } = await PurgeOutbox.load(dir);
    await outbox.add(purge('p1'), ['b']);
    await appendFile(join(dir, OUTBOX_LOG), '{"op":"add","purge":{"id":"p9","fr');
    // The snapshot's temporary file cannot be written (a directory stands in its place).
    await mkdir(join(dir, `${OUTBOX_FILE}.tmp`));
    const logBefore = await readFile(join(dir, OUTBOX_LOG), 'utf8');
    const loaded = await PurgeOutbox.load(dir);
    assert.equal(await readFile(join(dir, OUTBOX_LOG), 'utf8'), logBefore, 'nothing written at load');
    assert.deepEqual(loaded.outbox.owed('b').map((p) => p.id), ['p1']);
    await assert.rejects(loaded.outbox.add(purge('p0'), ['b']), /EISDIR|directory/i, 'the next save rewrites (and here fails), never appends');
    await rm(join(dir, `${OUTBOX_FILE}.tmp`), { recursive: true });
    await loaded.outbox.add(purge('p2'), ['b']);
    ({ outbox } = await PurgeOutbox.load(dir));
    // p0, whose write failed, stayed owed in memory and went out with the next snapshot.
    assert.deepEqual(outbox.owed('b').map((p) => p.id), ['p1', 'p0', 'p2'], 'p2 was not glued to the torn line');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('outbox: a purge whose append failed part-way (disk full) does not swallow the next one, whose add() resolved: both are there after a restart', async () => {
  for (const cutFails of [false, true]) {
    const dir = await mkdtemp(join(tmpdir(), 'strata-outbox-'));
    try {
      const plan = { fail: 0, cutFails };
      let { outbox } = await PurgeOutbox.load(dir, failingAppends(plan));
      await outbox.add(purge('p0'), ['b']);
      plan.fail = 1;
      await assert.rejects(outbox.add(purge('p1'), ['b']), /ENOSPC/);
      // Space freed: the next purge is acknowledged as on disk.
      await outbox.add(purge('p2'), ['b']);
      const again = await PurgeOutbox.load(dir);
      assert.equal(again.skipped, 0, `nothing torn is left to skip (cutting back ${cutFails ? 'failed' : 'worked'})`);
      // p1, whose write failed, stayed owed in memory and was written with the next save.
      assert.deepEqual(again.outbox.owed('b').map((p) => p.id), ['p0', 'p1', 'p2']);
      ({ outbox } = again);
      await outbox.add(purge('p3'), ['b']);
      assert.deepEqual((await PurgeOutbox.load(dir)).outbox.owed('b').map((p) => p.id), ['p0', 'p1', 'p2', 'p3']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});
