// The pure parts of the workers' locks (src/workers/directory.ts, lock-wire.ts, worker-fetch.ts lock keys):
// the directory of which worker stored a key, and the frames the links carry.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Directory, keyHash, type Answer } from '../../src/workers/directory.js';
import { diskPrimaryKeys, lockKeyOf } from '../../src/workers/worker-fetch.js';
import { ANSWER, answerArg, answerFrame, answerOf, frame, FrameReader, HAVE, haveFrame, hashesOf, HELLO, payloadFrame, RETRY_ARG, WAIT, type Frame } from '../../src/workers/lock-wire.js';

test('the directory names the worker that stored a key; a worker named that did not have it is forgotten for it', () => {
  const d = new Directory(4);
  assert.equal(d.storedAt(keyHash('x')), undefined);
  d.record(keyHash('x'), 1);
  assert.equal(d.storedAt(keyHash('x')), 1);
  // notAt naming another worker than the directory's leaves the entry.
  d.forget(keyHash('x'), 2);
  assert.equal(d.storedAt(keyHash('x')), 1);
  d.forget(keyHash('x'), 1);
  assert.equal(d.storedAt(keyHash('x')), undefined);
  d.record(keyHash('x'), 0);
  assert.equal(d.storedAt(keyHash('x')), 0);
});

test('the directory is bounded: a slot taken by another key forgets the first (then fetched once more, never a wrong worker)', () => {
  const d = new Directory(1);
  const keys = Array.from({ length: 64 }, (_, i) => `/k${i}`);
  for (const k of keys) d.record(keyHash(k), 1);
  const remembered = keys.filter((k) => d.storedAt(keyHash(k)) === 1);
  assert.ok(remembered.length <= 2, `${remembered.length} remembered in a 2-slot directory`);
  assert.ok(keys.every((k) => d.storedAt(keyHash(k)) === undefined || d.storedAt(keyHash(k)) === 1));
});

test('frames survive any split of the byte stream', () => {
  const frames = [frame(HELLO, 0, 3), haveFrame(Uint32Array.from([1, 0xffffffff, 42])), payloadFrame(WAIT, 7, Buffer.from('k1-k2', 'latin1')), answerFrame(7, answerArg({ kind: 'at', worker: 2 }))];
  const bytes = Buffer.concat(frames);
  for (const cut of [1, 3, 5, 11, 17]) {
    const got: Frame[] = [];
    const r = new FrameReader((f) => got.push({ ...f, payload: Buffer.from(f.payload) }));
    for (let i = 0; i < bytes.length; i += cut) r.push(bytes.subarray(i, i + cut));
    assert.equal(got.length, 4, `cut ${cut}`);
    assert.deepEqual([got[0]!.type, got[0]!.arg], [HELLO, 3]);
    assert.equal(got[1]!.type, HAVE);
    assert.deepEqual([...hashesOf(got[1]!.payload)], [1, 0xffffffff, 42]);
    assert.deepEqual([got[2]!.type, got[2]!.id, got[2]!.payload.toString('latin1')], [WAIT, 7, 'k1-k2']);
    assert.deepEqual([got[3]!.type, got[3]!.id, answerOf(got[3]!.payload.readUInt16LE(0))], [ANSWER, 7, { kind: 'at', worker: 2 }]);
  }
});

test('a holder\'s answer survives the wire, and none is taken for "look again"', () => {
  for (const a of [{ kind: 'alone' }, { kind: 'at', worker: 0 }, { kind: 'at', worker: 255 }, { kind: 'fetching', worker: 0 }, { kind: 'fetching', worker: 255 }] as Answer[]) {
    assert.deepEqual(answerOf(answerArg(a)), a);
    assert.notEqual(answerArg(a), RETRY_ARG);
  }
});

test('a slice fetch\'s lock is its range of the object; the disk\'s list names each stored slice by the same lock key', () => {
  const key = 'GET http://o/big';
  assert.equal(lockKeyOf(key, undefined), key);
  // The range pipeline/slices.ts asks the origin for slice 2 of 64 KiB slices.
  const slice2 = lockKeyOf(key, `bytes=${2 * 65536}-${3 * 65536 - 1}`);
  assert.notEqual(slice2, key);
  assert.notEqual(slice2, lockKeyOf(key, `bytes=${3 * 65536}-${4 * 65536 - 1}`));
  const records = new Map<string, { primaryKey: string; held?: { slice?: { index: number; bytes: number } } }>([
    ['GET http://o/small', { primaryKey: 'GET http://o/small' }],
    [`${key} slice 65536 2`, { primaryKey: key, held: { slice: { index: 2, bytes: 65536 } } }],
  ]);
  assert.deepEqual([...diskPrimaryKeys({ records })], ['GET http://o/small', key, slice2]);
});
