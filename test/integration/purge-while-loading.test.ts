// A purge made while the disk index still loads after a start: it takes every match
// (what has not loaded yet is purged as it loads), but can count only what has loaded,
// so its answer and its log line say the count is a lower bound (diskLoading).
// Real tiers over a real cache directory, the real purge handler on a real socket.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { DiskTier } from '../../src/store/disk/tier.js';
import { openTiers } from '../../src/store/open-tiers.js';
import { Purger } from '../../src/admin/purge.js';
import { Stats } from '../../src/observability/stats.js';
import { systemClock } from '../../src/util/clock.js';
import type { TieredStore } from '../../src/store/tiered.js';
import { fetchReply } from '../fixtures/harness.js';
import { freshDir, makeMeta, putEntry, removeDir, testExpire } from '../contract/store.contract.js';

const N = 3_000;

test('a purge while the disk index loads answers diskLoading: true (purged a lower bound) and logs it; every match is still purged', async () => {
  const dir = await freshDir();
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const silent = pino({ level: 'silent' });
  const filling = await DiskTier.open({ dir, maxBytes: 1 << 30, logger: silent, expire: testExpire });
  // In batches: one commit at a time took ~10 s; the index loads as slowly however it was written.
  for (let b = 0; b < N; b += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, j) => putEntry(filling, makeMeta(`GET http://h.example/p/${b + j}`, { tags: ['all'], url: `http://h.example/p/${b + j}` }), randomBytes(32))));
  }
  await filling.close();

  let tiers: { disk: DiskTier; store: TieredStore } | undefined;
  let loadingAtPurge: boolean | undefined;
  const server = http.createServer((req, res) => {
    // The tiers open as the purge arrives: their index loads beside it (as after a start).
    void openTiers({ dir, memoryMaxBytes: 1 << 26, memoryMaxObjectBytes: 1 << 20, diskMaxBytes: 1 << 30, diskWriteQueueMaxWrites: 1024, diskWriteQueueMaxBytes: 1 << 26 }, testExpire, silent).then((t) => {
      tiers = t;
      loadingAtPurge = t.disk.stats().loading;
      return new Purger({ token: 't', store: t.store, clock: systemClock, logger, stats: new Stats() }).handleAdmin(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/purge`;
    const r = await fetchReply(url, { authorization: 'Bearer t', 'content-type': 'application/json' }, 'POST', JSON.stringify({ tags: ['all'] }));
    assert.equal(r.status, 200, r.text);
    assert.equal(loadingAtPurge, true, 'the purge came while the index loaded');
    const answer = JSON.parse(r.text) as Record<string, unknown>;
    assert.equal(answer['diskLoading'], true, 'the answer says its count is a lower bound');
    assert.ok((answer['purged'] as number) < N, `counted only what had loaded (${String(answer['purged'])})`);
    const line = lines.find((l) => (l['purge'] as Record<string, unknown> | undefined)?.['purged'] !== undefined)!;
    assert.equal((line['purge'] as Record<string, unknown>)['diskLoading'], true, 'and so does the log line');
    await tiers!.disk.ready;
    for (const i of [0, N / 2, N - 1]) assert.equal(await tiers!.store.get(`GET http://h.example/p/${i}`), undefined, `p/${i} purged`);
  } finally {
    await tiers?.store.close();
    await new Promise<void>((r) => server.close(() => r()));
    await removeDir(dir);
  }
});
