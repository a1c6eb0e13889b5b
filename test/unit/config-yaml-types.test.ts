// Unit tests for values YAML reads as numbers or booleans where a setting wants
// text (an unquoted node id 123, a token 20240101): the rejection says what YAML
// did and how to quote it, instead of "123 is not a node id (expected letters,
// digits...)", which contradicts itself. A secret's value is not repeated.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { config, files, ORIGIN, rejection } from '../fixtures/config-load.js';

const load = (yaml: string) => ({ argv: ['--config', 's.yaml'], readFile: files({ 's.yaml': `origin:\n  url: ${ORIGIN}\n${yaml}` }) });

test('a number or boolean where text is expected: the message names what YAML read and the quoting', () => {
  assert.equal(rejection(load('nodeId: 123\n')), 'config file s.yaml: nodeId: YAML read this as the number 123; quote it: "123"');
  assert.equal(rejection(load('nodeId: true\n')), 'config file s.yaml: nodeId: YAML read this as the boolean true; quote it: "true"');
  assert.equal(rejection(load('cache:\n  dir: 2024\n')), 'config file s.yaml: cache.dir: YAML read this as the number 2024; quote it: "2024"');
  // Quoted, the same values load.
  assert.equal(config(load('nodeId: "123"\n')).nodeId, '123');
  assert.equal(config(load('cache:\n  dir: "2024"\n')).cache.dir, '2024');
});

test('a secret YAML read as a number: said so, without its value', () => {
  const message = rejection(load('admin:\n  token: 20240101\n'));
  assert.equal(message, 'config file s.yaml: admin.token: YAML read this value as a number (expected text: quote it)');
  assert.equal(config(load('admin:\n  token: "20240101"\n')).admin.token, '20240101');
});
