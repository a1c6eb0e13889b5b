// A soft purge another node accepted is applied at the sender's instant, or at this
// node's now when the sender's clock runs ahead: entries here must not stay fresh
// until this clock catches up with the sender's.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Purger } from '../../src/admin/purge.js';
import { Stats } from '../../src/observability/stats.js';
import type { PurgeOptions, PurgeSelector } from '../../src/store/types.js';
import { FakeClock } from '../../src/util/clock.js';

const ALL: PurgeSelector = { primaryKeys: [], paths: [], urlPrefixes: [], pathPrefixes: ['/'], tags: [], all: false };

test('a peer soft purge is applied no later than this node’s now; a hard purge stays hard', async () => {
  const clock = new FakeClock(1_000_000);
  const asked: PurgeOptions[] = [];
  const purger = new Purger({ token: '', store: { purge: async (_s: PurgeSelector, o: PurgeOptions = {}) => (asked.push(o), 1) }, clock, logger: pino({ level: 'silent' }), stats: new Stats() });
  await purger.applyRemote(ALL, 1_030_000, 'edge-2', 'a');
  await purger.applyRemote(ALL, 990_000, 'edge-2', 'b');
  await purger.applyRemote(ALL, undefined, 'edge-2', 'c');
  assert.deepEqual(asked, [{ softAtMs: 1_000_000 }, { softAtMs: 990_000 }, {}]);
});
