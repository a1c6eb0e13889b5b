// The fan-out outbox on disk: a queued purge survives a restart until every peer
// acknowledged it; a dropped peer is owed nothing; the file goes when it is empty.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { OUTBOX_FILE, PurgeOutbox } from '../../src/cluster/outbox.js';
import { emptySelector } from '../../src/store/purge/purge-match.js';

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
