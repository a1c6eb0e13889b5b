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
import { clearLocksOf, KeyLocks, LINGER_MS, lockDirFor, removeLockDir } from '../../src/workers/key-lock.js';

const logger = pino({ level: 'silent' });

async function workers(n: number, holding: (string[] | undefined)[] = []): Promise<{ w: WorkerLocks[]; paths: string[]; lockDir: string; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-locks-'));
  const paths = Array.from({ length: n }, (_, i) => join(dir, `w${i}.sock`));
  const lockDir = lockDirFor(basename(dir), dir);
  const w = paths.map((_, index) => new WorkerLocks({ index, paths, lockDir, logger, holding: () => (holding[index] ? Uint32Array.from(holding[index]!.map(keyHash)) : undefined) }));
  for (const l of w) await l.listen();
  return {
    w,
    paths,
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

test('once the holder streams a storing fill, its waiters are told to join it, and a worker asking later is told so at once', async () => {
  const { w, close } = await workers(3);
  try {
    assert.deepEqual(await w[1]!.acquire('/s'), { kind: 'go' });
    const waiting = w[0]!.acquire('/s');
    assert.equal(await settledSoon(waiting), false, 'it waits while worker 1 has no response yet');
    w[1]!.streams('/s');
    assert.deepEqual(await waiting, { kind: 'fetching', worker: 1 });
    assert.deepEqual(await w[2]!.acquire('/s'), { kind: 'fetching', worker: 1 });
    assert.equal(w[1]!.stats().locksHeld, 1, 'held until the fill is over');
    w[1]!.release('/s', true);
    assert.deepEqual(await w[2]!.acquire('/s'), { kind: 'at', worker: 1 }, 'stored: lingering, "stored here"');
    // A streaming signal after the release (the fill ended first) changes nothing.
    w[1]!.streams('/s');
    assert.deepEqual(await w[0]!.acquire('/s'), { kind: 'at', worker: 1 });
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

test('each worker\'s list of what it holds reaches every other worker once: at start, after a restart, after its index loaded', async () => {
  const held = [['/h0', '/h1'], ['/g0', '/g1'], ['/f0', '/f1']];
  const { w, paths, lockDir, close } = await workers(3, held);
  let w1b: WorkerLocks | undefined;
  try {
    // All three start: each asks the others for their lists as it links; nobody pushes its own unasked.
    await Promise.all(w.map((l) => l.announce()));
    for (const [i, l] of w.entries()) for (const [j, keys] of held.entries()) if (i !== j) for (const k of keys) assert.deepEqual(await l.acquire(k), { kind: 'at', worker: j }, `${i}: ${k}`);
    assert.deepEqual(w.map((l) => l.stats().listsSent), [2, 2, 2], 'one list to each other worker');
    // Worker 1 restarts (same disk): it asks for every list again; the others kept what they learnt of its disk.
    await w[1]!.close();
    w1b = new WorkerLocks({ index: 1, paths, lockDir, logger, holding: () => Uint32Array.from(held[1]!.map(keyHash)) });
    await w1b.listen();
    await w1b.announce();
    for (const [j, keys] of held.entries()) if (j !== 1) for (const k of keys) assert.deepEqual(await w1b.acquire(k), { kind: 'at', worker: j }, k);
    for (const k of held[1]!) assert.deepEqual(await w[0]!.acquire(k), { kind: 'at', worker: 1 }, k);
    assert.deepEqual([w[0]!.stats().listsSent, w1b.stats().listsSent, w[2]!.stats().listsSent], [3, 0, 3], 'the restarted worker got each list once and sent none');
    // Worker 0 links to it again (a notice, once its retry delay after the close passed): it asks for nothing, so nothing is sent back.
    const deadline = Date.now() + 5_000;
    for (let i = 0; ; i++) {
      const k = `/after-restart-${i}`;
      assert.deepEqual(await w[0]!.acquire(k), { kind: 'go' });
      w[0]!.release(k, true);
      await until(() => w[0]!.stats().locksLingering === 0, 'the notice to leave');
      const g = await w1b.acquire(k);
      if (g.kind === 'at') break;
      w1b.release(k, false);
      assert.ok(Date.now() < deadline, 'worker 0 linked to the restarted worker again');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(w1b.stats().listsSent, 0);
  } finally {
    await w1b?.close();
    await close();
  }
});

test('a worker asked for its list while its index loads answers "nothing yet", then sends the list once, when loaded', async () => {
  const holding: (string[] | undefined)[] = [['/e0'], undefined];
  const { w, close } = await workers(2, holding);
  try {
    await Promise.all(w.map((l) => l.announce()));
    assert.deepEqual(await w[1]!.acquire('/e0'), { kind: 'at', worker: 0 });
    assert.equal(w[1]!.stats().listsSent, 0, 'nothing to send while loading');
    holding[1] = ['/d0', '/d1'];
    await w[1]!.announce();
    assert.equal(w[1]!.stats().listsSent, 1);
    for (const k of holding[1]) {
      // The list travels on its own: asked until it arrived ("go" meanwhile, let go at once).
      for (;;) {
        const g = await w[0]!.acquire(k);
        if (g.kind === 'at') break;
        assert.equal(g.kind, 'go');
        w[0]!.release(k, false);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    await w[1]!.announce();
    assert.equal(w[1]!.stats().listsSent, 1, 'sent once');
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

test('a lingering lock taken again and stored again lingers LINGER_MS from the sweep after its last release; held and lingering are counted apart', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-locks-'));
  const locks = new KeyLocks(join(dir, 'locks'), 0, () => false);
  try {
    assert.deepEqual(locks.take('/l', keyHash('/l')), { kind: 'go' });
    assert.deepEqual([locks.heldCount, locks.lingeringCount], [1, 0]);
    assert.equal(locks.release('/l', true), true);
    assert.deepEqual([locks.heldCount, locks.lingeringCount, locks.holds('/l')], [0, 1, false]);
    locks.sweep(1_000);
    // Missed again while it lingers: held again, then stored again.
    assert.deepEqual(locks.take('/l', keyHash('/l')), { kind: 'go' });
    assert.deepEqual([locks.heldCount, locks.lingeringCount, locks.holds('/l')], [1, 0, true]);
    assert.equal(locks.release('/l', true), true);
    assert.equal(locks.release('/l', false), false, 'a release is told once');
    locks.sweep(1_010);
    locks.sweep(1_000 + LINGER_MS);
    assert.equal(locks.lingeringCount, 1, 'LINGER_MS not passed since the sweep after its last release: it still lingers');
    const answers: number[] = [];
    locks.waitFor(readdirSync(join(dir, 'locks'))[0]!, (arg) => answers.push(arg));
    assert.deepEqual(answers, [answerArg({ kind: 'at', worker: 0 })], 'a lingering lock answers "stored here" at once');
    locks.sweep(1_010 + LINGER_MS);
    assert.deepEqual([locks.heldCount, locks.lingeringCount], [0, 0]);
    assert.deepEqual(readdirSync(join(dir, 'locks')), []);
  } finally {
    locks.close();
    await rm(dir, { recursive: true, force: true });
  }
});
