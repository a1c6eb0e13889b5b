// Integration tests for start-up refusals of the `strata` command that only
// running (not parsing) finds: a cache directory that cannot be created, a port
// in use. Each is an operator's mistake: one `strata: ...` line naming the key,
// exit 2, with or without workers (no restart loop, no stack trace).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

function run(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, '--origin', 'http://127.0.0.1:9', '--admin-listen', '127.0.0.1:0', ...args], {
    env: { PATH: process.env.PATH ?? '' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, stderr: r.stderr };
}

function withTempDir(f: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'strata-startup-'));
  try {
    f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const workers of ['1', '2']) {
  test(`--cache-dir naming a file (workers ${workers}): exit 2, one line naming cache.dir, the path and EEXIST`, () => {
    withTempDir((dir) => {
      const file = join(dir, 'not-a-dir');
      writeFileSync(file, 'x');
      const r = run(['--workers', workers, '--listen', '127.0.0.1:0', '--cache-dir', file]);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr, `strata: cache.dir: ${file}: cannot create (EEXIST)\n`);
    });
  });
}

test('a port in use with workers: the worker refuses to start and the node exits 2, as a single process does', async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  try {
    const port = (busy.address() as AddressInfo).port;
    withTempDir((dir) => {
      for (const workers of ['1', '2']) {
        const r = run(['--workers', workers, '--listen', `127.0.0.1:${port}`, '--cache-dir', dir]);
        assert.equal(r.status, 2, `workers ${workers}: ${r.stderr}`);
        assert.match(r.stderr, new RegExp(`^strata: listen: 127\\.0\\.0\\.1:${port} is in use$`, 'm'));
        assert.doesNotMatch(r.stderr, /unexpected error/);
      }
    });
  } finally {
    busy.close();
  }
});

for (const workers of ['1', '2']) {
  test(`--limits-request-body-dir missing, a file, or not writable (workers ${workers}): exit 2, one line naming limits.requestBodyDir, the path and the cause`, () => {
    withTempDir((dir) => {
      const file = join(dir, 'a-file');
      writeFileSync(file, 'x');
      const cases: [string, string][] = [
        [join(dir, 'missing'), 'does not exist \\(ENOENT\\)'],
        [file, 'is not a directory'],
        // Not writable even by root.
        ['/sys', 'cannot write \\(E[A-Z]+\\)'],
      ];
      for (const [bodyDir, why] of cases) {
        const r = run(['--workers', workers, '--listen', '127.0.0.1:0', '--cache-dir', join(dir, 'cache'), '--limits-request-body-dir', bodyDir]);
        assert.equal(r.status, 2, `${bodyDir}: ${r.stderr}`);
        assert.match(r.stderr, new RegExp(`^strata: limits\\.requestBodyDir: ${bodyDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ${why}; request bodies over limits\\.requestBodyMemoryBytes are spooled there\\n$`), bodyDir);
      }
    });
  });
}
