// A worker the primary restarts after a crash runs the node's running
// configuration, not the config file as it is at that moment: the file may have
// been changed without a reload, or a reload of it refused. Before, a restarted
// worker loaded the file again: after a refused reload it exited 2 at every
// restart (the node served on one worker fewer until the file was fixed), and a
// file edited but not reloaded ran on that worker alone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogLine, Spawned } from '../fixtures/spawned.js';
import { get, servedBy, startWorkers, stopAll, versionedOrigin } from '../fixtures/workers.js';

/** Longer than the reloaded limits.maxUrlBytes (400), shorter than the default (8 KiB). */
const LONG = '/long-' + 'x'.repeat(600);

/** Kills worker 1 and waits for its restart; a worker that dies again first fails the test at once. */
async function killAndRestart(s: Spawned, pid: number): Promise<number> {
  const from = s.lines.length;
  process.kill(pid, 'SIGKILL');
  const again = (l: LogLine) => l.worker === 1 && (l.msg === 'worker restarted' || (l.msg === 'worker died; restarting it' && l.signal !== 'SIGKILL'));
  const line = await s.logged(again, 'worker 1 restarted', { from });
  assert.equal(line.msg, 'worker restarted', `worker 1 died again at its restart: ${JSON.stringify(line)}; ${s.stderr()}`);
  return line.pid as number;
}

/** The status w1 answers for `path` (fresh connections go round the workers). */
async function statusOnW1(base: string, path: string): Promise<number> {
  for (let i = 0; i < 10; i++) {
    const a = await get(base, path);
    // A refusal has a Cache-Status too (the worker's member names it).
    if (servedBy(a) === 'w1') return a.status;
  }
  throw new Error(`no answer from w1 for ${path.slice(0, 20)}`);
}

test('2 workers: a worker restarted after a refused reload, or with the file edited but not reloaded, runs the node\'s running configuration', async () => {
  const origin = await versionedOrigin(0);
  const dir = await mkdtemp(join(tmpdir(), 'strata-workers-restart-config-'));
  const file = join(dir, 'strata.yaml');
  await writeFile(file, 'logLevel: info\n');
  const { s, base, pids } = await startWorkers(2, origin, dir, ['--config', file]);
  let w1 = pids[1]!;
  try {
    // A reload both workers apply: a live setting every answer shows.
    let from = s.lines.length;
    await writeFile(file, 'logLevel: info\nlimits:\n  maxUrlBytes: 400\n');
    s.child.kill('SIGHUP');
    for (const w of ['w0', 'w1']) await s.logged((l) => l.node === `n.${w}` && l.msg === 'configuration reloaded', `${w} reloaded`, { from });
    assert.equal(await statusOnW1(base, LONG), 414);

    // A reload both refuse: the running configuration stays.
    from = s.lines.length;
    await writeFile(file, 'logLevel: nonsense\n');
    s.child.kill('SIGHUP');
    for (const w of ['w0', 'w1']) await s.logged((l) => l.node === `n.${w}` && l.code === 'RELOAD_REFUSED', `${w} refused the reload`, { from });

    w1 = await killAndRestart(s, w1);
    assert.equal(await statusOnW1(base, LONG), 414, 'the restarted worker runs the reloaded limit');
    assert.equal(await statusOnW1(base, '/short'), 200);

    // The file edited (valid) without a reload: a restarted worker still runs what the others run.
    await writeFile(file, 'logLevel: info\n');
    w1 = await killAndRestart(s, w1);
    assert.equal(await statusOnW1(base, LONG), 414, 'not the file as edited since');

    // A reload now applies the file on every worker, the restarted one too.
    from = s.lines.length;
    s.child.kill('SIGHUP');
    for (const w of ['w0', 'w1']) await s.logged((l) => l.node === `n.${w}` && l.msg === 'configuration reloaded', `${w} reloaded`, { from });
    assert.equal(await statusOnW1(base, LONG), 200);

    await stopAll(s, [pids[0]!, w1]);
  } finally {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
