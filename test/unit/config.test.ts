// Unit tests for loading configuration: the flag/env/YAML/default layers and
// their precedence, rejection messages, and the example files in config/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig } from '../../src/config/defaults.js';
import { config, files, HOST, ORIGIN, rejection, repoFile } from '../fixtures/config-load.js';

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
  assert.deepEqual(d.limits, {
    maxUrlBytes: 8192,
    maxHeaderBytes: 16384,
    requestHeadersTimeoutMs: 30000,
    keepAliveTimeoutMs: 5000,
    maxConnectionsPerClient: 256,
    shutdownGraceMs: 10000,
    maxRequestBodyBytes: 64 * 2 ** 20,
    requestBodyMemoryBytes: 2 ** 20,
    requestBodyMemoryBudgetBytes: 64 * 2 ** 20,
    requestBodySpoolBudgetBytes: 2 ** 30,
    requestBodyDir: '',
    requestBodyTimeoutMs: 30_000,
    sendTimeoutMs: 60_000,
    passBufferBytes: 256 * 1024,
  });
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
    STRATA_WORKERS: '4',
  };
  const c = config({ env });
  assert.deepEqual(c, {
    nodeId: 'edge-2',
    listen: { host: '::', port: 9090 },
    workers: 4,
    tls: defaultConfig(HOST).tls,
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
    sites: [],
    sitesFile: '',
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
    compress: defaultConfig(HOST).compress,
    cluster: defaultConfig(HOST).cluster,
    limits: defaultConfig(HOST).limits,
    edge: defaultConfig(HOST).edge,
    logLevel: 'debug',
  });
});

test('--no-compress (a switch turned off), STRATA_COMPRESS=false and compress.enabled: false agree', () => {
  assert.equal(config({ argv: ['--origin', ORIGIN] }).compress.enabled, true);
  assert.equal(config({ argv: ['--origin', ORIGIN, '--no-compress'] }).compress.enabled, false);
  assert.equal(config({ argv: ['--origin', ORIGIN, '--compress'] }).compress.enabled, true);
  assert.equal(config({ argv: ['--origin', ORIGIN], env: { STRATA_COMPRESS: 'false' } }).compress.enabled, false);
  assert.equal(config({ argv: ['--origin', ORIGIN, '--no-compress-recompress'] }).compress.recompress, false);
  assert.deepEqual(config({ argv: ['--origin', ORIGIN, '--compress-codings', 'GZIP, br'] }).compress.codings, ['gzip', 'br']);
  assert.match(rejection({ argv: ['--origin', ORIGIN, '--compress-codings', 'deflate'] }), /^--compress-codings: .*expected/);
  assert.match(rejection({ argv: ['--origin', ORIGIN, '--no-origin'] }), /^--no-origin: unknown flag/);
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
  assert.equal(rejection({ argv: ['--origin', ORIGIN, '-x'] }), '-x: unknown flag (see --help)');
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

test('no cache space at all (both tiers 0) is refused; one tier at 0 turns that tier off', () => {
  // Varnish refuses a malloc store under 1 MiB, nginx a keys_zone without a size: a cache that can keep nothing is a mistake.
  assert.match(rejection({ argv: ['--origin', ORIGIN, '--memory-size', '0', '--disk-size', '0'] }), /^cache\.memoryMaxBytes and cache\.diskMaxBytes are both 0: nothing could be stored \(expected a size above 0 for at least one tier/);
  assert.equal(config({ argv: ['--origin', ORIGIN, '--memory-size', '0'] }).cache.memoryMaxBytes, 0);
  assert.equal(config({ argv: ['--origin', ORIGIN, '--disk-size', '0'] }).cache.diskMaxBytes, 0);
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
    '  keepAliveTimeoutMs: 75s',
    '  maxConnectionsPerClient: 0',
    '  shutdownGraceMs: 0',
    '  maxRequestBodyBytes: 8MiB',
    '  requestBodyDir: /var/spool/strata',
    '  sendTimeoutMs: 20s',
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
  assert.deepEqual(c.limits, {
    maxUrlBytes: 4096,
    maxHeaderBytes: 32768,
    requestHeadersTimeoutMs: 10_000,
    keepAliveTimeoutMs: 75_000,
    maxConnectionsPerClient: 0,
    shutdownGraceMs: 0,
    maxRequestBodyBytes: 8 * 2 ** 20,
    requestBodyMemoryBytes: 2 ** 20,
    requestBodyMemoryBudgetBytes: 64 * 2 ** 20,
    requestBodySpoolBudgetBytes: 2 ** 30,
    requestBodyDir: '/var/spool/strata',
    requestBodyTimeoutMs: 30_000,
    sendTimeoutMs: 20_000,
    passBufferBytes: 256 * 1024,
  });
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
  const sectionAsScalar = files({ 'strata.yaml': 'origin:\n  url: http://o\ncache: 5\n' });
  assert.match(
    rejection({ argv: ['--config', 'strata.yaml'], readFile: sectionAsScalar }),
    /^config file strata.yaml: cache: 5 is not a mapping \(expected keys dir, memoryMaxBytes, .*\)$/,
  );
  // A section whose keys are all commented out keeps its defaults.
  const emptySection = files({ 'strata.yaml': 'origin:\n  url: http://o\ncache:\n  # dir: /x\n' });
  assert.equal(config({ argv: ['--config', 'strata.yaml'], readFile: emptySection }).cache.dir, 'storage/cache');
  const leafAsMap = files({ 'strata.yaml': 'origin:\n  url:\n    host: x\n' });
  assert.match(rejection({ argv: ['--config', 'strata.yaml'], readFile: leafAsMap }), /^config file strata.yaml: origin.url: a mapping is not a list of upstreams \(expected a URL/);
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
  const text = repoFile('config/default.yaml');
  const c = config({ argv: ['--origin', ORIGIN, '--config', 'default.yaml'], readFile: files({ 'default.yaml': text }) });
  const want = defaultConfig(HOST);
  want.origin.upstreams = [{ url: ORIGIN, weight: 1, maxConnections: 128 }];
  assert.deepEqual(c, want);
});

test('config/single-node.yaml loads', () => {
  const text = repoFile('config/single-node.yaml');
  const c = config({ argv: ['--config', 'single-node.yaml'], readFile: files({ 'single-node.yaml': text }) });
  assert.equal(c.origin.upstreams[0]!.url, 'http://127.0.0.1:9000');
});

test('config/video-origin.yaml loads', () => {
  const text = repoFile('config/video-origin.yaml');
  const c = config({ argv: ['--config', 'video-origin.yaml'], readFile: files({ 'video-origin.yaml': text }) });
  assert.equal(c.slices.sliceBytes, 4 * 2 ** 20);
  assert.ok(c.cache.memoryMaxObjectBytes < c.slices.sliceBytes, 'slices of large videos stay on disk');
});

// ------------------------------------------------------------------ lists

test('admin.hosts: a comma-separated flag or env value, or a YAML list, of DNS names (lower-cased)', () => {
  assert.deepEqual(config({ argv: ['--origin', ORIGIN, '--admin-hosts', 'Admin.Internal, ops.example.'] }).admin.hosts, ['admin.internal', 'ops.example']);
  assert.deepEqual(config({ argv: ['--origin', ORIGIN], env: { STRATA_ADMIN_HOSTS: 'a.example' } }).admin.hosts, ['a.example']);
  const yaml = files({ 'a.yaml': 'admin:\n  hosts: [x.example, y.example]\n' });
  assert.deepEqual(config({ argv: ['--origin', ORIGIN, '--config', 'a.yaml'], readFile: yaml }).admin.hosts, ['x.example', 'y.example']);
  assert.equal(rejection({ argv: ['--origin', ORIGIN, '--admin-hosts', 'http://x'] }), '--admin-hosts: "http://x" is not a host name (expected DNS names, comma-separated or a YAML list, e.g. admin.internal)');
});
