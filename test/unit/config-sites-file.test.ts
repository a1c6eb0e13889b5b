// Unit tests for sitesFile: a relative path in the config file is read from the
// config file's directory, not the working directory (the node may be started from
// anywhere); one from a flag is relative to the working directory; errors name the
// path as read, absolute; the value is one path (a YAML list was read as "a,b").

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { config, files, ORIGIN, rejection } from '../fixtures/config-load.js';

const SITES = 'shop:\n  hosts: [shop.example]\n  routes:\n    all: { path: / }\n';
const withFile = (sitesFile: string) => `origin:\n  url: ${ORIGIN}\nsitesFile: ${sitesFile}\n`;

test('a relative sitesFile in a config file is read from the config file\'s directory', () => {
  const c = config({ argv: ['--config', '/etc/strata/strata.yaml'], readFile: files({ '/etc/strata/strata.yaml': withFile('sites.yaml'), '/etc/strata/sites.yaml': SITES }) });
  assert.deepEqual(c.sites.map((s) => s.name), ['shop']);
  assert.equal(c.sitesFile, '/etc/strata/sites.yaml');
  // An absolute one is read as it is.
  const abs = config({ argv: ['--config', '/etc/strata/strata.yaml'], readFile: files({ '/etc/strata/strata.yaml': withFile('/srv/sites.yaml'), '/srv/sites.yaml': SITES }) });
  assert.equal(abs.sitesFile, '/srv/sites.yaml');
});

test('a sitesFile from a flag is relative to the working directory, even with a config file elsewhere', () => {
  const c = config({ argv: ['--config', '/etc/strata/strata.yaml', '--sites-file', 'sites.yaml'], readFile: files({ '/etc/strata/strata.yaml': `origin:\n  url: ${ORIGIN}\n`, 'sites.yaml': SITES }) });
  assert.deepEqual(c.sites.map((s) => s.name), ['shop']);
});

test('a sitesFile that cannot be read or parsed: the error names the absolute path read', () => {
  const missing = rejection({ argv: ['--config', '/etc/strata/strata.yaml'], readFile: files({ '/etc/strata/strata.yaml': withFile('sites.yaml') }) });
  assert.match(missing, /^sitesFile: \/etc\/strata\/sites\.yaml: cannot read \(ENOENT/);
  const relative = rejection({ argv: ['--origin', ORIGIN, '--sites-file', 'nowhere/sites.yaml'], readFile: files({}) });
  assert.ok(relative.startsWith(`sitesFile: ${resolve('nowhere/sites.yaml')}: cannot read (`), relative);
  const bad = rejection({ argv: ['--config', '/etc/strata/strata.yaml'], readFile: files({ '/etc/strata/strata.yaml': withFile('sites.yaml'), '/etc/strata/sites.yaml': 'shop: 3\n' }) });
  assert.ok(bad.startsWith('sites file /etc/strata/sites.yaml: sites'), bad);
});

test('sitesFile is one path: a YAML list is refused, not read as "a,b"', () => {
  const r = rejection({ argv: ['--config', 's.yaml'], readFile: files({ 's.yaml': withFile('[a.yaml, b.yaml]') }) });
  assert.equal(r, 'config file s.yaml: sitesFile: a list is not a file path (expected one file path, e.g. sites.yaml)');
});
