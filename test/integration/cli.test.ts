// Integration tests for the `strata` command's operator-facing behaviour: a bad
// config or unknown flag exits 2 with exactly one `strata: ...` line and no stack
// trace; --help, config-docs and a good check-config exit 0. Runs the compiled dist/src/cli.js in a child process.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reaped } from '../fixtures/reap.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

function run(args: string[], extraEnv: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  // A scrubbed env keeps STRATA_* variables of the developer's shell out of the test.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', ...extraEnv };
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertOneLineFailure(r: { status: number | null; stderr: string }, starts: string): void {
  assert.equal(r.status, 2, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.ok(r.stderr.endsWith('\n'));
  assert.ok(lines[0]!.startsWith(starts), lines[0]);
  assert.doesNotMatch(r.stderr, /\bat .+:\d+:\d+/, 'no stack trace');
}

test('bad --memory-size: exit 2, one stderr line, no stack', () => {
  const r = run(['--origin', 'http://127.0.0.1:9', '--memory-size', '12XB']);
  assertOneLineFailure(r, 'strata: ');
  assert.equal(r.stderr, 'strata: --memory-size: "12XB" is not a size (expected e.g. 256MiB, 10GiB)\n');
  assert.equal(r.stdout, '');
});

test('--memory-size 0 --disk-size 0 (no cache space at all): the node refuses to start, one line naming both keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-cli-'));
  try {
    const r = run(['--origin', 'http://127.0.0.1:9', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--cache-dir', dir, '--memory-size', '0', '--disk-size', '0']);
    assertOneLineFailure(r, 'strata: cache.memoryMaxBytes and cache.diskMaxBytes are both 0: ');
    assert.match(r.stderr, /bypass/, 'names the way to proxy without caching');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unknown flag: exit 2, one stderr line, no stack', () => {
  const r = run(['--origin', 'http://127.0.0.1:9', '--no-such-flag']);
  assertOneLineFailure(r, 'strata: --no-such-flag');
});

test('missing origin: exit 2, one stderr line', () => {
  assertOneLineFailure(run([]), 'strata: origin.url: missing');
});

test('--help exits 0 and lists --origin', () => {
  const r = run(['--help']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /--origin URL/);
});

test('config-docs prints config/default.yaml', () => {
  const r = run(['config-docs']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, readFileSync(new URL('../../../config/default.yaml', import.meta.url), 'utf8'));
});

function withConfigFile(text: string, f: (file: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'strata-check-'));
  try {
    const file = join(dir, 'strata.yaml');
    writeFileSync(file, text);
    f(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('check-config FILE: exit 0 and the effective config (file, env and flags) as YAML on stdout', () => {
  withConfigFile('origin:\n  url: http://127.0.0.1:9000\ncache:\n  memoryMaxBytes: 64MiB\n', (file) => {
    const r = run(['check-config', file, '--log-level', 'debug'], { STRATA_DISK_SIZE: '2GiB' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^ {4}- url: http:\/\/127\.0\.0\.1:9000$/m);
    assert.match(r.stdout, /^ {2}memoryMaxBytes: 64MiB$/m);
    assert.match(r.stdout, /^ {2}diskMaxBytes: 2GiB$/m);
    assert.match(r.stdout, /^logLevel: debug$/m);
    // The printed config is itself a valid config file.
    withConfigFile(r.stdout, (again) => assert.equal(run(['check-config', again]).stdout, r.stdout));
  });
});

test('check-config with a bad value: exit 2, one line naming file, key, value and expectation', () => {
  withConfigFile('origin:\n  url: http://127.0.0.1:9000\n  healthCheck:\n    timeoutMs: soon\n', (file) => {
    const r = run(['check-config', file]);
    assertOneLineFailure(r, `strata: config file ${file}: origin.healthCheck.timeoutMs: "soon" is not a duration (expected `);
    assert.equal(r.stdout, '');
  });
  withConfigFile('origin:\n  url: http://127.0.0.1:9000\n', (file) => {
    assertOneLineFailure(run(['check-config', file], { STRATA_ORIGIN_RETRIES_COUNT: 'many' }), 'strata: STRATA_ORIGIN_RETRIES_COUNT: "many" is not a whole number');
    assertOneLineFailure(run(['check-config', file, '--cache-bogus=1']), 'strata: --cache-bogus: unknown flag');
    // Refused at start-up, so refused by the check too.
    assertOneLineFailure(run(['check-config', file, '--workers', '4', '--peer', 'b=http://127.0.0.1:9001', '--cluster-secret', 'x'.repeat(32)]), 'strata: workers: 4 with cluster peers is not supported yet');
  });
  assertOneLineFailure(run(['check-config']), 'strata: check-config: missing FILE');
  assertOneLineFailure(run(['check-config', '/nonexistent/strata.yaml']), 'strata: config file /nonexistent/strata.yaml: cannot read (');
  assertOneLineFailure(run(['serve']), 'strata: unknown command "serve"');
});

test('SIGTERM: the node stops accepting, finishes, logs its stop and exits 0', async () => {
  const { spawn } = await import('node:child_process');
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { once } = await import('node:events').then((m) => m.default);
  const http = await import('node:http');
  const origin = http.createServer((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '2' });
    res.end('ok');
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  const originPort = (origin.address() as { port: number }).port;
  const dir = await mkdtemp(join(tmpdir(), 'strata-cli-'));
  const child = reaped(
    spawn(process.execPath, [CLI, '--workers', '1', '--origin', `http://127.0.0.1:${originPort}`, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--cache-dir', dir], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  try {
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // Wait for the start line, which names the bound port.
    while (!out.includes('strata node started')) await once(child.stdout, 'data');
    const started = JSON.parse(out.split('\n').find((l) => l.includes('strata node started'))!) as { listen: { port: number } };
    const res = await fetch(`http://127.0.0.1:${started.listen.port}/x`);
    assert.equal(await res.text(), 'ok');
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
    assert.match(out, /strata node stopped/);
  } finally {
    child.kill('SIGKILL');
    origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('check-config reads the TLS certificate files as start-up would: a missing file or a key of another certificate exits 2', async () => {
  const { makeCa, makeLeaf } = await import('../fixtures/tls.js');
  const ca = await makeCa();
  try {
    const a = await makeLeaf(ca, 'a', ['a.example']);
    const b = await makeLeaf(ca, 'b', ['b.example']);
    const yaml = (cert: string, key: string) => `origin:\n  url: http://127.0.0.1:9000\ntls:\n  certificates:\n    - cert: ${cert}\n      key: ${key}\n`;
    withConfigFile(yaml(a.cert, a.key), (file) => assert.equal(run(['check-config', file]).status, 0));
    withConfigFile(yaml('/nonexistent/strata.crt', a.key), (file) => assertOneLineFailure(run(['check-config', file]), 'strata: tls.certificates: ENOENT'));
    withConfigFile(yaml(a.cert, b.key), (file) => assertOneLineFailure(run(['check-config', file]), `strata: tls.certificates: ${b.key} does not go with ${a.cert}`));
  } finally {
    rmSync(ca.dir, { recursive: true, force: true });
  }
});
