// SIGHUP on a running `strata` process (dist/src/cli.js in a child process)
// re-reads its YAML file: the new upstream serves, a restart-only change is
// logged as needing a restart, and an invalid file is logged and refused while
// the process keeps serving with the configuration it had. Waits are on log
// lines and answers, never on sleeps.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { answersName, fetchReply, startOrigin } from '../fixtures/harness.js';
import { reaped } from '../fixtures/reap.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

function yaml(originUrl: string, dir: string, listen = '127.0.0.1:0'): string {
  return [`listen: ${listen}`, 'logLevel: info', 'admin:', '  listen: 127.0.0.1:0', 'origin:', `  url: ${originUrl}`, 'cache:', `  dir: ${join(dir, 'cache')}`, ''].join('\n');
}

test('SIGHUP re-reads the YAML file: new upstream live, restart-only change logged, invalid file refused while serving', async () => {
  const a = await startOrigin(answersName('A'));
  const b = await startOrigin(answersName('B'));
  const dir = await mkdtemp(join(tmpdir(), 'strata-sighup-'));
  const file = join(dir, 'strata.yaml');
  await writeFile(file, yaml(a.url, dir));
  // A scrubbed env keeps STRATA_* variables of the developer's shell out of the test.
  const child = reaped(spawn(process.execPath, [CLI, '--workers', '1', '--config', file], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] }));
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  createInterface({ input: child.stdout }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      lines.push({ msg: l });
    }
  });
  const logged = async (pred: (l: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const found = lines.find(pred);
      if (found) return found;
      if (child.exitCode !== null) throw new Error(`strata exited (${child.exitCode}) before ${what}: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr: ${stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  try {
    const started = await logged((l) => l.msg === 'strata node started', 'start-up');
    const base = `http://127.0.0.1:${(started.listen as { port: number }).port}`;
    assert.equal((await fetchReply(`${base}/x`)).text, 'A');

    // A new upstream (live) and a new listen address (restart-only).
    await writeFile(file, yaml(b.url, dir, '127.0.0.1:1'));
    child.kill('SIGHUP');
    const reloaded = await logged((l) => typeof l.msg === 'string' && l.msg.startsWith('configuration reloaded'), 'the reload');
    assert.deepEqual((reloaded.applied as { key: string }[]).map((c) => c.key), ['origin.upstreams']);
    assert.deepEqual(reloaded.restartRequired, [{ key: 'listen', from: '127.0.0.1:0', to: '127.0.0.1:1' }]);
    assert.equal((await fetchReply(`${base}/y`)).text, 'B');

    await writeFile(file, 'origin:\n  url: ftp://nowhere\n');
    child.kill('SIGHUP');
    const refusal = await logged((l) => typeof l.msg === 'string' && l.msg.startsWith('reload refused'), 'the refusal');
    assert.equal(refusal.level, 50);
    assert.match(String(refusal.msg), /origin\.url: "ftp:\/\/nowhere"/);
    assert.equal(child.exitCode, null, 'still running');
    assert.equal((await fetchReply(`${base}/z`)).text, 'B');

    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, stderr);
    assert.equal(stderr, '');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await Promise.all([a.close(), b.close()]);
    await rm(dir, { recursive: true, force: true });
  }
});
