// The primary's record of the node's running configuration (workers/node-config.ts):
// what a restarted worker is given is what the running workers hold — restart-only
// settings as the node started, live ones from the last reload a worker applied —
// and it survives node:cluster's message serialisation unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deserialize, serialize } from 'node:v8';
import { NodeConfig, type ConfigAnswer } from '../../src/workers/node-config.js';
import { config, ORIGIN } from '../fixtures/config-load.js';

const base = ['--origin', ORIGIN];

function asked(keeper: NodeConfig): ConfigAnswer {
  let answer: ConfigAnswer | undefined;
  assert.equal(keeper.handle({ strata: 'config?' }, (a) => (answer = a)), true);
  return answer!;
}

test('before any reload a restarted worker is given the configuration the node started with', () => {
  const started = config({ argv: [...base, '--log-level', 'warn'] });
  assert.deepEqual(asked(new NodeConfig(started)).config, started);
});

test('after a reload: its live settings, and the restart-only ones the node started with', () => {
  const started = config({ argv: base });
  const keeper = new NodeConfig(started);
  const loaded = config({ argv: [...base, '--log-level', 'debug', '--memory-size', '1MiB'] });
  assert.equal(keeper.handle({ strata: 'applied', config: loaded } as never, () => assert.fail('no answer to a report')), true);
  const given = asked(keeper).config;
  assert.equal(given.logLevel, 'debug');
  assert.equal(given.cache.memoryMaxBytes, started.cache.memoryMaxBytes, 'restart-only: as running');
  // Through the 'advanced' serialisation node:cluster is set to: the same configuration arrives.
  assert.deepEqual(deserialize(serialize(given)), given);
});

test('other messages are not the configuration\'s', () => {
  const keeper = new NodeConfig(config({ argv: base }));
  assert.equal(keeper.handle({ strata: 'started' }, () => assert.fail()), false);
  assert.equal(keeper.handle(undefined, () => assert.fail()), false);
});
