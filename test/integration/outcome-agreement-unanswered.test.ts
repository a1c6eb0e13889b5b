// Issue 15, requests that get no answer of their own: a client that goes away
// before its answer was chosen, and requests Node's parser refuses before the
// request path sees them. Each is still one request with one recorded outcome,
// and the access line, /stats and /metrics say the same of it
// (test/fixtures/agreement.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http, { type ServerResponse } from 'node:http';
import { until, startHarness } from '../fixtures/harness.js';
import { assertAgree, metricOutcomes, observe } from '../fixtures/agreement.js';

const LOGGED = { logLevel: 'info' } as const;

/** A GET whose client goes away once the node has it in hand (`ready`), before any answer. */
async function goneBeforeAnswer(base: string, path: string, ready: () => Promise<void>): Promise<void> {
  const req = http.request(base + path, { agent: false });
  req.on('error', () => {});
  req.end();
  await ready();
  req.destroy();
}

test('a client gone before its answer was chosen: one outcome, "gone", status 499, in the access line, /stats and /metrics — never a 200 bypass', async () => {
  const waiting: ServerResponse[] = [];
  const h = await startHarness((_req, res) => void waiting.push(res), LOGGED);
  try {
    // Alone on its miss: the fetch is cancelled with it.
    const alone = await observe(h, 1, () => goneBeforeAnswer(h.base, '/alone', () => until(() => waiting.length === 1, 'the miss at the origin')));
    assertAgree(alone, 1);
    assert.deepEqual([alone.lines[0]!.status, alone.lines[0]!.cache, alone.lines[0]!.bytes, alone.lines[0]!.aborted], [499, 'gone', 0, true]);
    assert.deepEqual(metricOutcomes(alone), ['miss 4xx']);
    assert.equal(alone.stats['misses'], 1);
    assert.equal(alone.stats['bypass'], undefined);
    assert.equal(alone.stats['fetchesCancelled'], 1);
    waiting.length = 0;

    // A follower gone while the leader's fetch goes on: when that fetch answers, nothing
    // more is counted for the follower (it was a collapsed miss in /stats alone).
    const herd = await observe(
      h,
      2,
      async () => {
        const lead = h.get('/herd');
        await until(() => waiting.length === 1, 'the leader at the origin');
        await goneBeforeAnswer(h.base, '/herd', () => h.until(() => h.node.stats.counters.joined === 1, 'the follower joined'));
        await h.logged((l) => l['msg'] === 'access' && l['url'] === '/herd');
        waiting.shift()!.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': 5 }).end('hello');
        return lead;
      },
      () => h.stored(1),
    );
    assertAgree(herd, 2);
    assert.equal(herd.reply.text, 'hello');
    const byCache = Object.fromEntries(herd.lines.map((l) => [l.cache, l]));
    assert.deepEqual([byCache['gone']?.status, byCache['miss']?.status], [499, 200]);
    assert.deepEqual(metricOutcomes(herd), ['miss 2xx', 'miss 4xx']);
    assert.equal(herd.stats['misses'], 2);
    assert.equal(herd.stats['collapsed'], undefined, 'the gone follower was answered from nothing');
    assert.equal(herd.stats['joined'], 1);
  } finally {
    await h.close();
  }
});
