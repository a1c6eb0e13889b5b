// STRATA_* is the node's environment namespace: an unknown STRATA_* variable stops
// start-up (a mistyped name would otherwise be ignored). So every STRATA_* name the
// repository's scripts, examples and README use must be one the node knows: a deploy
// host exporting a helper script's own STRATA_ADMIN would make the node refuse to start.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { StrataError } from '../../src/errors.js';
import { config, repoFile } from '../fixtures/config-load.js';

/** Whether the node refuses `name` as an unknown environment variable. */
function unknownToNode(name: string): boolean {
  try {
    config({ argv: ['--origin', 'http://127.0.0.1:9000'], env: { [name]: 'x' } });
  } catch (err) {
    return err instanceof StrataError && err.message.startsWith(`${name}: unknown environment variable`);
  }
  return false;
}

test('every STRATA_* name in config/ scripts and examples, README.md and docker-compose.yml is one the node knows', () => {
  const files = [...readdirSync(new URL('../../../config/', import.meta.url)).map((f) => `config/${f}`), 'README.md', 'docker-compose.yml'];
  const unknown: string[] = [];
  for (const file of files) {
    for (const [name] of repoFile(file).matchAll(/\bSTRATA_[A-Z0-9_]*[A-Z0-9]\b/g)) {
      if (unknownToNode(name)) unknown.push(`${file}: ${name}`);
    }
  }
  assert.deepEqual(unknown, []);
});
