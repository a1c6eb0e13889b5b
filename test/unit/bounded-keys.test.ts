import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedKeys, keyBytes } from '../../src/util/bounded-keys.js';
import { PurgeLog } from '../../src/store/purge/purge-log.js';
import { TopMisses } from '../../src/observability/top-misses.js';
import { entryMeta } from '../fixtures/entry-meta.js';

test('BoundedKeys forgets the least recently set keys past its count or its key bytes, and says which', () => {
  const forgotten: string[] = [];
  const t = new BoundedKeys<number>({ maxKeys: 3, maxKeyBytes: 3 * keyBytes('aaaa') }, (k) => forgotten.push(k));
  for (const k of ['aaaa', 'bbbb', 'cccc']) t.set(k, 1);
  t.set('aaaa', 2); // the most recent now
  t.set('dddd', 1);
  assert.deepEqual(forgotten, ['bbbb']);
  t.set('e'.repeat(3 * keyBytes('aaaa')), 1); // over the byte bound alone: everything goes, itself too
  assert.equal(t.size, 0);
  assert.equal(t.figures.keyBytes, 0);
  t.set('ffff', 1);
  t.set('gggg', 1);
  t.setBounds({ maxKeys: 1, maxKeyBytes: 1e6 });
  assert.deepEqual([...t.keys()], ['gggg']);
});

test('TopMisses stays within its key bytes, keeping the most-missed keys', () => {
  const t = new TopMisses(1000, 10 * keyBytes('/' + 'x'.repeat(999)));
  t.record('/hot');
  t.record('/hot');
  for (let i = 0; i < 100; i++) t.record(`/${String(i).padStart(3, '0')}${'x'.repeat(996)}`);
  assert.ok(t.figures.keyBytes <= t.figures.maxKeyBytes);
  assert.deepEqual(t.top(1), [{ key: '/hot', misses: 2 }]);
});

test('PurgeLog: an invalidation forgotten for its key bytes counts as a purge of every fetch begun before it', () => {
  const log = new PurgeLog();
  const mark = log.mark;
  for (let i = 0; i < 1200; i++) log.invalidate(`GET http://h/${i}/${'x'.repeat(8000)}`);
  assert.ok(log.figures.keyBytes <= log.figures.maxKeyBytes);
  assert.ok(log.figures.invalidations < 1200);
  assert.equal(log.purgedSince(mark, entryMeta('GET http://h/other')), true);
});
