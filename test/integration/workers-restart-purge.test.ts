// A worker that was down while a purge was accepted gets it before it takes
// clients again (cluster/start-wait.ts, cluster.ts health): it asks every other
// worker, over their links, for what they owe it, and each delivers at once. Its
// disk still holds the purged object until then, and a restart quicker than the
// health checks notice leaves it "healthy" to the others, so the purge would
// otherwise wait for a retry timer (0.5 s doubling) while it serves.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get, servedBy, startWorkers, versionedOrigin } from '../fixtures/workers.js';

test('2 workers: a worker restarted after a purge it missed never serves the purged object', async () => {
  const origin = await versionedOrigin(0);
  const dir = await mkdtemp(join(tmpdir(), 'strata-workers-restart-purge-'));
  const { s, base, admin, pids } = await startWorkers(2, origin, dir);
  try {
    // Stored by one worker (on its disk: what a restart reads back).
    const first = await get(base, '/k');
    assert.match(first.cacheStatus, /fwd=uri-miss/);
    const storer = servedBy(first);
    const index = Number(storer.slice(1));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const stats = JSON.parse((await get(admin, '/stats')).body) as { workers: Record<string, { tiers: { disk: { items: number } } }> };
      if (stats.workers[storer]!.tiers.disk.items >= 1) break;
      assert.ok(Date.now() < deadline, `${storer} to write /k to disk`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const from = s.lines.length;
    process.kill(pids[index]!, 'SIGKILL');
    // The purge reaches the other worker only (its own answer says the dead one is pending).
    let purge = await get(base, '/k', 'PURGE', { authorization: 'Bearer t' });
    while (purge.status !== 200) purge = await get(base, '/k', 'PURGE', { authorization: 'Bearer t' });
    assert.match((JSON.parse(purge.body) as { peers: Record<string, string> }).peers[`n.${storer}`]!, /^pending/, purge.body);
    await s.logged((l) => l.msg === 'worker restarted' && l.worker === index, `${storer} restarted`, { from });
    // It applied the purge before it started serving (its own log lines, in its order).
    const mine = s.lines.slice(from).filter((l) => l.node === `n.${storer}`);
    const applied = mine.findIndex((l) => l.msg === 'purge from a peer');
    const serving = mine.findIndex((l) => l.msg === 'strata node started');
    assert.ok(applied >= 0 && applied < serving, `purge applied (line ${applied}) before serving (line ${serving})`);
    // From the moment it takes clients again: never the version before the purge.
    const answers = [];
    for (let i = 0; i < 40; i++) answers.push(await get(base, '/k'));
    assert.ok(answers.some((a) => servedBy(a) === storer), 'the restarted worker answered');
    const stale = answers.filter((a) => a.body === '/k v1').map((a) => `${servedBy(a)}: ${a.cacheStatus}`);
    assert.deepEqual(stale, []);
    assert.ok(origin.count('/k') >= 2);
  } finally {
    s.child.kill('SIGKILL');
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
