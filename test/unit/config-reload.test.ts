// A reload's changes, setting by setting: each sorted by its declaration (live or
// restart), values shown as the operator writes them, secrets never; the config a
// node runs afterwards keeps every restart-only setting's running value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withoutPassword } from '../../src/config/kinds.js';
import { configChanges, reloadedConfig } from '../../src/config/reload.js';
import { ENTRIES } from '../../src/config/schema/index.js';
import { config, ORIGIN } from '../fixtures/config-load.js';

const base = ['--origin', ORIGIN];

test('an unchanged configuration has no changes', () => {
  assert.deepEqual(configChanges(config({ argv: base }), config({ argv: base })), { applied: [], restartRequired: [] });
});

test('live changes are applied, restart-only ones named with running and configured values', () => {
  const running = config({ argv: base });
  const loaded = config({ argv: [...base, '--balancer', 'round-robin', '--listen', '127.0.0.1:9999', '--memory-size', '1MiB', '--log-level', 'warn'] });
  const c = configChanges(running, loaded);
  assert.deepEqual(c.applied, [
    { key: 'logLevel', from: 'info', to: 'warn' },
    { key: 'origin.balancer', from: 'p2c-ewma', to: 'round-robin' },
  ]);
  assert.deepEqual(c.restartRequired, [
    { key: 'listen', from: '0.0.0.0:8080', to: '127.0.0.1:9999' },
    { key: 'cache.memoryMaxBytes', from: '256MiB', to: '1MiB' },
  ]);
});

test('an upstream list change is one change with both lists; a weight change counts', () => {
  const running = config({ argv: ['--origin', 'http://a:1'] });
  const loaded = config({ env: { STRATA_ORIGIN: 'http://b:2' } });
  const c = configChanges(running, loaded);
  assert.equal(c.applied.length, 1);
  assert.equal(c.applied[0]!.key, 'origin.upstreams');
  assert.match(JSON.stringify(c.applied[0]!.to), /http:\/\/b:2/);
});

test('the admin token is never shown, only that it changed', () => {
  const c = configChanges(config({ argv: base }), config({ argv: [...base, '--admin-token', 's3cret'] }));
  assert.deepEqual(c.applied, [{ key: 'admin.token', from: '', to: '(secret)' }]);
  assert.ok(!JSON.stringify(c).includes('s3cret'));
});

test('a purge bus URL is shown without its password', () => {
  const c = configChanges(config({ argv: base }), config({ argv: [...base, '--purge-bus', 'redis://:hunter2@10.0.0.9:6379/0'] }));
  assert.equal(c.restartRequired.length + c.applied.length, 1, JSON.stringify(c));
  assert.ok(!JSON.stringify(c).includes('hunter2'), JSON.stringify(c));
  assert.match(JSON.stringify(c), /redis:\/\/:\*\*\*@10\.0\.0\.9:6379\/0/);
});

test('the reloaded config takes live settings and keeps restart-only ones running; it is frozen', () => {
  const running = config({ argv: base });
  const loaded = config({ argv: [...base, '--listen', '127.0.0.1:9999', '--cache-dir', '/elsewhere', '--stale-if-error', '60'] });
  const next = reloadedConfig(running, loaded);
  assert.deepEqual(next.listen, running.listen);
  assert.equal(next.cache.dir, running.cache.dir);
  assert.equal(next.cache.staleIfErrorS, 60);
  assert.ok(Object.isFrozen(next) && Object.isFrozen(next.cache));
  // The pending restart-only changes are still named by the next reload of the same file.
  assert.deepEqual(configChanges(next, loaded).restartRequired.map((c) => c.key), ['listen', 'cache.dir']);
  assert.deepEqual(configChanges(next, loaded).applied, []);
});

test('listen addresses, the cache directory and the tier sizes need a restart; upstreams, limits and log level do not', () => {
  const restart = new Set(ENTRIES.filter((e) => !e.setting.live).map((e) => e.path));
  for (const k of ['listen', 'admin.listen', 'cache.dir', 'cache.memoryMaxBytes', 'cache.diskMaxBytes', 'nodeId']) assert.ok(restart.has(k), k);
  for (const k of ['origin.upstreams', 'origin.balancer', 'origin.healthCheck.path', 'cache.staleIfErrorS', 'limits.maxUrlBytes', 'logLevel', 'admin.token']) assert.ok(!restart.has(k), k);
});

test('a password in a URL setting is shown as ***, even in a URL WHATWG cannot read', () => {
  const c = configChanges(config({ argv: base }), config({ argv: [...base, '--edge-forward-auth-url', 'http://svc:hunter2@auth.local/check'] }));
  assert.deepEqual(c.applied, [{ key: 'edge.forwardAuth.url', from: '', to: 'http://svc:***@auth.local/check' }]);
  assert.equal(withoutPassword('https://idp:hunter2@bad host/jwks'), 'https://idp:***@bad host/jwks');
  assert.equal(withoutPassword('edge-2=http://u:hunter2@10.0.0.2:8080'), 'edge-2=http://u:***@10.0.0.2:8080');
  assert.equal(withoutPassword('http://user@host/x'), 'http://user@host/x');
});

test('a change of a URL\'s password alone is named as one, though both values are shown alike', () => {
  const before = config({ argv: [...base, '--edge-forward-auth-url', 'http://svc:old@auth.local/check'] });
  const after = config({ argv: [...base, '--edge-forward-auth-url', 'http://svc:new@auth.local/check'] });
  assert.deepEqual(configChanges(before, after).applied, [
    { key: 'edge.forwardAuth.url', from: 'http://svc:***@auth.local/check', to: 'http://svc:***@auth.local/check', hidden: 'changed in a part not shown (a secret, a password)' },
  ]);
  assert.deepEqual(configChanges(before, before).applied, []);
});
