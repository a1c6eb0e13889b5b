// Unit tests for configuration: unit parsers, the flag/env/YAML/default layers
// and their precedence, rejection messages, help text, and agreement between
// config/default.yaml and src/config/defaults.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { defaultConfig } from '../../src/config/defaults.js';
import { flagNames, loadConfig, type LoadOptions } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { parseDuration, parseHostPort, parseSize, UnitError } from '../../src/config/units.js';
import { StrataError } from '../../src/errors.js';

const HOST = 'testhost';
const ORIGIN = 'http://127.0.0.1:9000';

function load(opts: Partial<LoadOptions> = {}): ReturnType<typeof loadConfig> {
  return loadConfig({
    argv: opts.argv ?? [],
    env: opts.env ?? {},
    readFile:
      opts.readFile ??
      ((path) => {
        throw new Error(`ENOENT: no such file or directory, open '${path}'`);
      }),
    hostname: opts.hostname ?? HOST,
  });
}

function config(opts: Partial<LoadOptions> = {}): Readonly<Config> {
  const r = load(opts);
  assert.ok('config' in r, 'expected a config, got help');
  return r.config;
}

/** Asserts a one-line CONFIG_INVALID and returns its message. */
function rejection(opts: Partial<LoadOptions>): string {
  try {
    load(opts);
  } catch (err) {
    assert.ok(err instanceof StrataError, `expected StrataError, got ${String(err)}`);
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.equal(err.source, 'config');
    assert.ok(!err.message.includes('\n'), `message must be one line: ${err.message}`);
    return err.message;
  }
  assert.fail('expected loadConfig to throw');
}

function files(map: Record<string, string>): LoadOptions['readFile'] {
  return (path) => {
    const text = map[path];
    if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
    return text;
  };
}

// ------------------------------------------------------------------ units

test('parseSize accepts decimal and binary units, case-insensitive', () => {
  const cases: [string | number, number][] = [
    ['1048576', 1048576],
    ['0', 0],
    ['512B', 512],
    ['512KB', 512_000],
    ['512kb', 512_000],
    ['1KiB', 1024],
    ['256MiB', 256 * 2 ** 20],
    ['256mib', 256 * 2 ** 20],
    ['2MB', 2_000_000],
    ['10GiB', 10 * 2 ** 30],
    ['1GB', 1e9],
    ['1.5GiB', 1.5 * 2 ** 30],
    ['0.3KB', 300],
    ['1TiB', 2 ** 40],
    ['2TB', 2e12],
    [' 64 MiB ', 64 * 2 ** 20],
    [4096, 4096],
  ];
  for (const [input, bytes] of cases) assert.equal(parseSize(input), bytes, JSON.stringify(input));
});

test('parseSize rejects garbage, negatives, NaN and unknown units', () => {
  for (const input of ['', '12XB', '-1', '-1MiB', 'NaN', 'MiB', '1e3', '.5GiB', '1.5.2MB', '10 GiB extra', '1Mi', 'Infinity', '99999999999TiB', -5, 1.5, Number.NaN]) {
    assert.throws(() => parseSize(input), UnitError, JSON.stringify(input));
  }
});

test('parseDuration: units and bare milliseconds', () => {
  const cases: [string | number, number][] = [
    ['1500', 1500],
    ['500ms', 500],
    ['30s', 30_000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['30S', 30_000],
    ['0', 0],
    [250, 250],
  ];
  for (const [input, ms] of cases) assert.equal(parseDuration(input), ms, JSON.stringify(input));
});

test('parseDuration rejects garbage', () => {
  for (const input of ['', 'soon', '-1s', '5 minutes', '1d', '1e3', 's', '1.2.3s', -1, 0.5]) {
    assert.throws(() => parseDuration(input), UnitError, JSON.stringify(input));
  }
});

test('parseHostPort: IPv4, bracketed IPv6, names, and bare ports', () => {
  const cases: [string | number, { host: string; port: number }][] = [
    ['0.0.0.0:8080', { host: '0.0.0.0', port: 8080 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    ['[::1]:8080', { host: '::1', port: 8080 }],
    ['[::]:443', { host: '::', port: 443 }],
    ['localhost:65535', { host: 'localhost', port: 65535 }],
    ['edge-1.example.com:80', { host: 'edge-1.example.com', port: 80 }],
    [':8080', { host: '0.0.0.0', port: 8080 }],
    ['8080', { host: '0.0.0.0', port: 8080 }],
    [8080, { host: '0.0.0.0', port: 8080 }],
  ];
  for (const [input, want] of cases) assert.deepEqual(parseHostPort(input), want, JSON.stringify(input));
});

test('parseHostPort rejects bad hosts and ports', () => {
  for (const input of ['', 'localhost', '0.0.0.0:', '0.0.0.0:65536', '0.0.0.0:-1', '0.0.0.0:http', '::1:8080', '[::1]', '[::1]8080', '[nothost]:80', 'a b:80', 'http://x:80', '300.1.1.1:80', '99999']) {
    assert.throws(() => parseHostPort(input), UnitError, JSON.stringify(input));
  }
});

// ------------------------------------------------------------------ defaults and layers

test('only --origin given: every other value is the default', () => {
  const want = defaultConfig(HOST);
  want.origin.upstreams = [{ url: ORIGIN, weight: 1, maxConnections: 128 }];
  assert.deepEqual(config({ argv: ['--origin', ORIGIN] }), want);
});

test('defaults carry the documented values', () => {
  const d = defaultConfig('box');
  assert.equal(d.nodeId, 'box');
  assert.deepEqual(d.listen, { host: '0.0.0.0', port: 8080 });
  assert.deepEqual(d.admin, { listen: { host: '127.0.0.1', port: 8081 }, token: '', hosts: [] });
  assert.equal(d.cache.memoryMaxBytes, 256 * 2 ** 20);
  assert.equal(d.cache.memoryMaxObjectBytes, 8 * 2 ** 20);
  assert.equal(d.cache.diskMaxBytes, 10 * 2 ** 30);
  assert.equal(d.cache.dir, 'storage/cache');
  assert.equal(d.cache.targetedField, 'Strata-Cache-Control');
  assert.equal(d.cache.passTargetedFields, false);
  assert.equal(d.cache.storeSetCookie, false);
  assert.equal(d.cache.heuristicFraction, 0.1);
  assert.equal(d.cache.heuristicMaxS, 86400);
  assert.deepEqual(d.limits, { maxUrlBytes: 8192, maxHeaderBytes: 16384, requestHeadersTimeoutMs: 30000, maxConnectionsPerClient: 256, shutdownGraceMs: 10000 });
  assert.deepEqual(
    { c: d.origin.connectTimeoutMs, h: d.origin.headersTimeoutMs, b: d.origin.bodyTimeoutMs, n: d.origin.maxConnections },
    { c: 5000, h: 30000, b: 30000, n: 128 },
  );
  assert.equal(d.logLevel, 'info');
});

test('node id defaults to the host name, made safe for header use', () => {
  assert.equal(config({ argv: ['--origin', ORIGIN], hostname: 'edge-7.local' }).nodeId, 'edge-7.local');
  assert.equal(defaultConfig('my host,x').nodeId, 'my-host-x');
  assert.equal(defaultConfig('').nodeId, 'strata');
});

test('precedence: flags > env > yaml > defaults', () => {
  const readFile = files({ 's.yaml': 'origin:\n  url: http://yaml.example\ncache:\n  memoryMaxBytes: 1MiB\n' });
  const env = { STRATA_CONFIG: 's.yaml', STRATA_MEMORY_SIZE: '2MiB', STRATA_ORIGIN: 'http://env.example' };
  const flags = ['--memory-size', '3MiB', '--origin', 'http://flag.example'];

  const all = config({ argv: flags, env, readFile });
  assert.equal(all.cache.memoryMaxBytes, 3 * 2 ** 20);
  assert.equal(all.origin.upstreams[0]!.url, 'http://flag.example');

  const envOverYaml = config({ env, readFile });
  assert.equal(envOverYaml.cache.memoryMaxBytes, 2 * 2 ** 20);
  assert.equal(envOverYaml.origin.upstreams[0]!.url, 'http://env.example');

  const yamlOnly = config({ env: { STRATA_CONFIG: 's.yaml' }, readFile });
  assert.equal(yamlOnly.cache.memoryMaxBytes, 1 * 2 ** 20);
  assert.equal(yamlOnly.origin.upstreams[0]!.url, 'http://yaml.example');

  const defaults = config({ argv: ['--origin', ORIGIN] });
  assert.equal(defaults.cache.memoryMaxBytes, 256 * 2 ** 20);
});

test('--config beats STRATA_CONFIG', () => {
  const readFile = files({ 'a.yaml': 'logLevel: debug\n', 'b.yaml': 'logLevel: warn\n' });
  const c = config({ argv: ['--origin', ORIGIN, '--config', 'b.yaml'], env: { STRATA_CONFIG: 'a.yaml' }, readFile });
  assert.equal(c.logLevel, 'warn');
});

test('every flag has its STRATA_* env twin', () => {
  const env = {
    STRATA_ORIGIN: 'https://origin.example/app',
    STRATA_LISTEN: '[::]:9090',
    STRATA_ADMIN_LISTEN: '127.0.0.1:9091',
    STRATA_ADMIN_TOKEN: 's3cret',
    STRATA_ADMIN_HOSTS: 'admin.example',
    STRATA_CACHE_DIR: '/var/cache/strata',
    STRATA_MEMORY_SIZE: '64MiB',
    STRATA_MEMORY_MAX_OBJECT: '1MiB',
    STRATA_DISK_SIZE: '1GiB',
    STRATA_NODE_ID: 'edge-2',
    STRATA_LOG_LEVEL: 'debug',
    STRATA_CONNECT_TIMEOUT: '1s',
    STRATA_HEADERS_TIMEOUT: '2s',
    STRATA_BODY_TIMEOUT: '3s',
    STRATA_ORIGIN_MAX_CONNECTIONS: '16',
    STRATA_TARGETED_FIELD: 'Edge-Cache-Control',
    STRATA_STORE_SET_COOKIE: 'true',
    STRATA_STALE_WHILE_REVALIDATE: '10',
    STRATA_STALE_IF_ERROR: '300',
    STRATA_BALANCER: 'consistent-hash',
    STRATA_HEALTH_CHECK_PATH: '/healthz',
  };
  const c = config({ env });
  assert.deepEqual(c, {
    nodeId: 'edge-2',
    listen: { host: '::', port: 9090 },
    admin: { listen: { host: '127.0.0.1', port: 9091 }, token: 's3cret', hosts: ['admin.example'] },
    origin: {
      ...defaultConfig(HOST).origin,
      upstreams: [{ url: 'https://origin.example/app', weight: 1, maxConnections: 16 }],
      connectTimeoutMs: 1000,
      headersTimeoutMs: 2000,
      bodyTimeoutMs: 3000,
      maxConnections: 16,
      balancer: 'consistent-hash',
      healthCheck: { ...defaultConfig(HOST).origin.healthCheck, path: '/healthz' },
    },
    cache: {
      ...defaultConfig(HOST).cache,
      dir: '/var/cache/strata',
      memoryMaxBytes: 64 * 2 ** 20,
      memoryMaxObjectBytes: 2 ** 20,
      diskMaxBytes: 2 ** 30,
      targetedField: 'Edge-Cache-Control',
      storeSetCookie: true,
      staleWhileRevalidateS: 10,
      staleIfErrorS: 300,
    },
    coalesce: defaultConfig(HOST).coalesce,
    slices: defaultConfig(HOST).slices,
    purge: defaultConfig(HOST).purge,
    limits: defaultConfig(HOST).limits,
    logLevel: 'debug',
  });
});

test('empty env values count as unset', () => {
  const c = config({ argv: ['--origin', ORIGIN], env: { STRATA_MEMORY_SIZE: '', STRATA_CONFIG: '' } });
  assert.equal(c.cache.memoryMaxBytes, 256 * 2 ** 20);
});

test('--flag value and --flag=value are equivalent', () => {
  const a = config({ argv: ['--origin', ORIGIN, '--listen', '127.0.0.1:1234', '--disk-size', '5GiB'] });
  const b = config({ argv: [`--origin=${ORIGIN}`, '--listen=127.0.0.1:1234', '--disk-size=5GiB'] });
  assert.deepEqual(a, b);
  assert.deepEqual(a.listen, { host: '127.0.0.1', port: 1234 });
  assert.equal(a.cache.diskMaxBytes, 5 * 2 ** 30);
});

test('--store-set-cookie is a boolean switch', () => {
  assert.equal(config({ argv: ['--origin', ORIGIN, '--store-set-cookie'] }).cache.storeSetCookie, true);
  assert.equal(config({ argv: ['--origin', ORIGIN, '--store-set-cookie=false'] }).cache.storeSetCookie, false);
  assert.equal(
    config({ argv: ['--origin', ORIGIN, '--store-set-cookie=false'], env: { STRATA_STORE_SET_COOKIE: 'true' } }).cache.storeSetCookie,
    false,
  );
  assert.match(rejection({ argv: ['--origin', ORIGIN, '--store-set-cookie=maybe'] }), /^--store-set-cookie: "maybe" is not a boolean/);
});

test('--admin-token flag beats STRATA_ADMIN_TOKEN; env alone works; default is empty', () => {
  assert.equal(config({ argv: ['--origin', ORIGIN, '--admin-token', 'from-flag'], env: { STRATA_ADMIN_TOKEN: 'from-env' } }).admin.token, 'from-flag');
  assert.equal(config({ argv: ['--origin', ORIGIN], env: { STRATA_ADMIN_TOKEN: 'from-env' } }).admin.token, 'from-env');
  assert.equal(config({ argv: ['--origin', ORIGIN] }).admin.token, '');
});

test('a bad admin token is rejected without echoing the secret', () => {
  const msg = rejection({ argv: ['--origin', ORIGIN], env: { STRATA_ADMIN_TOKEN: 'has space' } });
  assert.match(msg, /^STRATA_ADMIN_TOKEN: /);
  assert.ok(!msg.includes('has space'), msg);
});

test('the result is deep-frozen', () => {
  const c = config({ argv: ['--origin', ORIGIN] });
  for (const obj of [c, c.listen, c.admin, c.admin.listen, c.origin, c.cache, c.limits]) assert.ok(Object.isFrozen(obj));
  assert.throws(() => {
    (c.cache as { memoryMaxBytes: number }).memoryMaxBytes = 1;
  }, TypeError);
});

test('the result does not share objects between loads', () => {
  const a = config({ argv: ['--origin', ORIGIN] });
  const b = config({ argv: ['--origin', ORIGIN, '--listen', '1.2.3.4:5'] });
  assert.deepEqual(a.listen, { host: '0.0.0.0', port: 8080 });
  assert.deepEqual(b.listen, { host: '1.2.3.4', port: 5 });
});

// ------------------------------------------------------------------ origin URL

test('origin URL is canonicalised without a trailing slash', () => {
  assert.equal(config({ argv: ['--origin', 'http://127.0.0.1:9000/'] }).origin.upstreams[0]!.url, 'http://127.0.0.1:9000');
  assert.equal(config({ argv: ['--origin', 'HTTPS://Origin.Example:443/app/'] }).origin.upstreams[0]!.url, 'https://origin.example/app');
  assert.equal(config({ argv: ['--origin', 'http://[::1]:9000'] }).origin.upstreams[0]!.url, 'http://[::1]:9000');
});

test('bad origin URLs are rejected with the key and value', () => {
  for (const bad of ['ftp://example.com', 'not a url', 'http://', 'file:///etc/passwd', 'example.com:80', 'http://user:pw@example.com', 'http://example.com/?q=1', 'http://example.com/#x', '']) {
    const msg = rejection({ argv: [`--origin=${bad}`] });
    assert.ok(msg.startsWith(`--origin: ${JSON.stringify(bad)} `), msg);
    assert.match(msg, /expected an http:\/\/ or https:\/\/ URL with a host/);
  }
});

test('missing origin names the key and the flag', () => {
  assert.equal(rejection({}), 'origin.url: missing (expected --origin URL, or origin.upstreams in the config file)');
});

// ------------------------------------------------------------------ rejections

test('bad size names flag, value and expectation', () => {
  assert.equal(
    rejection({ argv: ['--origin', ORIGIN, '--memory-size', '12XB'] }),
    '--memory-size: "12XB" is not a size (expected e.g. 256MiB, 10GiB)',
  );
  assert.equal(
    rejection({ argv: ['--origin', ORIGIN], env: { STRATA_DISK_SIZE: '-1GiB' } }),
    'STRATA_DISK_SIZE: "-1GiB" is not a size (expected e.g. 256MiB, 10GiB)',
  );
});

test('bad durations, counts, addresses, levels and field names are rejected', () => {
  const cases: [string[], RegExp][] = [
    [['--connect-timeout', 'soon'], /^--connect-timeout: "soon" is not a duration \(expected /],
    [['--headers-timeout', '0'], /^--headers-timeout: "0" is too small \(expected at least 1ms\)$/],
    [['--origin-max-connections', '0'], /^--origin-max-connections: "0" is too small/],
    [['--origin-max-connections', '1.5'], /^--origin-max-connections: "1.5" is not a whole number/],
    [['--listen', '0.0.0.0:99999'], /^--listen: "0.0.0.0:99999" is not a host:port \(expected HOST:PORT/],
    [['--admin-listen', 'localhost'], /^--admin-listen: "localhost" is not a host:port/],
    [['--log-level', 'loud'], /^--log-level: "loud" is not a log level \(expected one of fatal, error, warn, info, debug, trace, silent\)$/],
    [['--targeted-field', 'Bad Field'], /^--targeted-field: "Bad Field" is not an HTTP field name/],
    [['--node-id', 'a,b'], /^--node-id: "a,b" is not a node id/],
    [['--cache-dir', ''], /^--cache-dir: "" is not a directory path/],
  ];
  for (const [argv, re] of cases) assert.match(rejection({ argv: ['--origin', ORIGIN, ...argv] }), re);
});

test('unknown flags, stray arguments and missing values are rejected', () => {
  assert.equal(rejection({ argv: ['--origin', ORIGIN, '--bogus'] }), '--bogus: unknown flag (see --help)');
  assert.equal(rejection({ argv: ['--origin', ORIGIN, '--memory=1MiB'] }), '--memory: unknown flag (see --help)');
  assert.match(rejection({ argv: ['--origin', ORIGIN, '-x'] }), /^unexpected argument "-x"/);
  assert.match(rejection({ argv: ['--origin', ORIGIN, 'serve'] }), /^unexpected argument "serve"/);
  assert.equal(rejection({ argv: ['--origin'] }), '--origin: missing value (expected URL)');
  assert.equal(rejection({ argv: ['--origin', '--listen', ':80'] }), '--origin: missing value (expected URL)');
  assert.equal(rejection({ argv: ['--origin', ORIGIN, '--config'] }), '--config: missing value (expected FILE)');
});

test('a bare admin port (or :PORT) means loopback, never every interface; the proxy listener keeps 0.0.0.0', () => {
  for (const argv of [['--admin-listen', '19999'], ['--admin-listen', ':19999'], ['--admin-listen=19999']]) {
    assert.deepEqual(config({ argv: ['--origin', ORIGIN, ...argv] }).admin.listen, { host: '127.0.0.1', port: 19999 }, argv.join(' '));
  }
  assert.deepEqual(config({ argv: ['--origin', ORIGIN], env: { STRATA_ADMIN_LISTEN: '19999' } }).admin.listen, { host: '127.0.0.1', port: 19999 });
  const yaml = files({ 'a.yaml': 'admin:\n  listen: 19999\n' });
  assert.deepEqual(config({ argv: ['--origin', ORIGIN, '--config', 'a.yaml'], readFile: yaml }).admin.listen, { host: '127.0.0.1', port: 19999 });
  assert.deepEqual(config({ argv: ['--origin', ORIGIN, '--admin-listen', '0.0.0.0:19999'] }).admin.listen, { host: '0.0.0.0', port: 19999 });
  assert.deepEqual(config({ argv: ['--origin', ORIGIN, '--listen', '9000'] }).listen, { host: '0.0.0.0', port: 9000 });
});

test('listen and admin listen may not overlap', () => {
  assert.match(
    rejection({ argv: ['--origin', ORIGIN, '--admin-listen', '127.0.0.1:8080'] }),
    /^admin.listen: "127.0.0.1:8080" overlaps listen "0.0.0.0:8080"/,
  );
  // Port 0 lets the OS pick distinct ports, which tests rely on.
  const c = config({ argv: ['--origin', ORIGIN, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'] });
  assert.equal(c.listen.port, 0);
});

// ------------------------------------------------------------------ YAML

test('YAML uses the nested keys of types.ts and accepts unit strings', () => {
  const yaml = [
    'nodeId: edge-9',
    'listen: "[::1]:7000"',
    'admin:',
    '  listen: { host: "::1", port: 7001 }',
    'origin:',
    '  url: https://o.example',
    '  connectTimeoutMs: 1500',
    '  bodyTimeoutMs: 1m',
    'cache:',
    '  memoryMaxBytes: 1048576',
    '  diskMaxBytes: 1.5GiB',
    '  passTargetedFields: true',
    '  heuristicFraction: 0.25',
    '  heuristicMaxS: 3600',
    'limits:',
    '  maxUrlBytes: 4KiB',
    '  maxHeaderBytes: 32768',
    '  requestHeadersTimeoutMs: 10s',
    '  maxConnectionsPerClient: 0',
    '  shutdownGraceMs: 0',
  ].join('\n');
  const c = config({ argv: ['--config', 'x.yaml'], readFile: files({ 'x.yaml': yaml }) });
  assert.equal(c.nodeId, 'edge-9');
  assert.deepEqual(c.listen, { host: '::1', port: 7000 });
  assert.deepEqual(c.admin.listen, { host: '::1', port: 7001 });
  assert.equal(c.origin.connectTimeoutMs, 1500);
  assert.equal(c.origin.bodyTimeoutMs, 60_000);
  assert.equal(c.cache.memoryMaxBytes, 1048576);
  assert.equal(c.cache.diskMaxBytes, 1.5 * 2 ** 30);
  assert.equal(c.cache.passTargetedFields, true);
  assert.equal(c.cache.heuristicFraction, 0.25);
  assert.equal(c.cache.heuristicMaxS, 3600);
  assert.deepEqual(c.limits, { maxUrlBytes: 4096, maxHeaderBytes: 32768, requestHeadersTimeoutMs: 10_000, maxConnectionsPerClient: 0, shutdownGraceMs: 0 });
});

test('unknown YAML keys are rejected, naming the file and the dotted key', () => {
  const readFile = files({ 'strata.yaml': 'origin:\n  url: http://o\ncache:\n  foo: 1\n' });
  assert.equal(rejection({ argv: ['--config', 'strata.yaml'], readFile }), 'config file strata.yaml: unknown key "cache.foo"');
  const top = files({ 'strata.yaml': 'bogus: 1\n' });
  assert.equal(rejection({ argv: ['--config', 'strata.yaml'], readFile: top }), 'config file strata.yaml: unknown key "bogus"');
  const flagName = files({ 'strata.yaml': 'memory-size: 1MiB\n' });
  assert.equal(
    rejection({ argv: ['--config', 'strata.yaml'], readFile: flagName }),
    'config file strata.yaml: unknown key "memory-size" (the YAML key for --memory-size is cache.memoryMaxBytes)',
  );
  const leafAsMap = files({ 'strata.yaml': 'origin:\n  url:\n    host: x\n' });
  assert.match(rejection({ argv: ['--config', 'strata.yaml'], readFile: leafAsMap }), /^config file strata.yaml: origin.url: a mapping is not a URL/);
});

test('bad YAML values name file, key and value', () => {
  const readFile = files({ 's.yaml': 'cache:\n  memoryMaxBytes: 12XB\n' });
  assert.equal(
    rejection({ argv: ['--origin', ORIGIN, '--config', 's.yaml'], readFile }),
    'config file s.yaml: cache.memoryMaxBytes: "12XB" is not a size (expected e.g. 256MiB, 10GiB)',
  );
  const frac = files({ 's.yaml': 'cache:\n  heuristicFraction: 2\n' });
  assert.match(rejection({ argv: ['--origin', ORIGIN, '--config', 's.yaml'], readFile: frac }), /cache.heuristicFraction: 2 is not a fraction/);
  const nul = files({ 's.yaml': 'cache:\n  dir:\n' });
  assert.match(rejection({ argv: ['--origin', ORIGIN, '--config', 's.yaml'], readFile: nul }), /cache.dir: an empty value is not a directory path/);
});

test('unreadable, malformed and non-mapping YAML files are rejected in one line', () => {
  assert.match(rejection({ argv: ['--origin', ORIGIN, '--config', 'nope.yaml'] }), /^config file nope.yaml: cannot read \(ENOENT/);
  const broken = files({ 'b.yaml': 'cache:\n  dir: [unclosed\n' });
  assert.match(rejection({ argv: ['--origin', ORIGIN, '--config', 'b.yaml'], readFile: broken }), /^config file b.yaml: invalid YAML \(/);
  const dup = files({ 'd.yaml': 'logLevel: info\nlogLevel: debug\n' });
  assert.match(rejection({ argv: ['--origin', ORIGIN, '--config', 'd.yaml'], readFile: dup }), /^config file d.yaml: invalid YAML/);
  const list = files({ 'l.yaml': '- a\n- b\n' });
  assert.match(rejection({ argv: ['--origin', ORIGIN, '--config', 'l.yaml'], readFile: list }), /^config file l.yaml: top level is not a mapping/);
  const empty = files({ 'e.yaml': '# nothing\n' });
  assert.equal(config({ argv: ['--origin', ORIGIN, '--config', 'e.yaml'], readFile: empty }).logLevel, 'info');
});

test('config/default.yaml agrees with defaultConfig()', () => {
  const text = readFileSync(new URL('../../../config/default.yaml', import.meta.url), 'utf8');
  const c = config({ argv: ['--origin', ORIGIN, '--config', 'default.yaml'], readFile: files({ 'default.yaml': text }) });
  const want = defaultConfig(HOST);
  want.origin.upstreams = [{ url: ORIGIN, weight: 1, maxConnections: 128 }];
  assert.deepEqual(c, want);
});

test('config/single-node.yaml loads', () => {
  const text = readFileSync(new URL('../../../config/single-node.yaml', import.meta.url), 'utf8');
  const c = config({ argv: ['--config', 'single-node.yaml'], readFile: files({ 'single-node.yaml': text }) });
  assert.equal(c.origin.upstreams[0]!.url, 'http://127.0.0.1:9000');
});

test('config/video-origin.yaml loads', () => {
  const text = readFileSync(new URL('../../../config/video-origin.yaml', import.meta.url), 'utf8');
  const c = config({ argv: ['--config', 'video-origin.yaml'], readFile: files({ 'video-origin.yaml': text }) });
  assert.equal(c.slices.sliceBytes, 4 * 2 ** 20);
  assert.ok(c.cache.memoryMaxObjectBytes < c.slices.sliceBytes, 'slices of large videos stay on disk');
});

test('admin.hosts: a comma-separated flag or env value, or a YAML list, of DNS names (lower-cased)', () => {
  assert.deepEqual(config({ argv: ['--origin', ORIGIN, '--admin-hosts', 'Admin.Internal, ops.example.'] }).admin.hosts, ['admin.internal', 'ops.example']);
  assert.deepEqual(config({ argv: ['--origin', ORIGIN], env: { STRATA_ADMIN_HOSTS: 'a.example' } }).admin.hosts, ['a.example']);
  const yaml = files({ 'a.yaml': 'admin:\n  hosts: [x.example, y.example]\n' });
  assert.deepEqual(config({ argv: ['--origin', ORIGIN, '--config', 'a.yaml'], readFile: yaml }).admin.hosts, ['x.example', 'y.example']);
  assert.equal(rejection({ argv: ['--origin', ORIGIN, '--admin-hosts', 'http://x'] }), '--admin-hosts: "http://x" is not a host name (expected DNS names, comma-separated or a YAML list, e.g. admin.internal)');
});

// ------------------------------------------------------------------ help

const DOCUMENTED_FLAGS = [
  '--origin', '--listen', '--admin-listen', '--admin-token', '--admin-hosts', '--cache-dir', '--memory-size', '--memory-max-object',
  '--disk-size', '--node-id', '--config', '--log-level', '--connect-timeout', '--headers-timeout', '--body-timeout',
  '--origin-max-connections', '--targeted-field', '--store-set-cookie', '--stale-while-revalidate', '--stale-if-error',
  '--balancer', '--health-check-path', '--slice-threshold', '--slice-size', '--help',
];

test('--help returns help listing every flag, and wins over other arguments', () => {
  assert.deepEqual([...flagNames()].sort(), [...DOCUMENTED_FLAGS].sort());
  for (const argv of [['--help'], ['-h'], ['--origin', 'ftp://bad', '--help'], ['--bogus', '--help']]) {
    const r = load({ argv });
    assert.ok('help' in r, JSON.stringify(argv));
    for (const flag of DOCUMENTED_FLAGS) assert.match(r.help, new RegExp(`^\\s+${flag}\\b`, 'm'), flag);
    assert.match(r.help, /STRATA_MEMORY_SIZE/);
    assert.match(r.help, /\[default: 256MiB\]/);
  }
});

// ------------------------------------------------------------------ upstream pool

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
  assert.deepEqual(c.origin.retries, { count: 1, budgetMs: 3000 });
  const flagged = config({ argv: ['--config', 'm.yaml', '--origin', 'http://c:3'], readFile });
  assert.deepEqual(flagged.origin.upstreams, [{ url: 'http://c:3', weight: 1, maxConnections: 32 }]);
  // origin.url may also be a YAML list.
  const list = config({ argv: ['--config', 'l.yaml'], readFile: files({ 'l.yaml': 'origin:\n  url: [http://a:1, http://b:2]\n' }) });
  assert.equal(list.origin.upstreams.length, 2);
});

test('bad upstream pool settings are refused in one line naming the key', () => {
  const cases: [string, RegExp][] = [
    ['origin:\n  upstreams: []\n', /^config file x.yaml: origin.upstreams: a list is not a list of upstreams \(expected a list of URLs/],
    ['origin:\n  upstreams: http://a\n', /^config file x.yaml: origin.upstreams: "http:\/\/a" is not a list of upstreams/],
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
  const text = readFileSync(new URL('../../../config/multi-upstream.yaml', import.meta.url), 'utf8');
  const c = config({ argv: ['--config', 'multi-upstream.yaml'], readFile: files({ 'multi-upstream.yaml': text }) });
  assert.ok(c.origin.upstreams.length >= 3);
  assert.notEqual(c.origin.healthCheck.path, '');
});
