// SIGHUP to the node while a worker is starting (restarted after a crash): the
// primary does not forward the signal to a worker process that has not started
// yet (before its handlers are installed, SIGHUP's default action ends it: it was
// restarted again, with a longer back-off); it reloads that worker once it started,
// so the reload reaches every worker all the same. SIGTERM then: a worker ended by
// it before it started had nothing to drain; the node's stop is clean (exit 0).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive } from '../fixtures/spawned.js';
import { startWorkers, stopAll, versionedOrigin } from '../fixtures/workers.js';

async function freshWorker(primary: number, known: number[]): Promise<number> {
  for (const deadline = Date.now() + 10_000; ; ) {
    assert.ok(Date.now() < deadline, 'no new worker process');
    const text = await readFile(`/proc/${primary}/task/${primary}/children`, 'utf8').catch(() => '');
    const fresh = text.split(' ').filter(Boolean).map(Number).find((p) => !known.includes(p));
    if (fresh !== undefined) return fresh;
    await new Promise((r) => setImmediate(r));
  }
}

test('2 workers: SIGTERM while a worker restarts stops the node cleanly', async () => {
  const origin = await versionedOrigin(0);
  const dir = await mkdtemp(join(tmpdir(), 'strata-workers-stop-restarting-'));
  const { s, pids } = await startWorkers(2, origin, dir);
  try {
    process.kill(pids[1]!, 'SIGKILL');
    const fresh = await freshWorker(s.child.pid!, pids);
    s.child.kill('SIGTERM');
    assert.equal(await s.exited(), 0, JSON.stringify(s.lines.filter((l) => (l.level as number) >= 40)));
    assert.equal(alive(fresh), false);
  } finally {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('2 workers: SIGHUP while a worker restarts neither kills it nor skips it', async () => {
  const origin = await versionedOrigin(0);
  const dir = await mkdtemp(join(tmpdir(), 'strata-workers-reload-restarting-'));
  const file = join(dir, 'strata.yaml');
  await writeFile(file, 'logLevel: info\n');
  const { s, pids } = await startWorkers(2, origin, dir, ['--config', file]);
  try {
    const children = async (): Promise<number[]> => (await readFile(`/proc/${s.child.pid}/task/${s.child.pid}/children`, 'utf8').catch(() => '')).split(' ').filter(Boolean).map(Number);
    const from = s.lines.length;
    process.kill(pids[1]!, 'SIGKILL');
    // The new worker process, as soon as it exists: still loading its modules.
    let fresh: number | undefined;
    for (const deadline = Date.now() + 10_000; fresh === undefined; ) {
      assert.ok(Date.now() < deadline, 'no new worker process');
      fresh = (await children()).find((p) => !pids.includes(p));
      if (fresh === undefined) await new Promise((r) => setImmediate(r));
    }
    await writeFile(file, 'logLevel: info\nlimits:\n  maxUrlBytes: 400\n');
    s.child.kill('SIGHUP');
    const restarted = await s.logged((l) => l.worker === 1 && (l.msg === 'worker restarted' || (l.msg === 'worker died; restarting it' && l.signal !== 'SIGKILL')), 'worker 1 restarted', { from });
    assert.equal(restarted.msg, 'worker restarted', `the starting worker died: ${JSON.stringify(restarted)}`);
    assert.equal(restarted.pid, fresh);
    await s.logged((l) => l.node === 'n.w0' && l.msg === 'configuration reloaded', 'w0 reloaded', { from });
    const w1 = await s.logged((l) => l.node === 'n.w1' && typeof l.msg === 'string' && l.msg.startsWith('configuration reloaded'), 'w1 reloaded once started', { from });
    assert.ok(w1, 'the reload reached the restarted worker');
    await stopAll(s, [pids[0]!, fresh]);
  } finally {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
