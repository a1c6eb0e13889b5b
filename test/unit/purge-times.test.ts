// When this node applied its purges (cluster/purge-times.ts): a copy from a peer
// that left the origin before a purge applied here that matches it is "covered";
// bounded, with a horizon for what it forgot; durable across a restart; a torn
// line (a crash mid-append) moves the horizon to the start. And the reading of a
// peer's answer: when its content may have left the origin (peer-fetch.ts).

import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { leftOriginAfter } from '../../src/cluster/peer-fetch.js';
import { KEPT_BROAD, KEPT_KEYS, PURGE_TIMES_FILE, PurgeTimes } from '../../src/cluster/purge-times.js';
import { PEER_AGE } from '../../src/http/headers.js';
import { emptySelector } from '../../src/store/purge/purge-match.js';
import { ageFields } from '../../src/deliver/respond.js';
import { currentAge } from '../../src/cache/reuse.js';
import { entryMeta } from '../fixtures/entry-meta.js';

const logger = pino({ level: 'silent' });
const copy = (path: string, tags: string[] = []) => ({ primaryKey: `http://h${path}`, url: `http://h${path}`, tags });

test('purge times: a copy is covered by a matching purge applied after it left the origin, not before; by key, tag and prefix', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-purge-times-'));
  try {
    const t = await PurgeTimes.load(dir, 0, logger);
    await t.record({ ...emptySelector(), primaryKeys: ['http://h/a'] }, 1_000);
    await t.record({ ...emptySelector(), tags: ['red'] }, 2_000);
    await t.record({ ...emptySelector(), urlPrefixes: ['http://h/dir/'] }, 3_000);
    assert.equal(t.coveredSince(copy('/a'), 999), true, 'left the origin before the purge');
    assert.equal(t.coveredSince(copy('/a'), 1_000), false, 'at the purge or after: taken');
    assert.equal(t.coveredSince(copy('/b'), 0), false, 'another key');
    assert.equal(t.coveredSince(copy('/b', ['red']), 1_500), true, 'its tag was purged');
    assert.equal(t.coveredSince(copy('/b', ['blue']), 1_500), false);
    assert.equal(t.coveredSince(copy('/dir/x'), 2_999), true);
    assert.equal(t.coveredSince(copy('/dir/x'), 3_000), false);
    // A clock that stepped back: instants never go back, so a later purge is never "older".
    await t.record({ ...emptySelector(), primaryKeys: ['http://h/late'] }, 500);
    assert.equal(t.coveredSince(copy('/late'), 2_999), true);
    await t.close();

    // A restart reads it all back.
    const again = await PurgeTimes.load(dir, 10_000, logger);
    assert.equal(again.coveredSince(copy('/a'), 999), true);
    assert.equal(again.coveredSince(copy('/b', ['red']), 1_500), true);
    assert.equal(again.coveredSince(copy('/dir/x'), 2_999), true);
    assert.equal(again.coveredSince(copy('/b'), 0), false, 'nothing forgotten: no horizon');
    await again.close();

    // A torn last line (a crash while it was written): a purge of unknown time, so the start is the horizon.
    await appendFile(join(dir, PURGE_TIMES_FILE), '{"at": 4000, "sel": {"prim');
    const torn = await PurgeTimes.load(dir, 10_000, logger);
    assert.equal(torn.horizon, 10_000);
    assert.equal(torn.coveredSince(copy('/b'), 9_999), true);
    assert.equal(torn.coveredSince(copy('/b'), 10_000), false);
    // The torn line is gone from the file: a purge recorded now is not glued to it, and the next start keeps the horizon.
    await torn.record({ ...emptySelector(), primaryKeys: ['k3'] }, 11_000);
    await torn.close();
    const after = await PurgeTimes.load(dir, 20_000, logger);
    assert.equal(after.horizon, 10_000, 'the horizon stays the torn start, not every later start');
    assert.equal(after.coveredSince({ primaryKey: 'k3', url: 'http://x/k3', tags: [] }, 10_500), true, 'the purge recorded after the torn line is remembered');
    await after.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('purge times: bounded; what it forgets becomes the horizon; the file is rewritten once it doubled, and reads back the same', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-purge-times-'));
  try {
    const t = await PurgeTimes.load(dir, 0, logger);
    const writes: Promise<void>[] = [];
    for (let i = 1; i <= KEPT_KEYS + 10; i++) writes.push(t.record({ ...emptySelector(), primaryKeys: [`http://h/k${i}`] }, i));
    for (let i = 1; i <= KEPT_BROAD + 5; i++) writes.push(t.record({ ...emptySelector(), tags: [`t${i}`] }, KEPT_KEYS + 10 + i));
    await Promise.all(writes);
    assert.deepEqual(t.size, { keys: KEPT_KEYS, broad: KEPT_BROAD });
    // The 10 oldest keys and the 5 oldest tag purges are forgotten: the horizon is the newest of those.
    assert.equal(t.horizon, KEPT_KEYS + 10 + 5);
    assert.equal(t.coveredSince(copy('/k1'), KEPT_KEYS + 14), true, 'older than the horizon: may have been purged');
    assert.equal(t.coveredSince(copy('/k20'), KEPT_KEYS + 15), false);
    assert.equal(t.coveredSince(copy('/other', ['t6']), KEPT_KEYS + 15), true);
    // One URL purged over and over: the record stays the same size, the file is rewritten as it is.
    const at = KEPT_KEYS + KEPT_BROAD + 100;
    for (let i = 0; i < KEPT_KEYS + KEPT_BROAD + 1_100; i++) writes.push(t.record({ ...emptySelector(), primaryKeys: ['http://h/k20'] }, at));
    await t.close();
    const lines = (await readFile(join(dir, PURGE_TIMES_FILE), 'utf8')).split('\n').filter(Boolean).length;
    assert.equal(lines, 1 + KEPT_KEYS + KEPT_BROAD, 'rewritten: the horizon, then each key and purge once');
    assert.equal(t.coveredSince(copy('/k20'), KEPT_KEYS + 15), true, 'purged again since');
    const again = await PurgeTimes.load(dir, 0, logger);
    assert.deepEqual(again.size, t.size);
    assert.equal(again.horizon, t.horizon);
    assert.equal(again.coveredSince(copy('/k20'), at - 1), true);
    assert.equal(again.coveredSince(copy('/k21'), KEPT_KEYS + 15), false);
    assert.equal(again.coveredSince(copy(`/k${KEPT_KEYS + 10}`), KEPT_KEYS + 9), true);
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a peer answer: its content left the origin no earlier than when it was asked, less its age (to the millisecond, else whole seconds)', () => {
  assert.equal(leftOriginAfter({ [PEER_AGE]: '1500', age: '1' }, 10_000), 10_000 - 1_500 - 2);
  assert.equal(leftOriginAfter({ [PEER_AGE]: '10, 1500' }, 10_000), 10_000 - 1_500 - 2, 'sent twice: the older');
  assert.equal(leftOriginAfter({ age: '3' }, 10_000), 10_000 - 4_000 - 2, 'Age is rounded down');
  assert.equal(leftOriginAfter({}, 10_000), undefined, 'no age: fetched for this request');
  assert.equal(leftOriginAfter({ [PEER_AGE]: 'soon' }, 10_000), undefined);
});

test('a peer is told its copy\'s age as of when its request arrived: a fill it joined while the origin was still sending does not look older by the origin\'s latency', () => {
  // Fetched at 1,000 (requestTimeMs); the head came at 1,300; the peer's request arrived at 1,005 and is answered at 1,310.
  const meta = entryMeta('GET http://h/slow', { requestTimeMs: 1_000, responseTimeMs: 1_300, initialAgeS: 0.3 });
  const ageS = currentAge(meta, 1_310);
  const opts = { hiddenFields: new Set<string>(), headerCache: new WeakMap(), via: '1.1 n', peerAge: true };
  assert.deepEqual(ageFields(meta, ageS, { ...opts, peerAskedAtMs: 1_005 }), ['age', '0', PEER_AGE, '5']);
  assert.deepEqual(ageFields(meta, ageS, opts), ['age', '0', PEER_AGE, '310'], 'without the arrival: as of the answer');
  // The asker, who asked at 1,004 by its clock, puts the departure no later than the fetch began.
  assert.ok(leftOriginAfter({ [PEER_AGE]: '5' }, 1_004)! <= 1_000);
});
