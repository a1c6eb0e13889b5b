// Stored metadata shares its empty lists and repeated header values across entries
// (pipeline/shared-meta.ts): fewer objects per entry for V8's full collections to mark.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedMeta } from '../../src/pipeline/shared-meta.js';
import { entryMeta } from '../fixtures/entry-meta.js';

/** A string of its own, as a socket parse gives (not a shared literal). */
const own = (s: string) => Buffer.from(s).toString('latin1');

function missMeta(i: number) {
  return entryMeta(`GET http://o.test/m/${i}`, {
    headers: { 'content-type': own('application/octet-stream'), etag: own(`"${'e'.repeat(70)}${i}"`) },
    cacheControl: own('max-age=60'),
  });
}

test('shared meta: empty lists are one frozen object, repeated values one string, long values left alone', () => {
  const s = new SharedMeta();
  const a = missMeta(1);
  const b = missMeta(2);
  const bType = b.headers['content-type'];
  s.share(a);
  s.share(b);
  assert.equal(a.tags, b.tags);
  assert.equal(a.varyNames, b.varyNames);
  assert.equal(a.varyValues, b.varyValues);
  assert.ok(Object.isFrozen(a.tags) && Object.isFrozen(a.varyNames) && Object.isFrozen(a.varyValues));
  // The same content, and (unobservable from JS) one string: the second entry takes the first one's.
  assert.equal(b.headers['content-type'], bType);
  assert.equal(b.cacheControl, 'max-age=60');
  assert.notEqual(a.headers['etag'], b.headers['etag']);
  // A stage that changed a shared list in place would change every entry's: it throws instead.
  assert.throws(() => (a.tags as string[]).push('x'), TypeError);
});

test('shared meta: lists with content are the entry\'s own', () => {
  const s = new SharedMeta();
  const m = entryMeta('GET http://o.test/v', { varyNames: ['accept-language'], varyValues: { 'accept-language': 'en' }, tags: ['t1'] });
  const { varyNames, varyValues, tags } = m;
  s.share(m);
  assert.equal(m.varyNames, varyNames);
  assert.equal(m.varyValues, varyValues);
  assert.equal(m.tags, tags);
  assert.ok(!Object.isFrozen(m.tags));
});

test('shared meta: the table of values is bounded (a crawler of distinct values does not grow it)', () => {
  const s = new SharedMeta();
  for (let i = 0; i < 10_000; i++) s.share(entryMeta(`GET http://o.test/${i}`, { headers: { date: `value ${i}` } }));
  const size = (s as unknown as { values: Map<string, string> }).values.size;
  assert.ok(size <= 4096, `table holds ${size} values`);
});
