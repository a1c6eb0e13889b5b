// Integration tests for `strata check-config`: its output is a config file the
// loader accepts again (a round trip through the real command), whatever the
// input used: routes with weighted upstreams, a sites file, secrets.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const REPO_CONFIG = fileURLToPath(new URL('../../../config/', import.meta.url));

function run(args: string[], extraEnv: Record<string, string> = {}, cwd?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...extraEnv }, encoding: 'utf8', timeout: 10_000, ...(cwd ? { cwd } : {}) });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function withDir(f: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'strata-check-'));
  try {
    f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * check-config of `file`, then of its output: both succeed, and the second prints
 * the first's text (`expect` says how it differs, if it does).
 */
function roundTrip(dir: string, file: string, env: Record<string, string> = {}, expect = (first: string): string => first): string {
  const first = run(['check-config', file], env);
  assert.equal(first.status, 0, first.stderr);
  const again = join(dir, 'printed.yaml');
  writeFileSync(again, first.stdout);
  const second = run(['check-config', again], env);
  assert.equal(second.status, 0, `the printed config does not load: ${second.stderr}\n${first.stdout}`);
  assert.equal(second.stdout, expect(first.stdout));
  return first.stdout;
}

test('check-config round trip: config/multi-site.yaml (a route upstream with a weight keeps no pool-size marker)', () => {
  withDir((dir) => {
    const out = roundTrip(dir, join(REPO_CONFIG, 'multi-site.yaml'));
    assert.doesNotMatch(out, /maxConnections: 0$/m);
    assert.match(out, /- url: http:\/\/10\.0\.0\.22:9000\n\s+weight: 2\n/);
  });
});

test('check-config round trip: a sitesFile config prints the sites once, the file as a comment', () => {
  withDir((dir) => {
    const sites = join(dir, 'sites.yaml');
    writeFileSync(sites, 'a:\n  hosts: [a.example]\n  default: true\n  routes:\n    r:\n      path: /\n');
    const file = join(dir, 'strata.yaml');
    writeFileSync(file, `origin:\n  url: http://127.0.0.1:9000\nsitesFile: ${sites}\n`);
    // Loaded again, the printed sites are the config's own: no file.
    const out = roundTrip(dir, file, {}, (first) => first.replace(/^# sitesFile: .*$/m, 'sitesFile: ""'));
    assert.match(out, /^sites:\n {2}a:\n/m);
    assert.match(out, new RegExp(`^# sitesFile: ${sites} `, 'm'));
  });
});

test('check-config round trip: a secret set from the environment is a comment naming where it comes from, never its value', () => {
  withDir((dir) => {
    const file = join(dir, 'strata.yaml');
    writeFileSync(file, 'origin:\n  url: http://127.0.0.1:9000\n');
    const env = { STRATA_ADMIN_TOKEN: 'tok-20240101-secret', STRATA_CLUSTER_SECRET: 's'.repeat(32) };
    const out = roundTrip(dir, file, env);
    assert.match(out, /^ {2}# token: set, not shown \(--admin-token, STRATA_ADMIN_TOKEN or the config file's value\)$/m);
    assert.match(out, /^ {2}# secret: set, not shown \(--cluster-secret, STRATA_CLUSTER_SECRET or the config file's value\)$/m);
    assert.doesNotMatch(out, /tok-20240101-secret|s{32}/);
    // And without the environment, the printed file loads as well (no token set).
    const printed = join(dir, 'printed.yaml');
    const bare = run(['check-config', printed]);
    assert.equal(bare.status, 0, bare.stderr);
  });
});
