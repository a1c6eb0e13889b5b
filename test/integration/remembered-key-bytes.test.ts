// Tables keyed by URLs that clients choose (hit-for-pass, the last refusal to store
// per URL, the top missed keys, the purge log) are bounded by the bytes of their keys,
// not only by their count: with a count alone, thousands of 8 KB URLs held tens to
// hundreds of MB (util/bounded-keys.ts). /stats `remembered` shows each against its bound.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchReply, fixed, withHarness, type Harness } from '../fixtures/harness.js';

interface Figures {
  keys: number;
  keyBytes: number;
  maxKeyBytes: number;
}

const MiB = 2 ** 20;
/** A path of about 8 KB (limits.maxUrlBytes is 8,192), distinct per `i`. */
const longPath = (i: number) => `/${String(i).padStart(6, '0')}/${'x'.repeat(7_900)}`;

async function remembered(h: Harness): Promise<Record<string, Figures>> {
  return (JSON.parse((await fetchReply(h.admin + '/stats')).text) as { remembered: Record<string, Figures> }).remembered;
}

async function inParallel(n: number, lanes: number, one: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: lanes }, async () => {
    while (next < n) await one(next++);
  }));
}

function assertBounded(f: Figures | undefined, what: string, sent: number): void {
  assert.ok(f, `/stats remembered.${what} is reported`);
  assert.ok(f.keyBytes <= f.maxKeyBytes, `${what}: ${f.keyBytes} key bytes within its bound ${f.maxKeyBytes}`);
  assert.ok(f.keys < sent, `${what}: ${f.keys} keys kept of ${sent} sent`);
}

test('2,300 uncacheable 8 KB URLs: hit-for-pass, not-stored and top-misses stay within their key bytes (18 MB sent)', async () => {
  await withHarness(fixed('private page', { 'cache-control': 'private' }), { admin: { token: 't' } } as never, async (h) => {
    const sent = 2_300;
    await inParallel(sent, 8, async (i) => {
      assert.equal((await fetchReply(h.base + longPath(i))).status, 200);
    });
    const r = await remembered(h);
    assertBounded(r.hitForPass, 'hitForPass', sent);
    assertBounded(r.notStored, 'notStored', sent);
    assertBounded(r.topMisses, 'topMisses', sent);
    assert.ok(r.hitForPass!.keyBytes <= 16 * MiB && r.notStored!.keyBytes <= 8 * MiB && r.topMisses!.keyBytes <= MiB);
    const gauge = /^strata_hit_for_pass_keys (\d+)$/m.exec((await fetchReply(h.admin + '/metrics')).text);
    assert.ok(gauge && Number(gauge[1]) === r.hitForPass!.keys, 'the metric counts the keys kept');
    // The most recent ones are the ones remembered.
    const explained = JSON.parse((await fetchReply(h.admin + '/explain?url=' + encodeURIComponent(h.base + longPath(sent - 1)), { authorization: 'Bearer t' })).text) as { hitForPass: boolean; lastNotStored?: unknown };
    assert.equal(explained.hitForPass, true, JSON.stringify(explained).slice(0, 300));
    assert.ok(explained.lastNotStored, 'the latest refusal is remembered');
  });
});

test('the purge log and the invalidation log stay within their key bytes: 20 purges of 120 8 KB prefixes, 1,200 invalidated 8 KB URLs', async () => {
  await withHarness(fixed('ok', { 'cache-control': 'max-age=60' }), { admin: { token: 't' } } as never, async (h) => {
    for (let p = 0; p < 20; p++) {
      const prefixes = Array.from({ length: 120 }, (_, i) => longPath(p * 1000 + i) + '/');
      const reply = await fetchReply(h.admin + '/purge', { 'content-type': 'application/json', authorization: 'Bearer t' }, 'POST', JSON.stringify({ prefixes }));
      assert.equal(reply.status, 200, reply.text);
    }
    const afterPurges = (await remembered(h)).purgeLog;
    assertBounded(afterPurges, 'purgeLog (purges)', 20 * 120);
    const sent = 1_200;
    await inParallel(sent, 8, async (i) => {
      assert.equal((await fetchReply(h.base + longPath(i), {}, 'POST', 'x')).status, 200);
    });
    const r = (await remembered(h)).purgeLog as Figures & { invalidations: number };
    assert.ok(r.keyBytes <= r.maxKeyBytes, `${r.keyBytes} within ${r.maxKeyBytes}`);
    assert.ok(r.invalidations < sent, `${r.invalidations} invalidations kept of ${sent}`);
  });
});
