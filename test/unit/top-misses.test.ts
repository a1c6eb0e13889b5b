import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopMisses, withoutValues } from '../../src/observability/top-misses.js';

test('TopMisses: counts per key, top N most first', () => {
  const t = new TopMisses(100);
  for (const [k, n] of [['a', 3], ['b', 5], ['c', 1]] as const) for (let i = 0; i < n; i++) t.record(k);
  assert.deepEqual(t.top(2), [{ key: 'b', misses: 5 }, { key: 'a', misses: 3 }]);
  assert.deepEqual(t.top().map((m) => m.key), ['b', 'a', 'c']);
});

test('TopMisses: bounded; a stream of distinct keys keeps the most-missed', () => {
  const t = new TopMisses(10);
  for (let i = 0; i < 20; i++) t.record('hot');
  for (let i = 0; i < 10_000; i++) t.record(`cold-${i}`);
  assert.ok(t.size <= 10);
  assert.deepEqual(t.top(1), [{ key: 'hot', misses: 20 }]);
});

test('withoutValues leaves out the values of the query and of the route key members, names and path kept', () => {
  assert.equal(withoutValues('GET http://s.example/a/b'), 'GET http://s.example/a/b');
  // A bare query member is the client's, as a value is (a token as the whole query): left out whole.
  assert.equal(withoutValues('GET http://s.example/reset?token=abc&u=1&flag'), 'GET http://s.example/reset?token=…&u=…&…');
  assert.equal(withoutValues('GET http://s.example/reset?S3CRET'), 'GET http://s.example/reset?…');
  assert.equal(withoutValues('GET http://s.example/p?&a=&=b'), 'GET http://s.example/p?&a=…&=…');
  assert.equal(withoutValues('GET http://s.example/p?'), 'GET http://s.example/p?');
  assert.equal(withoutValues('GET http://s.example/p?T0K#c.session=abc&h.x-device'), 'GET http://s.example/p?…#c.session=…&h.x-device');
  assert.equal(withoutValues('GET http://s.example/p?x=1#c.session=abc&h.x-device'), 'GET http://s.example/p?x=…#c.session=…&h.x-device');
  assert.equal(withoutValues('GET http://s.example/p#side=canary'), 'GET http://s.example/p#side=…');
  // A path with "=" in it keeps it: only what follows "?" or "#" is a value.
  assert.equal(withoutValues('GET http://s.example/k=v/x'), 'GET http://s.example/k=v/x');
});
