// Lent read buffers (src/store/disk/read-buffers.ts): a buffer is lent again only
// after its lease is released, once however often release() is called, and a lease
// never released is never lent again; a lease shared by several answers goes back
// when the last of them lets go.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lease, LentBody, ReadBuffers } from '../../src/store/disk/read-buffers.js';

test('a buffer is lent again only after its release, once; an unreleased one never', async () => {
  const pool = new ReadBuffers();
  const a = pool.take(16 * 1024);
  const bodyA = new LentBody(new Lease(pool, a), 16 * 1024 - 10);
  assert.equal(bodyA.buffer.length, 16 * 1024 - 10, 'the body is its size, not its buffer class');
  const b = pool.take(16 * 1024);
  assert.notEqual(b.buffer, a.buffer, 'not released: another buffer');
  bodyA.release();
  bodyA.release();
  assert.equal(pool.held, 16 * 1024, 'given back once');
  const c = pool.take(16 * 1024 - 100);
  assert.equal(c.buffer, a.buffer, 'the released buffer, lent again');
  assert.notEqual(pool.take(16 * 1024).buffer, a.buffer, 'and only to one taker');
  const body = new LentBody(new Lease(pool, pool.take(100)), 3);
  body.buffer.write('abc');
  assert.equal((await body.stream(1, 2).toArray()).map(String).join(''), 'bc', 'ranges from the lent bytes');
});

test('what is free is bounded', () => {
  const pool = new ReadBuffers();
  const taken = Array.from({ length: 40 }, () => pool.take(256 * 1024));
  for (const b of taken) pool.give(b);
  assert.ok(pool.held <= 4 * 1024 * 1024, `free bytes bounded (${pool.held})`);
});

test('a read shared by several answers is lent again only after every one of them let go', () => {
  const pool = new ReadBuffers();
  const buf = pool.take(8 * 1024);
  const lease = new Lease(pool, buf);
  const first = new LentBody(lease, 5000);
  const second = new LentBody(lease.share(), 5000);
  first.release();
  first.release();
  assert.equal(pool.held, 0, 'one answer still reads it');
  second.release();
  assert.equal(pool.held, 8 * 1024, 'back once the last let go');
  assert.equal(pool.take(8 * 1024).buffer, buf.buffer);
});
