// The lock links between workers (src/workers/lock-links.ts) over real Unix-domain
// sockets, two workers in this process: a lock taken over the link, a waiter sent
// to the worker that stored the key, directories filled from what each holds,
// and every failure turning into "fetch alone", never a hang.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { WorkerLocks } from '../../src/workers/lock-links.js';
import { keyHash, ownerOf } from '../../src/workers/lock-table.js';

const logger = pino({ level: 'silent' });

/** Keys whose owner is worker `w` of 2. */
function ownedBy(w: number, n: number, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (ownerOf(keyHash(`${prefix}${i}`), 2) === w) out.push(`${prefix}${i}`);
  return out;
}

async function pair(holding: (string[] | undefined)[] = [undefined, undefined]): Promise<{ w: WorkerLocks[]; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-locks-'));
  const paths = [join(dir, 'w0.sock'), join(dir, 'w1.sock')];
  const w = [0, 1].map((index) => new WorkerLocks({ index, paths, logger, holding: () => (holding[index] ? Uint32Array.from(holding[index]!.map(keyHash)) : undefined) }));
  for (const l of w) await l.listen();
  return {
    w,
    close: async () => {
      for (const l of w) await l.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

test('a lock taken over the link: the owner waits for it and is then sent to the worker that stored the key', async () => {
  const { w, close } = await pair();
  try {
    const [key] = ownedBy(0, 1, '/a');
    assert.deepEqual(await w[1]!.acquire(key!), { kind: 'go' });
    const waiting = w[0]!.acquire(key!);
    let told = false;
    void waiting.then(() => (told = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(told, false, 'waits while worker 1 fetches');
    w[1]!.release(key!, true);
    assert.deepEqual(await waiting, { kind: 'at', worker: 1 });
    // Worker 1 asking again (it lost its copy) fetches; worker 0 is sent to worker 1.
    assert.deepEqual(await w[0]!.acquire(key!), { kind: 'at', worker: 1 });
    assert.equal(w[0]!.stats().directed, 1);
  } finally {
    await close();
  }
});

test('a release nobody waited for is held back, yet a worker asking meanwhile is sent to the holder, never told to fetch', async () => {
  const { w, close } = await pair();
  try {
    const keys = ownedBy(0, 20, '/r');
    for (const k of keys) {
      assert.deepEqual(await w[1]!.acquire(k), { kind: 'go' });
      w[1]!.release(k, true);
      // Worker 1's release leaves later (with its next question, or in 20 ms); worker 0 asks at once.
      assert.deepEqual(await w[0]!.acquire(k), { kind: 'at', worker: 1 }, k);
    }
  } finally {
    await close();
  }
});

test('each worker tells the others what it holds of their keys: the directories are filled before serving', async () => {
  const held0 = ownedBy(1, 3, '/h');
  const held1 = ownedBy(0, 3, '/g');
  const { w, close } = await pair([held0, held1]);
  try {
    // Worker 1 (re)starts: it links to worker 0, telling what it holds and learning what worker 0 holds.
    await w[1]!.announce();
    for (const k of held0) assert.deepEqual(await w[1]!.acquire(k), { kind: 'at', worker: 0 }, k);
    for (const k of held1) assert.deepEqual(await w[0]!.acquire(k), { kind: 'at', worker: 1 }, k);
  } finally {
    await close();
  }
});

test('a holder whose link closes frees its waiters (fetch alone); an owner that is gone answers alone at once', async () => {
  const { w, close } = await pair();
  try {
    const [key, other] = ownedBy(0, 2, '/c');
    assert.deepEqual(await w[1]!.acquire(key!), { kind: 'go' });
    const waiting = w[0]!.acquire(key!);
    await w[1]!.close();
    assert.deepEqual(await waiting, { kind: 'alone' });
    // Worker 0 gone: worker 1's questions are answered "alone" (its link fails), not left waiting.
    const { w: w2, close: close2 } = await pair();
    try {
      const [k] = ownedBy(0, 1, '/d');
      await w2[0]!.close();
      assert.deepEqual(await w2[1]!.acquire(k!), { kind: 'alone' });
      assert.deepEqual(await w2[1]!.acquire(other!), { kind: 'alone' });
    } finally {
      await close2();
    }
  } finally {
    await close();
  }
});
