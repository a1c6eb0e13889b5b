// Unit tests for what the command line and its docs promise: how a switch takes a
// value (--help said "--flag value" works for every flag, and "--store-set-cookie
// false" was refused as a stray argument), check-config FILE beside --config (the
// --config was ignored), README's list of settings a reload cannot apply (it
// missed workers and cache.heapGrowthPercent), and how to run `strata` from a clone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseCommand } from '../../src/config/command.js';
import { helpText } from '../../src/config/render.js';
import { ENTRIES } from '../../src/config/schema/index.js';
import { files, HOST, ORIGIN, rejection, repoFile } from '../fixtures/config-load.js';

test('--help says how a switch takes a value, and a word after a switch is refused naming the =value form', () => {
  const help = helpText();
  assert.doesNotMatch(help, /Both --flag value and --flag=value work/);
  assert.match(help, /--store-set-cookie=false \(or --no-store-set-cookie\)/);
  assert.equal(
    rejection({ argv: ['--origin', ORIGIN, '--store-set-cookie', 'false'] }),
    'unexpected argument "false" after the switch --store-set-cookie (expected --store-set-cookie=false, or --store-set-cookie alone for true and --no-store-set-cookie for false)',
  );
});

test('check-config FILE with --config as well is refused, not silently ignored', () => {
  const opts = { env: {}, readFile: files({ 'a.yaml': `origin:\n  url: ${ORIGIN}\n`, 'b.yaml': 'nodeId: b\n' }), hostname: HOST };
  for (const flag of [['--config', 'b.yaml'], ['--config=b.yaml']]) {
    assert.throws(() => parseCommand({ ...opts, argv: ['check-config', 'a.yaml', ...flag] }), {
      message: `check-config: ${flag[0]} given with FILE a.yaml (expected one config file: strata check-config FILE [flags])`,
    });
  }
});

test('README\'s "Restart needed" list names every setting a reload cannot apply', () => {
  const readme = repoFile('README.md');
  const start = readme.indexOf('**Restart needed**');
  const list = readme.slice(start, readme.indexOf('mark these "needs a restart"', start));
  assert.ok(start >= 0 && list.length > 0);
  const missing = ENTRIES.filter((e) => !e.setting.live)
    .map((e) => e.path)
    .filter((path) => !list.includes(`\`${path}\``) && !list.includes(`\`${path.split('.')[0]}.*\``));
  assert.deepEqual(missing, []);
});

test('README says how to run strata from a clone, through the package bin that npx runs', () => {
  const pkg = JSON.parse(repoFile('package.json')) as { bin?: Record<string, string> };
  assert.equal(pkg.bin?.strata, 'dist/src/cli.js');
  assert.ok(existsSync(fileURLToPath(new URL('../../src/cli.js', import.meta.url))), 'the bin is what the build makes');
  assert.match(repoFile('README.md'), /A\s+clone does not put it on your PATH: in the clone run it as `npx strata \.\.\.`/);
});
