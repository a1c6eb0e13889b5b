// The per-key locks between the workers of a node (src/workers/lock-table.ts,
// lock-wire.ts): who fetches, who waits and what a waiter is told, the directory
// of which worker stored a key, and the frames that carry them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keyHash, LockTable, ownerOf, type Grant } from '../../src/workers/lock-table.js';
import { ACQUIRE, ANSWER, frame, FrameReader, grantArg, grantOf, HAVE, haveFrame, hashesOf, type Frame } from '../../src/workers/lock-wire.js';

function ask(t: LockTable, key: string, from: number, notAt?: number): { grant: Grant | undefined } {
  const out: { grant: Grant | undefined } = { grant: undefined };
  t.acquire(key, keyHash(key), from, notAt, (g) => (out.grant = g));
  return out;
}

test('the first asker fetches; the others wait and are sent to it once it stored the object', () => {
  const t = new LockTable(4);
  const first = ask(t, 'k', 1);
  assert.deepEqual(first.grant, { kind: 'go' });
  const second = ask(t, 'k', 0);
  const third = ask(t, 'k', 2);
  assert.equal(second.grant, undefined, 'waits while worker 1 fetches');
  assert.equal(third.grant, undefined);
  t.release('k', keyHash('k'), 1, true);
  assert.deepEqual(second.grant, { kind: 'at', worker: 1 });
  assert.deepEqual(third.grant, { kind: 'at', worker: 1 });
  assert.equal(t.locksHeld, 0);
  // Later: the directory sends a miss elsewhere to worker 1; worker 1 itself may fetch again (it lost it).
  assert.deepEqual(ask(t, 'k', 2).grant, { kind: 'at', worker: 1 });
  const own = ask(t, 'k', 1);
  assert.deepEqual(own.grant, { kind: 'go' });
  t.release('k', keyHash('k'), 1, true);
});

test('a fetch that stored nothing lets the waiters fetch alone; a holder that went away too', () => {
  const t = new LockTable(4);
  ask(t, 'a', 1);
  const waiting = ask(t, 'a', 0);
  t.release('a', keyHash('a'), 1, false);
  assert.deepEqual(waiting.grant, { kind: 'alone' });
  assert.equal(t.storedAt(keyHash('a')), undefined, 'nothing recorded');

  ask(t, 'b', 2);
  const w = ask(t, 'b', 0);
  t.dropHolder(2);
  assert.deepEqual(w.grant, { kind: 'alone' });
  assert.equal(t.locksHeld, 0);
  // A release by a worker that does not hold the lock changes nothing.
  ask(t, 'c', 1);
  const w2 = ask(t, 'c', 0);
  t.release('c', keyHash('c'), 2, true);
  assert.equal(w2.grant, undefined);
});

test('a worker the directory named that did not have the key is forgotten for it: the asker fetches', () => {
  const t = new LockTable(4);
  t.record(keyHash('x'), 1);
  assert.deepEqual(ask(t, 'x', 0).grant, { kind: 'at', worker: 1 });
  assert.deepEqual(ask(t, 'x', 0, 1).grant, { kind: 'go' });
  t.release('x', keyHash('x'), 0, true);
  assert.equal(t.storedAt(keyHash('x')), 0);
  // notAt naming another worker than the directory's leaves the entry.
  assert.deepEqual(ask(t, 'x', 2, 1).grant, { kind: 'at', worker: 0 });
});

test('the directory is bounded: a slot taken by another key forgets the first (then fetched once more, never a wrong worker)', () => {
  const t = new LockTable(1);
  const keys = Array.from({ length: 64 }, (_, i) => `/k${i}`);
  for (const k of keys) t.record(keyHash(k), 1);
  const remembered = keys.filter((k) => t.storedAt(keyHash(k)) === 1);
  assert.ok(remembered.length <= 2, `${remembered.length} remembered in a 2-slot directory`);
  assert.ok(keys.every((k) => t.storedAt(keyHash(k)) === undefined || t.storedAt(keyHash(k)) === 1));
});

test('owners spread keys over the workers', () => {
  const per = [0, 0, 0];
  for (let i = 0; i < 3000; i++) per[ownerOf(keyHash(`http://site.test/obj/${i}`), 3)]!++;
  assert.ok(per.every((n) => n > 800), per.join(','));
});

test('frames survive any split of the byte stream', () => {
  const frames = [frame(ACQUIRE, 7, 0, 'http://a.test/é?q=1'), frame(ANSWER, 7, grantArg({ kind: 'at', worker: 3 })), haveFrame(Uint32Array.from([1, 0xffffffff, 42]))];
  const bytes = Buffer.concat(frames);
  for (const cut of [1, 3, 5, 11, 17]) {
    const got: Frame[] = [];
    const r = new FrameReader((f) => got.push({ ...f, payload: Buffer.from(f.payload) }));
    for (let i = 0; i < bytes.length; i += cut) r.push(bytes.subarray(i, i + cut));
    assert.equal(got.length, 3, `cut ${cut}`);
    assert.deepEqual([got[0]!.type, got[0]!.id, got[0]!.payload.toString()], [ACQUIRE, 7, 'http://a.test/é?q=1']);
    assert.deepEqual(grantOf(got[1]!.arg), { kind: 'at', worker: 3 });
    assert.equal(got[2]!.type, HAVE);
    assert.deepEqual([...hashesOf(got[2]!.payload)], [1, 0xffffffff, 42]);
  }
  for (const g of [{ kind: 'go' }, { kind: 'alone' }, { kind: 'at', worker: 0 }] as Grant[]) assert.deepEqual(grantOf(grantArg(g)), g);
});
