// A password in a URL setting (edge.forwardAuth.url, edge.jwt.jwksUrl, a route
// guard's, cluster.purgeBus) is never shown: not in the POST /reload answer, not in
// its 'configuration reloaded' log line, not in `strata check-config` output, not in
// a config error. Every URL kind is shown through one function (config/kinds.ts,
// urlKind); forwardAuth.url and jwksUrl were once printed in plain text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually, startReloadable } from './reload-node.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const PASSWORDS = ['authpw-1', 'jwkspw-2', 'buspw-3', 'routepw-4'];

function leaked(text: string): string[] {
  return PASSWORDS.filter((p) => text.includes(p));
}

test('POST /reload: the answer and its log line show URL settings without their passwords', async () => {
  const r = await startReloadable([(_req, res) => res.end('ok')], { logLevel: 'info' });
  try {
    r.next.edge.forwardAuth.url = 'http://svc:authpw-1@127.0.0.1:1/check';
    r.next.edge.jwt.jwksUrl = 'https://idp:jwkspw-2@idp.example/jwks.json';
    r.next.cluster.purgeBus = 'redis://:buspw-3@127.0.0.1:1/0';
    const answer = await r.reload();
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const text = JSON.stringify(answer.body);
    assert.deepEqual(leaked(text), [], text);
    const applied = answer.body.applied as { key: string; to: unknown }[];
    assert.deepEqual(
      applied.filter((c) => c.key.startsWith('edge.')).map((c) => [c.key, c.to]),
      [
        ['edge.forwardAuth.url', 'http://svc:***@127.0.0.1:1/check'],
        ['edge.jwt.jwksUrl', 'https://idp:***@idp.example/jwks.json'],
      ],
    );
    assert.deepEqual((answer.body.restartRequired as { key: string; to: unknown }[]).map((c) => [c.key, c.to]), [['cluster.purgeBus', 'redis://:***@127.0.0.1:1/0']]);
    // The log line names the same changes (the logger writes it asynchronously).
    const isReloadLine = (l: Record<string, unknown>): boolean => typeof l.msg === 'string' && l.msg.startsWith('configuration reloaded');
    await eventually(async () => r.logs.some(isReloadLine), 'the configuration reloaded log line');
    const line = r.logs.find(isReloadLine);
    assert.match(JSON.stringify(line), /svc:\*\*\*@127\.0\.0\.1:1\/check/);
    assert.deepEqual(leaked(JSON.stringify(r.logs)), [], 'no log line carries a password');
  } finally {
    await r.close();
  }
});

test('check-config prints URL settings without their passwords; a bad URL is refused without echoing its password', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-urlpw-'));
  const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 10_000 });
  try {
    const file = join(dir, 'strata.yaml');
    writeFileSync(
      file,
      [
        'origin:',
        '  url: http://127.0.0.1:9000',
        'edge:',
        '  forwardAuth:',
        '    url: http://svc:authpw-1@auth.local/check',
        '  jwt:',
        '    jwksUrl: https://idp:jwkspw-2@idp.example/jwks.json',
        'cluster:',
        '  purgeBus: redis://:buspw-3@10.0.0.5:6379',
        'sites:',
        '  shop:',
        '    hosts: [shop.example]',
        '    routes:',
        '      api:',
        '        path: /api/',
        '        guard:',
        '          forwardAuth: { url: "http://svc:routepw-4@auth.local/api" }',
        '',
      ].join('\n'),
    );
    const r = run(['check-config', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(leaked(r.stdout + r.stderr), [], r.stdout);
    for (const shown of ['http://svc:***@auth.local/check', 'https://idp:***@idp.example/jwks.json', 'redis://:***@10.0.0.5:6379', 'http://svc:***@auth.local/api']) {
      assert.ok(r.stdout.includes(shown), `${shown} in:\n${r.stdout}`);
    }
    for (const [flag, value] of [
      ['--edge-forward-auth-url', 'ftp://svc:authpw-1@auth.local/check'],
      ['--edge-jwt-jwks-url', 'https://idp:jwkspw-2@bad host/jwks'],
      ['--origin', 'http://u:routepw-4@10.0.0.1:9000'],
    ] as const) {
      const bad = run(['check-config', file, flag, value]);
      assert.equal(bad.status, 2, bad.stderr);
      assert.match(bad.stderr, new RegExp(`^strata: ${flag}: `));
      assert.deepEqual(leaked(bad.stderr), [], bad.stderr);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
