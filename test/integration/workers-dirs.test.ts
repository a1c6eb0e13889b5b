// Every worker's disk directory (worker 0: cache.dir, worker i: cache.dir/w<i>) is
// checked before any worker starts, as cache.dir itself is: one that cannot be
// created or written stops the node's start with one line naming it (exit 2).
// Before, only cache.dir was checked: worker 1 died at every start with a stack
// trace (exit 1), restarted forever, and the node never said it had started.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnStrata } from '../fixtures/spawned.js';
import { startWorkers, stopAll, versionedOrigin } from '../fixtures/workers.js';

test('2 workers: a worker directory that cannot be created stops the start with one line naming it', async () => {
  const origin = await versionedOrigin(0);
  const dir = await mkdtemp(join(tmpdir(), 'strata-workers-dirs-'));
  const cache = join(dir, 'cache');
  await mkdir(cache, { recursive: true });
  // Where worker 1's directory goes, a file.
  await writeFile(join(cache, 'w1'), 'not a directory');
  const s = spawnStrata(['--workers', '2', '--node-id', 'n', '--origin', origin.url, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--cache-dir', cache], { STRATA_ADMIN_TOKEN: 't' });
  try {
    assert.equal(await s.exited(15_000), 2, s.stderr());
    const lines = s.stderr().trim().split('\n');
    assert.equal(lines.length, 1, s.stderr());
    assert.match(lines[0]!, new RegExp(`^strata: cache\\.dir: ${join(cache, 'w1').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot create \\(EEXIST\\)`));
    assert.equal(s.lines.some((l) => l.msg === 'worker died; restarting it'), false, 'no worker was started');
  } finally {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('2 workers on a new cache directory: every worker directory made before the start, and no worker count change claimed', async () => {
  const origin = await versionedOrigin(0);
  const dir = await mkdtemp(join(tmpdir(), 'strata-workers-dirs-new-'));
  const cache = join(dir, 'cache');
  try {
    const { s, pids } = await startWorkers(2, origin, dir);
    assert.equal(s.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('worker count changed')), false, JSON.stringify(s.lines.filter((l) => (l.level as number) >= 40)));
    assert.ok((await stat(join(cache, 'w1'))).isDirectory());
    await stopAll(s, pids);
  } finally {
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
