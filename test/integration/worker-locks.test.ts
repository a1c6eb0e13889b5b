// The workers' per-key locks and directory (src/workers/lock-links.ts,
// key-lock.ts) over real Unix-domain sockets, two or three workers in this
// process: a lock taken by one worker makes the others wait, a waiter is sent to
// the worker that stored the key, directories are filled from what each holds and
// from what each stores, and every failure turns into "fetch alone", never a hang.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import pino from 'pino';
import { WorkerLocks } from '../../src/workers/lock-links.js';
import { keyHash } from '../../src/workers/directory.js';
import { answerArg } from '../../src/workers/lock-wire.js';
import { clearLocksOf, KeyLocks, lockDirFor, removeLockDir } from '../../src/workers/key-lock.js';

const logger = pino({ level: 'silent' });

async function workers(n: number, holding: (string[] | undefined)[] = []): Promise<{ w: WorkerLocks[]; lockDir: string; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-locks-'));
  const paths = Array.from({ length: n }, (_, i) => join(dir, `w${i}.sock`));
  const lockDir = lockDirFor(basename(dir), dir);
  const w = paths.map((_, index) => new WorkerLocks({ index, paths, lockDir, logger, holding: () => (holding[index] ? Uint32Array.from(holding[index]!.map(keyHash)) : undefined) }));
  for (const l of w) await l.listen();
  return {
    w,
    lockDir,
    close: async () => {
      for (const l of w) await l.close();
      removeLockDir(lockDir);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once `cond` holds, polled on each timer turn; fails past `ms`. */
async function until(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Whether `p` is settled after the event loop turned a few times (the lock is answered by sockets). */
async function settledSoon(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  return done;
}

test('one worker takes a key\'s lock; the others wait and are then sent to it once it stored the object', async () => {
  const { w, close } = await workers(3);
  try {
    assert.deepEqual(await w[1]!.acquire('/a'), { kind: 'go' });
    const waiting = [w[0]!.acquire('/a'), w[2]!.acquire('/a')];
    assert.equal(await settledSoon(Promise.race(waiting)), false, 'they wait while worker 1 fetches');
    // The holder's own second flight fetches alone (as before: no wait on itself).
    assert.deepEqual(await w[1]!.acquire('/a'), { kind: 'alone' });
    w[1]!.release('/a', true);
    assert.deepEqual(await Promise.all(waiting), [{ kind: 'at', worker: 1 }, { kind: 'at', worker: 1 }]);
    assert.equal(w[0]!.stats().waited, 1);
    // Worker 1 missing it again (it lost its copy) takes the lock again; a release is told once.
    assert.deepEqual(await w[1]!.acquire('/a'), { kind: 'go' });
    w[1]!.release('/a', true);
    w[1]!.release('/a', false);
    assert.equal(w[1]!.stats().locksHeld, 0);
  } finally {
    await close();
  }
});

test('a fetch that stored nothing lets its waiters fetch alone, and the lock is free at once', async () => {
  const { w, close } = await workers(2);
  try {
    assert.deepEqual(await w[0]!.acquire('/p'), { kind: 'go' });
    const waiting = w[1]!.acquire('/p');
    assert.equal(await settledSoon(waiting), false);
    w[0]!.release('/p', false);
    assert.deepEqual(await waiting, { kind: 'alone' });
    assert.deepEqual(await w[1]!.acquire('/p'), { kind: 'go' }, 'nobody holds it any more');
    w[1]!.release('/p', false);
  } finally {
    await close();
  }
});

test('a stored key: a worker asking right after the release is sent to the holder (the lock lingers), then its directory knows', async () => {
  const { w, close } = await workers(2);
  try {
    await w[0]!.announce();
    const keys = Array.from({ length: 20 }, (_, i) => `/r${i}`);
    for (const k of keys) {
      assert.deepEqual(await w[1]!.acquire(k), { kind: 'go' });
      w[1]!.release(k, true);
      // Before the batch of notices left: the lingering lock answers.
      assert.deepEqual(await w[0]!.acquire(k), { kind: 'at', worker: 1 }, k);
    }
    // The notices arrive and the locks stop lingering: the directory answers, with no lock at all.
    await until(() => w[1]!.stats().locksLingering === 0, 'the locks to stop lingering');
    const directed = w[0]!.stats().directed;
    const granted = w[0]!.stats().granted;
    for (const k of keys) assert.deepEqual(await w[0]!.acquire(k), { kind: 'at', worker: 1 }, k);
    assert.equal(w[0]!.stats().directed, directed + keys.length);
    assert.equal(w[0]!.stats().granted, granted);
    // A worker named that did not have it (evicted, purged) is forgotten: the asker fetches.
    assert.deepEqual(await w[0]!.acquire(keys[0]!, 1), { kind: 'go' });
    w[0]!.release(keys[0]!, false);
  } finally {
    await close();
  }
});

test('each worker tells the others what it holds: the directories are filled before serving', async () => {
  const held0 = ['/h0', '/h1', '/h2'];
  const held1 = ['/g0', '/g1', '/g2'];
  const { w, close } = await workers(2, [held0, held1]);
  try {
    // Worker 1 (re)starts: it links to worker 0, telling what it holds and learning what worker 0 holds.
    await w[1]!.announce();
    for (const k of held0) assert.deepEqual(await w[1]!.acquire(k), { kind: 'at', worker: 0 }, k);
    for (const k of held1) assert.deepEqual(await w[0]!.acquire(k), { kind: 'at', worker: 1 }, k);
  } finally {
    await close();
  }
});

test('a holder that goes away frees its waiters (fetch alone); its lock is free again', async () => {
  const { w, close } = await workers(2);
  try {
    assert.deepEqual(await w[1]!.acquire('/c'), { kind: 'go' });
    const waiting = w[0]!.acquire('/c');
    assert.equal(await settledSoon(waiting), false);
    await w[1]!.close();
    assert.deepEqual(await waiting, { kind: 'alone' });
    assert.deepEqual(await w[0]!.acquire('/c'), { kind: 'go' });
    w[0]!.release('/c', true);
  } finally {
    await close();
  }
});

test('two starts of a node do not share locks', async () => {
  const a = await workers(2);
  const b = await workers(2);
  try {
    assert.deepEqual(await a.w[0]!.acquire('/same'), { kind: 'go' });
    assert.deepEqual(await b.w[0]!.acquire('/same'), { kind: 'go' });
    a.w[0]!.release('/same', false);
    b.w[0]!.release('/same', false);
  } finally {
    await a.close();
    await b.close();
  }
});

test('a lock left by a process that died is taken over; the primary clears a dead worker\'s locks; nothing is left after close', async () => {
  const { w, lockDir, close } = await workers(2);
  try {
    // A dead process's lock (a pid that cannot be running: above pid_max), as a crashed worker 1 leaves it.
    assert.deepEqual(await w[1]!.acquire('/dead'), { kind: 'go' });
    const [name] = readdirSync(lockDir);
    unlinkSync(join(lockDir, name!));
    symlinkSync('1.4194305', join(lockDir, name!));
    assert.deepEqual(await w[0]!.acquire('/dead'), { kind: 'go' }, 'the stale link is removed and the lock taken');
    assert.equal(readlinkSync(join(lockDir, name!)), `0.${process.pid}`);
    w[0]!.release('/dead', false);
    // clearLocksOf removes only the dead worker's links.
    assert.deepEqual(await w[0]!.acquire('/x0'), { kind: 'go' });
    assert.deepEqual(await w[1]!.acquire('/x1'), { kind: 'go' });
    assert.equal(readdirSync(lockDir).length, 2);
    clearLocksOf(lockDir, 1);
    assert.deepEqual(readdirSync(lockDir).map((n) => readlinkSync(join(lockDir, n))), [`0.${process.pid}`]);
    w[0]!.release('/x0', false);
    w[1]!.release('/x1', false);
    w[1]!.release('/dead', false); // its link was replaced above: letting go finds nothing to remove
    await w[0]!.close();
    await w[1]!.close();
    assert.deepEqual(readdirSync(lockDir), [], 'every lock let go');
  } finally {
    await close();
  }
  assert.equal(existsSync(lockDir), false);
});

test('a lock link naming a live worker that does not hold it: the holder answers "look again", and the asker ends up fetching alone', async () => {
  const { w, lockDir, close } = await workers(2);
  try {
    // Worker 1 takes and lets go of '/gone', but its link is put back (as if read just before the release).
    assert.deepEqual(await w[1]!.acquire('/gone'), { kind: 'go' });
    const [name] = readdirSync(lockDir);
    w[1]!.release('/gone', false);
    symlinkSync(`1.${process.pid}`, join(lockDir, name!));
    assert.deepEqual(await w[0]!.acquire('/gone'), { kind: 'alone' });
    assert.equal(w[0]!.stats().waited, 0, 'no answer was a grant');
  } finally {
    await close();
  }
});

test('a lingering lock taken again and stored again lingers for two sweeps from its last release; held and lingering are counted apart', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-locks-'));
  const locks = new KeyLocks(join(dir, 'locks'), 0, () => false);
  try {
    assert.deepEqual(locks.take('/l', keyHash('/l')), { kind: 'go' });
    assert.deepEqual([locks.heldCount, locks.lingeringCount], [1, 0]);
    assert.equal(locks.release('/l', true), true);
    assert.deepEqual([locks.heldCount, locks.lingeringCount, locks.holds('/l')], [0, 1, false]);
    locks.sweep();
    // Missed again while it lingers: held again, then stored again.
    assert.deepEqual(locks.take('/l', keyHash('/l')), { kind: 'go' });
    assert.deepEqual([locks.heldCount, locks.lingeringCount, locks.holds('/l')], [1, 0, true]);
    assert.equal(locks.release('/l', true), true);
    assert.equal(locks.release('/l', false), false, 'a release is told once');
    locks.sweep();
    assert.equal(locks.lingeringCount, 1, 'one sweep since its last release: it still lingers');
    const answers: number[] = [];
    locks.waitFor(readdirSync(join(dir, 'locks'))[0]!, (arg) => answers.push(arg));
    assert.deepEqual(answers, [answerArg({ kind: 'at', worker: 0 })], 'a lingering lock answers "stored here" at once');
    locks.sweep();
    assert.deepEqual([locks.heldCount, locks.lingeringCount], [0, 0]);
    assert.deepEqual(readdirSync(join(dir, 'locks')), []);
  } finally {
    locks.close();
    await rm(dir, { recursive: true, force: true });
  }
});
