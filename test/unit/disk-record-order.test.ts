// The disk tier's LRU order (store/disk/record-order.ts): hits are noted, not moved at
// once, yet every reader of the order sees it as if each hit had moved its record.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordOrder } from '../../src/store/disk/record-order.js';
import { DiskRecord } from '../../src/store/disk/records.js';

const rec = (key: string) => new DiskRecord(key, 10, 0, 0, 0, 100, undefined);

function orderOf(...keys: string[]): { order: RecordOrder; recs: Map<string, DiskRecord> } {
  const order = new RecordOrder();
  const recs = new Map(keys.map((k) => [k, rec(k)]));
  for (const r of recs.values()) order.add(r);
  return { order, recs };
}

describe('disk record order', () => {
  test('hits count in the order of their latest hit; a write after them is younger', () => {
    const { order, recs } = orderOf('a', 'b', 'c', 'd');
    order.touch(recs.get('b')!);
    order.touch(recs.get('a')!);
    order.touch(recs.get('b')!);
    assert.deepEqual([...order.keys()], ['c', 'd', 'a', 'b']);
    order.touch(recs.get('c')!);
    const e = rec('e');
    order.add(e);
    assert.deepEqual([...order.keys()], ['d', 'a', 'b', 'c', 'e'], 'the hit before the write is older than the write');
  });

  test('a record removed after its hit is not brought back; its key written again keeps the new record', () => {
    const { order, recs } = orderOf('a', 'b', 'c');
    order.touch(recs.get('a')!);
    order.touch(recs.get('b')!);
    order.remove(recs.get('a')!);
    assert.deepEqual([...order.keys()], ['c', 'b']);
    assert.equal(order.get('a'), undefined);
    order.touch(recs.get('c')!);
    order.remove(recs.get('c')!);
    const c2 = rec('c');
    order.add(c2);
    assert.equal(order.get('c'), c2);
    assert.deepEqual([...order.keys()], ['b', 'c']);
  });

  test('a hit during a walk moves nothing under the walker; renew() moves at once, so the walk meets the record again', () => {
    const { order, recs } = orderOf('a', 'b', 'c');
    const seen: string[] = [];
    for (const r of order.values()) {
      seen.push(r.key);
      if (r.key === 'a' && seen.length === 1) order.renew(r);
      if (r.key === 'b') order.touch(r);
    }
    assert.deepEqual(seen, ['a', 'b', 'c', 'a']);
    assert.deepEqual([...order.keys()], ['c', 'a', 'b'], 'the hit applied at the next read');
    assert.equal(recs.get('b')!.hitSeq, 0);
  });

  test('the hit number shares its field with the verified flag without changing it', () => {
    const r = rec('a');
    r.verified = true;
    r.hitSeq = 5;
    assert.equal(r.verified, true);
    assert.equal(r.hitSeq, 5);
    r.verified = false;
    assert.equal(r.hitSeq, 5);
    r.hitSeq = 0;
    assert.equal(r.verified, false);
  });
});
