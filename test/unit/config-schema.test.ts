// Unit tests that walk the one schema (src/config/schema/): every setting is
// reachable from a flag, the environment and YAML; every bad value is refused in
// one line naming key, value and expectation; config/default.yaml and --help
// agree with the declarations; check-config prints YAML that loads back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommand } from '../../src/config/command.js';
import { defaultConfig } from '../../src/config/defaults.js';
import { defaultsYaml, defaultText } from '../../src/config/render.js';
import { ENTRIES } from '../../src/config/schema/index.js';
import { defaultOf, type Entry } from '../../src/config/setting.js';
import { config, files, HOST, ORIGIN, rejection, repoFile } from '../fixtures/config-load.js';

const ORIGIN_PATH = 'origin.upstreams';

function valueAt(root: unknown, path: string): unknown {
  return path.split('.').reduce((node, key) => (node as Record<string, unknown>)[key], root);
}

/** `a.b.c` and a scalar → the YAML text that sets it. */
function yamlSetting(path: string, raw: string): string {
  const parts = path.split('.');
  return parts.map((key, i) => `${'  '.repeat(i)}${key}:${i === parts.length - 1 ? ` ${JSON.stringify(raw)}` : ''}`).join('\n') + '\n';
}

/** A valid value for the setting, as an operator would write it, that differs from its default. */
function sampleText(e: Entry): string {
  const kind = e.setting.kind;
  const dflt = defaultOf(e.setting, { hostname: HOST });
  if (typeof dflt === 'number') {
    const sample = kind.arg === 'FRACTION' ? dflt / 2 : dflt === 0 ? 1 : dflt * 2;
    return String(kind.format(sample));
  }
  if (kind.arg === '') return dflt === true ? 'false' : 'true';
  if (kind.arg.includes('|')) return kind.arg.split('|').find((name) => name !== dflt)!;
  if (kind.isSwitch) return dflt === true ? 'false' : 'true';
  const byArg: Record<string, string> = {
    '': 'true',
    'HOST:PORT': '127.0.0.1:7777',
    NAME: 'Edge-7',
    DIR: '/var/cache/elsewhere',
    PATH: '/probe',
    TOKEN: 's3cret',
    STATUSES: '200-204, 304',
    URL: 'http://10.9.9.9:1',
    NAMES: 'admin.example, ops.example',
    FIELDS: 'x-forwarded-host, x-original-host',
    SITES: SITES_JSON,
    FILE: 'sites.yaml',
    RULES: '[{name: no-admin, action: deny, paths: [/admin/], addresses: [10.0.0.0/8, "2001:db8::/32"]}]',
    FIELD: 'x-api-key',
    COOKIE: 'session',
    ISSUER: 'https://login.example/',
    AUDIENCES: 'api.example, web.example',
    ALGS: 'RS256, ES256',
    FILES: 'keys/signing.pub.pem',
    'CLAIM=FIELD,…': 'sub=x-user, email=x-user-email',
    CODINGS: 'gzip, br',
    TYPES: 'text/html, +json',
    'NAME=URL': 'edge-2=http://10.0.0.2:8080@8081',
    REDIS_URL: 'redis://10.9.9.9:6379',
  };
  const text = byArg[kind.arg];
  assert.ok(text !== undefined, `no sample for ${e.path} (kind ${kind.arg}): add one here`);
  return text;
}

/** A value no setting of its kind accepts, or undefined where any text is valid. */
function badText(e: Entry): string | undefined {
  // Record settings fed by field flags (tls.certificates) have tests of their own (config-tls.test.ts).
  // Any text is a directory, an issuer, an audience or a file name.
  return ['DIR', 'ISSUER', 'AUDIENCES', 'FILES', 'FILE'].includes(e.setting.kind.arg) || e.fields ? undefined : 'x y!';
}

/** A record setting (fieldFlags): the same two records from its flags, its env names and YAML. */
function recordSources(e: Entry): { want: unknown; sources: Record<string, Partial<Parameters<typeof config>[0]>> } {
  const fields = e.fields!;
  const records = [0, 1].map((i) => Object.fromEntries(fields.map((f) => [f.field, `/etc/x/${f.field}-${i}.pem`])));
  const yaml = `${e.path.split('.')[0]}:\n  ${e.path.split('.')[1]}:\n${records.map((r) => fields.map((f, j) => `    ${j === 0 ? '-' : ' '} ${f.field}: ${r[f.field]}`).join('\n')).join('\n')}\n`;
  return {
    want: records,
    sources: {
      flag: { argv: [...baseArgv(e), ...records.flatMap((r) => fields.map((f) => `--${f.flag}=${r[f.field]}`))] },
      env: { argv: baseArgv(e), env: Object.fromEntries(fields.map((f) => [f.env, records.map((r) => r[f.field]).join(',')])) },
      yaml: { argv: [...baseArgv(e), '--config', 'x.yaml'], readFile: files({ 'x.yaml': yaml }) },
    },
  };
}

/** A sites value (sites), and the file sitesFile names holding the same. */
const SITES_JSON = '{"shop": {"hosts": ["shop.example"], "routes": {"all": {"path": "/"}}}}';
const SITES_FILES = { 'sites.yaml': 'shop:\n  hosts: [shop.example]\n  routes:\n    all: { path: / }\n' };

function baseArgv(e: Entry): string[] {
  if (e.path === ORIGIN_PATH) return [];
  // The redirect listener exists only beside a TLS listener.
  if (e.path === 'tls.redirectListen') return ['--origin', ORIGIN, '--tls-cert', 'a.crt', '--tls-key', 'a.key'];
  // A node with peers needs the cluster secret.
  if (e.path.startsWith('cluster.') && e.path !== 'cluster.secret') return ['--origin', ORIGIN, '--cluster-secret', 'k'];
  return ['--origin', ORIGIN];
}

test('every setting is reachable from its flag, its env variable and its YAML key', () => {
  assert.ok(ENTRIES.length >= 42, `only ${ENTRIES.length} settings`);
  for (const e of ENTRIES) {
    if (e.fields) {
      const { want, sources } = recordSources(e);
      for (const [source, opts] of Object.entries(sources)) assert.deepEqual(valueAt(config(opts), e.path), want, `${e.path} from ${source}`);
      continue;
    }
    const raw = sampleText(e);
    const want = e.setting.kind.parse(raw);
    assert.notDeepEqual(want, valueAt(defaultConfig(HOST), e.path), `${e.path}: the sample must differ from the default`);
    const sources = {
      flag: { argv: [...baseArgv(e), `--${e.flag}=${raw}`], readFile: files(SITES_FILES) },
      env: { argv: baseArgv(e), env: { [e.env]: raw }, readFile: files(SITES_FILES) },
      yaml: { argv: [...baseArgv(e), '--config', 'x.yaml'], readFile: files({ 'x.yaml': yamlSetting(e.path, raw), ...SITES_FILES }) },
    };
    for (const [source, opts] of Object.entries(sources)) {
      const got = valueAt(config(opts), e.path);
      if (e.path === ORIGIN_PATH) assert.deepEqual(got, [{ url: raw, weight: 1, maxConnections: 128 }], `${e.path} from ${source}`);
      else assert.deepEqual(got, want, `${e.path} from ${source}`);
    }
  }
});

test('every bad value is refused in one line naming the key as written, the value and the expectation', () => {
  let checked = 0;
  for (const e of ENTRIES) {
    const bad = badText(e);
    if (bad === undefined) continue;
    const labels: [string, Parameters<typeof rejection>[0]][] = [
      [`--${e.flag}`, { argv: [...baseArgv(e), `--${e.flag}=${bad}`] }],
      [e.env, { argv: baseArgv(e), env: { [e.env]: bad } }],
      [`config file x.yaml: ${e.path}`, { argv: [...baseArgv(e), '--config', 'x.yaml'], readFile: files({ 'x.yaml': yamlSetting(e.path, bad) }) }],
    ];
    for (const [label, opts] of labels) {
      const msg = rejection(opts);
      assert.ok(msg.startsWith(`${label}: `), `${e.path}: ${msg}`);
      assert.match(msg, /\(expected .+\)$/, msg);
      // A secret is never echoed; everything else names the value.
      if (e.setting.kind.secret) assert.ok(!msg.includes(bad), msg);
      else assert.ok(msg.includes(JSON.stringify(bad)), msg);
      checked++;
    }
  }
  assert.ok(checked >= 3 * 40, `checked only ${checked}`);
});

test('flags and env names are unique and never collide with --config or --help', () => {
  const flags = ENTRIES.map((e) => e.flag);
  assert.equal(new Set(flags).size, flags.length, 'duplicate flag');
  assert.equal(new Set(ENTRIES.map((e) => e.env)).size, flags.length, 'duplicate env name');
  for (const reserved of ['config', 'help']) assert.ok(!flags.includes(reserved), reserved);
  for (const e of ENTRIES) assert.match(e.env, /^STRATA_[A-Z0-9_]+$/, e.env);
});

test('every declaration has help, and its default survives format then parse', () => {
  for (const e of ENTRIES) {
    assert.ok(e.setting.help.trim().length > 10, `${e.path}: help`);
    if (e.setting.example !== undefined) continue; // no default worth writing (origin, node id)
    const dflt = defaultOf(e.setting, { hostname: HOST });
    assert.deepEqual(e.setting.kind.parse(e.setting.kind.format(dflt)), dflt, e.path);
  }
});

test('config/default.yaml is the text the schema generates (npm run config:docs)', () => {
  assert.equal(repoFile('config/default.yaml'), defaultsYaml(), 'config/default.yaml is stale: run `npm run config:docs`');
  for (const e of ENTRIES) assert.ok(defaultsYaml().includes(`--${e.flag}`), e.flag);
});

test('--help lists every setting with its flag, env name, YAML key, default and help', () => {
  for (const argv of [['--help'], ['-h'], ['run', '--origin', 'ftp://bad', '--help'], ['check-config', '--bogus', '-h']]) {
    const r = parseCommand({ argv, env: {}, readFile: files({}), hostname: HOST });
    assert.ok('print' in r, JSON.stringify(argv));
    const help = r.print;
    for (const e of ENTRIES) {
      const arg = e.setting.kind.arg;
      const flags = e.fields ? e.fields.map((f) => `--${f.flag} ${arg}`).join(' ') : `--${e.flag}${arg === '' ? '' : ` ${arg}`}`;
      const head = `  ${flags}  (${e.fields ? e.fields.map((f) => f.env).join(', ') : e.env}; ${e.path})`;
      const at = help.indexOf(`${head}\n`);
      assert.ok(at >= 0, `missing ${head}`);
      const body = help.slice(at + head.length + 1).split(/\n {2}\S|\n\n/)[0]!.replace(/\s+/g, ' ');
      const range = e.setting.kind.range === undefined ? '' : `; ${e.setting.kind.range}`;
      const restart = e.setting.live ? '' : '; needs a restart';
      assert.ok(body.includes(`${e.setting.help.replace(/\s+/g, ' ')} [default: ${defaultText(e)}${range}${restart}]`), `${e.path}: ${body}`);
    }
    assert.match(help, /^\s+--config FILE/m);
    assert.match(help, /strata check-config FILE/);
  }
});

test('check-config prints the effective config, which loads back to the same config', () => {
  const yaml = 'origin:\n  upstreams:\n    - url: http://a:1\n      weight: 3\n    - http://b:2\ncache:\n  memoryMaxBytes: 1MiB\n';
  const env = { STRATA_DISK_SIZE: '3GiB' };
  const readFile = files({ 'x.yaml': yaml });
  const r = parseCommand({ argv: ['check-config', 'x.yaml', '--log-level', 'warn'], env, readFile, hostname: HOST });
  assert.ok('print' in r);
  assert.match(r.print, /^ {2}memoryMaxBytes: 1MiB$/m);
  assert.match(r.print, /^ {2}diskMaxBytes: 3GiB$/m);
  assert.match(r.print, /^logLevel: warn$/m);
  const direct = config({ argv: ['--log-level', 'warn'], env, readFile, file: 'x.yaml' });
  assert.deepEqual(config({ argv: ['--config', 'out.yaml'], readFile: files({ 'out.yaml': r.print }) }), direct);
});

test('check-config never prints the admin token', () => {
  const r = parseCommand({ argv: ['check-config', 'x.yaml'], env: { STRATA_ADMIN_TOKEN: 'hunter2' }, readFile: files({ 'x.yaml': `origin:\n  url: ${ORIGIN}\n` }), hostname: HOST });
  assert.ok('print' in r);
  assert.ok(!r.print.includes('hunter2'), r.print);
  assert.match(r.print, /^  # token: set, not shown \(--admin-token, STRATA_ADMIN_TOKEN or the config file's value\)$/m);
});

test('subcommands: run is the default; unknown commands and a missing FILE are one-line errors', () => {
  const opts = { env: {}, readFile: files({}), hostname: HOST };
  const run = parseCommand({ ...opts, argv: ['run', '--origin', ORIGIN] });
  const bare = parseCommand({ ...opts, argv: ['--origin', ORIGIN] });
  assert.ok('run' in run && 'run' in bare);
  assert.deepEqual(run.run, bare.run);
  assert.ok(run.run.origin.upstreams[0]!.url === ORIGIN);
  // A reload loads from the same sources again.
  assert.deepEqual(run.reload(), run.run);
  assert.throws(() => parseCommand({ ...opts, argv: ['serve'] }), /^StrataError: unknown command "serve" \(expected run, check-config or config-docs; see --help\)$/);
  assert.throws(() => parseCommand({ ...opts, argv: ['check-config'] }), /check-config: missing FILE/);
  assert.throws(() => parseCommand({ ...opts, argv: ['check-config', '--origin', ORIGIN] }), /check-config: missing FILE/);
  const docs = parseCommand({ ...opts, argv: ['config-docs'] });
  assert.deepEqual(docs, { print: defaultsYaml() });
});

test('an unknown STRATA_* variable is refused, naming it; other variables are ignored', () => {
  assert.equal(rejection({ argv: ['--origin', ORIGIN], env: { STRATA_MEMORY_SIZ: '1MiB' } }), 'STRATA_MEMORY_SIZ: unknown environment variable (see --help)');
  assert.equal(config({ argv: ['--origin', ORIGIN], env: { HOME: '/root', STRATA_UNUSED: '' } }).logLevel, 'info');
});
