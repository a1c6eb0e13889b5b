// Purges while a worker directory is unused (a start with fewer workers, or one
// process) reach it: the next start that serves it again never serves what was
// purged meanwhile (store/purge/unserved-journals.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnStrata } from '../fixtures/spawned.js';
import { get, servedBy, startWorkers, stopAll, versionedOrigin } from '../fixtures/workers.js';

const SITE = { host: 'site.test' };

test('3 workers → 2 → 1 process → 3: what was purged while w2 (and w1) were unused is never served from their directories', async () => {
  const origin = await versionedOrigin(0);
  const dir = await mkdtemp(join(tmpdir(), 'strata-workers-count-purge-'));
  const paths = Array.from({ length: 30 }, (_, i) => `/p-${i}`);
  const purge = (base: string, p: string) => get(base, p, 'PURGE', { ...SITE, authorization: 'Bearer t' });
  try {
    const three = await startWorkers(3, origin, dir);
    await Promise.all(paths.map((p) => get(three.base, p, 'GET', SITE)));
    // Every owner copy on disk: some in w2's directory, some in w1's.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const stats = JSON.parse((await get(three.admin, '/stats')).body) as { tiers: { disk: { items: number } } };
      if (stats.tiers.disk.items === paths.length) break;
      assert.ok(Date.now() < deadline, `disk items ${stats.tiers.disk.items}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const holders = new Set((await Promise.all(paths.map((p) => get(three.base, p, 'GET', SITE)))).map(servedBy));
    assert.ok(holders.has('w2') && holders.has('w1'), [...holders].join(','));
    await stopAll(three.s, three.pids);

    // Two workers: the first half purged (w2's directory unused).
    const two = await startWorkers(2, origin, dir);
    for (const p of paths.slice(0, 15)) assert.equal((await purge(two.base, p)).status, 200);
    await stopAll(two.s, two.pids);

    // One process: the second half purged (w1's and w2's directories unused).
    const one = spawnStrata(['--workers', '1', '--node-id', 'n', '--origin', origin.url, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--cache-dir', join(dir, 'cache')], { STRATA_ADMIN_TOKEN: 't' });
    const started = await one.logged((l) => l.msg === 'strata node started', 'the single process');
    const oneBase = `http://127.0.0.1:${(started.listen as { port: number }).port}`;
    for (const p of paths.slice(15)) assert.equal((await purge(oneBase, p)).status, 200);
    one.child.kill('SIGTERM');
    assert.equal(await one.exited(), 0, one.stderr());

    // Three again: every path is the origin's newer version, whichever directory held it.
    const again = await startWorkers(3, origin, dir);
    try {
      const answers = await Promise.all(paths.map((p) => get(again.base, p, 'GET', SITE)));
      const old = answers.filter((a) => a.body.endsWith(' v1')).map((a) => `${a.body} ${a.cacheStatus}`);
      assert.deepEqual(old, [], 'purged versions served');
      await stopAll(again.s, again.pids);
    } finally {
      if (again.s.child.exitCode === null) again.s.child.kill('SIGKILL');
    }
  } finally {
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
