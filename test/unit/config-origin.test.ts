// Unit tests for the origin pool settings: URL canonicalisation, repeated
// --origin, YAML upstream lists with weights and pool sizes, and their rejections.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { config, files, rejection, repoFile } from '../fixtures/config-load.js';

test('origin URL is canonicalised without a trailing slash', () => {
  assert.equal(config({ argv: ['--origin', 'http://127.0.0.1:9000/'] }).origin.upstreams[0]!.url, 'http://127.0.0.1:9000');
  assert.equal(config({ argv: ['--origin', 'HTTPS://Origin.Example:443/app/'] }).origin.upstreams[0]!.url, 'https://origin.example/app');
  assert.equal(config({ argv: ['--origin', 'http://[::1]:9000'] }).origin.upstreams[0]!.url, 'http://[::1]:9000');
});

test('bad origin URLs are rejected with the key and value', () => {
  for (const bad of ['ftp://example.com', 'not a url', 'http://', 'file:///etc/passwd', 'example.com:80', 'http://user:pw@example.com', 'http://example.com/?q=1', 'http://example.com/#x', '']) {
    const msg = rejection({ argv: [`--origin=${bad}`] });
    // A password is never echoed, not even in the error refusing it.
    const shown = bad.replace(':pw@', ':***@');
    assert.ok(msg.startsWith(`--origin: ${JSON.stringify(shown)} `), msg);
    assert.ok(!msg.includes(':pw@'), msg);
    assert.match(msg, /expected an http:\/\/ or https:\/\/ URL with a host/);
  }
});

test('missing origin names the key and the flag', () => {
  assert.equal(rejection({}), 'origin.url: missing (expected --origin URL, or origin.upstreams in the config file)');
});

test('--origin repeats: one upstream each, weight 1, the default pool size', () => {
  const c = config({ argv: ['--origin', 'http://a:1', '--origin=http://b:2/app/', '--origin-max-connections', '8'] });
  assert.deepEqual(c.origin.upstreams, [
    { url: 'http://a:1', weight: 1, maxConnections: 8 },
    { url: 'http://b:2/app', weight: 1, maxConnections: 8 },
  ]);
  // STRATA_ORIGIN takes a comma-separated list.
  const e = config({ env: { STRATA_ORIGIN: 'http://a:1, http://b:2' } });
  assert.deepEqual(e.origin.upstreams.map((u) => u.url), ['http://a:1', 'http://b:2']);
});

test('YAML origin.upstreams: URLs or mappings with weight and maxConnections; flags replace the whole pool', () => {
  const yaml = [
    'origin:',
    '  maxConnections: 32',
    '  balancer: least-connections',
    '  upstreams:',
    '    - url: http://10.0.0.1:9000',
    '      weight: 3',
    '      maxConnections: 100',
    '    - http://10.0.0.2:9000',
    '  healthCheck:',
    '    path: /healthz',
    '    intervalMs: 2s',
    '    timeoutMs: 500ms',
    '    healthyThreshold: 1',
    '    unhealthyThreshold: 2',
    '    expectStatuses: 200-299, 304',
    '  passiveHealth: { maxFails: 0, ejectMs: 5s, maxEjectMs: 1m }',
    '  retries: { count: 1, budgetMs: 3s }',
  ].join('\n');
  const readFile = files({ 'm.yaml': yaml });
  const c = config({ argv: ['--config', 'm.yaml'], readFile });
  assert.deepEqual(c.origin.upstreams, [
    { url: 'http://10.0.0.1:9000', weight: 3, maxConnections: 100 },
    { url: 'http://10.0.0.2:9000', weight: 1, maxConnections: 32 },
  ]);
  assert.equal(c.origin.balancer, 'least-connections');
  assert.deepEqual(c.origin.healthCheck, { path: '/healthz', intervalMs: 2000, timeoutMs: 500, healthyThreshold: 1, unhealthyThreshold: 2, expectStatuses: [[200, 299], [304, 304]] });
  assert.deepEqual(c.origin.passiveHealth, { maxFails: 0, ejectMs: 5000, maxEjectMs: 60000 });
  assert.deepEqual(c.origin.retries, { count: 1, budgetMs: 3000, concurrencyPercent: 20 });
  const flagged = config({ argv: ['--config', 'm.yaml', '--origin', 'http://c:3'], readFile });
  assert.deepEqual(flagged.origin.upstreams, [{ url: 'http://c:3', weight: 1, maxConnections: 32 }]);
  // origin.url may also be a YAML list.
  const list = config({ argv: ['--config', 'l.yaml'], readFile: files({ 'l.yaml': 'origin:\n  url: [http://a:1, http://b:2]\n' }) });
  assert.equal(list.origin.upstreams.length, 2);
});

test('bad upstream pool settings are refused in one line naming the key', () => {
  const cases: [string, RegExp][] = [
    ['origin:\n  upstreams: []\n', /^config file x.yaml: origin.upstreams: an empty list is not a list of upstreams \(expected a URL, or a list of URLs/],
    ['origin:\n  upstreams: { url: http://a }\n', /^config file x.yaml: origin.upstreams: a mapping is not a list of upstreams/],
    ['origin:\n  upstreams:\n    - url: http://a\n      weight: 0\n', /^config file x.yaml: origin.upstreams\[0\].weight: 0 is too small \(expected at least 1\)$/],
    ['origin:\n  upstreams:\n    - http://a\n    - url: ftp://b\n', /^config file x.yaml: origin.upstreams\[1\].url: "ftp:\/\/b" is not an origin URL/],
    ['origin:\n  upstreams:\n    - weight: 2\n', /^config file x.yaml: origin.upstreams\[0\]: missing url/],
    ['origin:\n  upstreams:\n    - url: http://a\n      wieght: 2\n', /^config file x.yaml: origin.upstreams\[0\]: unknown key "wieght" \(expected url, weight, maxConnections\)$/],
    ['origin:\n  upstreams: [http://a, http://a/]\n', /^origin.upstreams: "http:\/\/a" is listed twice/],
    ['origin:\n  url: http://a\n  upstreams: [http://b]\n', /^config file x.yaml: origin.url and origin.upstreams are both set \(expected one of them\)$/],
    ['origin:\n  url: http://a\n  balancer: random\n', /^config file x.yaml: origin.balancer: "random" is not a balancer \(expected one of round-robin, least-connections, p2c-ewma, consistent-hash\)$/],
    ['origin:\n  url: http://a\n  healthCheck:\n    path: healthz\n', /^config file x.yaml: origin.healthCheck.path: "healthz" is not a request path \(expected a path starting with \//],
    ['origin:\n  url: http://a\n  healthCheck:\n    expectStatuses: 200-2xx\n', /^config file x.yaml: origin.healthCheck.expectStatuses: "200-2xx" is not a list of statuses/],
    ['origin:\n  url: http://a\n  healthCheck:\n    expectStatuses: 399-200\n', /is not a list of statuses/],
    ['origin:\n  url: http://a\n  healthCheck:\n    unhealthyThreshold: 0\n', /^config file x.yaml: origin.healthCheck.unhealthyThreshold: 0 is too small/],
    ['origin:\n  url: http://a\n  passiveHealth:\n    ejectMs: 1m\n    maxEjectMs: 10s\n', /^origin.passiveHealth.maxEjectMs: 10000ms is below ejectMs 60000ms/],
    ['origin:\n  url: http://a\n  retries:\n    count: -1\n', /^config file x.yaml: origin.retries.count: -1 is too small/],
  ];
  for (const [yaml, re] of cases) assert.match(rejection({ argv: ['--config', 'x.yaml'], readFile: files({ 'x.yaml': yaml }) }), re, yaml);
  assert.match(rejection({ argv: ['--origin', 'http://a', '--origin', 'nope'] }), /^--origin: "nope" is not a URL/);
  assert.match(rejection({ argv: ['--origin', 'http://a', '--balancer', 'fastest'] }), /^--balancer: "fastest" is not a balancer/);
  assert.match(rejection({ env: { STRATA_ORIGIN: 'http://a,ftp://b' } }), /^STRATA_ORIGIN\[1\]: "ftp:\/\/b" is not an origin URL/);
});

test('config/multi-upstream.yaml loads', () => {
  const text = repoFile('config/multi-upstream.yaml');
  const c = config({ argv: ['--config', 'multi-upstream.yaml'], readFile: files({ 'multi-upstream.yaml': text }) });
  assert.ok(c.origin.upstreams.length >= 3);
  assert.notEqual(c.origin.healthCheck.path, '');
});
