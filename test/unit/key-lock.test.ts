// A stored key's lock lingers LINGER_MS after its notice left, answering "stored
// here": a worker that reads its links late is sent to the holder, not the origin
// (workers/key-lock.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyLocks, LINGER_MS } from '../../src/workers/key-lock.js';
import { keyHash } from '../../src/workers/directory.js';

test('a stored lock is still held through the sweeps of LINGER_MS, then let go', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-key-lock-'));
  const asked: number[] = [];
  const a = new KeyLocks(join(dir, 'locks'), 0, () => true);
  const b = new KeyLocks(join(dir, 'locks'), 1, (worker) => {
    asked.push(worker);
    return true;
  });
  try {
    const key = 'http://site.test/k';
    assert.deepEqual(a.take(key, keyHash(key)), { kind: 'go' });
    assert.equal(a.release(key, true), true);
    const t0 = Date.now();
    // Notices leave every 10 ms: many sweeps within the window.
    for (let t = 0; t < LINGER_MS; t += 10) a.sweep(t0 + t);
    assert.equal(a.lingeringCount, 1);
    // Another worker that misses the key now waits on the holder (which answers "stored here").
    const waited = b.take(key, keyHash(key));
    assert.ok(waited instanceof Promise, 'the lock is still there');
    assert.deepEqual(asked, [0]);
    b.close();
    assert.deepEqual(await waited, { kind: 'alone' }, 'closing ends the wait');
    a.sweep(t0 + LINGER_MS);
    assert.equal(a.lingeringCount, 0);
    const c = new KeyLocks(join(dir, 'locks'), 2, () => true);
    assert.deepEqual(c.take(key, keyHash(key)), { kind: 'go' }, 'let go after LINGER_MS');
    c.close();
  } finally {
    a.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a lingering lock missed again by its holder is held again and leaves the lingering count', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-key-lock-'));
  const a = new KeyLocks(join(dir, 'locks'), 0, () => true);
  try {
    const key = 'http://site.test/again';
    a.take(key, keyHash(key));
    a.release(key, true);
    a.sweep(1_000);
    assert.equal(a.lingeringCount, 1);
    assert.deepEqual(a.take(key, keyHash(key)), { kind: 'go' });
    assert.equal(a.lingeringCount, 0);
    assert.equal(a.holds(key), true);
    a.sweep(1_000 + LINGER_MS);
    assert.equal(a.holds(key), true, 'a held lock is not swept');
  } finally {
    a.close();
    await rm(dir, { recursive: true, force: true });
  }
});
