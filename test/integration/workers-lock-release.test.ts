// A worker's per-key lock is told its fetch is over exactly once, whatever the
// outcome: stored, passed (not storable), failed (no response), the client gone
// mid-body, the origin gone mid-body. Observed on a real `strata --workers 2`
// through /stats: every lock granted was released once (lockReleases counts each
// time a lock was told, duplicates included), none is left held, and the key's
// lock is free again for the next miss (no worker waits on it).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOrigin } from '../fixtures/harness.js';
import { get, startWorkers, stopAll } from '../fixtures/workers.js';

interface LockStats {
  granted: number;
  lockReleases: number;
  locksHeld: number;
}

async function lockStats(admin: string): Promise<LockStats> {
  const stats = JSON.parse((await get(admin, '/stats')).body) as { workers: Record<string, { peers: { workerMisses: LockStats } }> };
  const all = Object.values(stats.workers).map((w) => w.peers.workerMisses);
  return { granted: all.reduce((n, m) => n + m.granted, 0), lockReleases: all.reduce((n, m) => n + m.lockReleases, 0), locksHeld: all.reduce((n, m) => n + m.locksHeld, 0) };
}

/** Asks `path` and drops the connection after the first body bytes. */
function abortAfterFirstBytes(base: string, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(base + path, { agent: false }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
  });
}

test('2 workers: each lock is released exactly once on every outcome (stored, passed, failed, client gone, origin gone mid-body)', async () => {
  const big = Buffer.alloc(256 * 1024, 'b');
  const origin = await startOrigin((req, res) => {
    const path = req.url!.replace(/\?.*/, '');
    if (path === '/stored') {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': 6 });
      res.end('stored');
    } else if (path === '/passed') {
      res.writeHead(200, { 'cache-control': 'no-store', 'content-length': 6 });
      res.end('passed');
    } else if (path === '/failed') {
      req.socket.destroy();
    } else if (path === '/client-gone' || path === '/client-gone-passed') {
      res.writeHead(200, { 'cache-control': path === '/client-gone' ? 'max-age=600' : 'no-store', 'content-length': big.length });
      // The first bytes at once, the rest after the client left.
      res.write(big.subarray(0, 1024));
      setTimeout(() => res.end(big.subarray(1024)), 100);
    } else if (path === '/origin-gone') {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': big.length });
      res.write(big.subarray(0, 1024));
      setTimeout(() => req.socket.destroy(), 50);
    } else {
      res.writeHead(404, { 'content-length': 0 });
      res.end();
    }
  });
  const dir = await mkdtemp(join(tmpdir(), 'strata-wk-release-'));
  const { s, base, admin, pids } = await startWorkers(2, origin, dir);
  try {
    let before = await lockStats(admin);
    const outcomes: [string, () => Promise<unknown>][] = [
      ['stored', async () => assert.equal((await get(base, '/stored')).body, 'stored')],
      ['passed', async () => assert.equal((await get(base, '/passed')).body, 'passed')],
      ['failed', async () => assert.equal((await get(base, '/failed')).status, 502)],
      ['client gone, stored', () => abortAfterFirstBytes(base, '/client-gone')],
      ['client gone, passed', () => abortAfterFirstBytes(base, '/client-gone-passed')],
      ['origin gone mid-body', () => get(base, '/origin-gone').catch(() => undefined)],
    ];
    // After each: one more lock granted, told once, none held.
    for (const [what, act] of outcomes) {
      await act();
      let now = before;
      const deadline = Date.now() + 5_000;
      for (;;) {
        now = await lockStats(admin);
        if (now.granted === before.granted + 1 && now.lockReleases === now.granted && now.locksHeld === 0) break;
        if (Date.now() > deadline) assert.fail(`${what}: ${JSON.stringify({ before, now })}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      before = now;
    }
    // No lock is left behind: each key is asked again on both workers without waiting (the stored one is a hit).
    for (let i = 0; i < 4; i++) {
      assert.equal((await get(base, '/stored')).body, 'stored');
      assert.equal((await get(base, '/passed')).body, 'passed');
    }
    assert.equal(origin.count('/stored'), 1);
    const last = await lockStats(admin);
    assert.equal(last.lockReleases, last.granted, JSON.stringify(last));
    assert.equal(last.locksHeld, 0);
    await stopAll(s, pids);
  } finally {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
