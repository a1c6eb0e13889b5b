// A soft purge is "revalidate before reuse" (CACHING.md, Purging: guarantees): a
// client's max-stale must not answer from a soft-purged entry without the origin,
// whichever tier holds it and across a restart. The response's own stale windows
// (stale-while-revalidate, stale-if-error) still apply, counted from the purge.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startHarness, type Harness } from '../fixtures/harness.js';
import { withToken, site, purge, json } from './purge-node.js';

/** max-age=600 with an ETag; each fetch of a path answers the next version ("v1", "v2"...). */
function versioned(): (req: IncomingMessage, res: ServerResponse) => void {
  const seen = new Map<string, number>();
  return (req, res) => {
    const n = (seen.get(req.url!) ?? 0) + 1;
    seen.set(req.url!, n);
    const body = `v${n}`;
    res.writeHead(200, { 'cache-control': 'max-age=600', etag: `"v${n}"`, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
}

async function softPurgedThenMaxStale(h: Harness, path: string, restart: boolean): Promise<void> {
  assert.equal((await h.get(path, site)).text, 'v1');
  await h.stored(h.node.stats.counters.misses);
  await h.node.store().flush();
  const r = await purge(h, { urls: [path], soft: true });
  assert.equal(r.status, 200, r.text);
  assert.equal(json(r)['purged'], 1);
  if (restart) await h.restart();
  h.clock.advance(3600_000);
  const before = h.origin.count(path);
  const a = await h.get(path, { ...site, 'cache-control': 'max-stale' });
  assert.equal(a.status, 200);
  assert.doesNotMatch(a.headers['cache-status']!, /; hit/, 'not answered from the soft-purged entry');
  assert.equal(h.origin.count(path), before + 1, 'the origin was asked');
  assert.equal(a.text, 'v2', "the origin's new version");
}

test('soft purge: a client max-stale does not answer from the purged entry (memory tier)', async () => {
  const h = await startHarness(versioned(), withToken);
  try {
    await softPurgedThenMaxStale(h, '/mem', false);
  } finally {
    await h.close();
  }
});

test('soft purge: a client max-stale does not answer from the purged entry held by the disk only, nor after a restart', async () => {
  for (const restart of [false, true]) {
    const h = await startHarness(versioned(), { ...withToken, cache: { memoryMaxObjectBytes: 1 } });
    try {
      await softPurgedThenMaxStale(h, `/disk-${restart}`, restart);
    } finally {
      await h.close();
    }
  }
});

test('soft purge: an entry already stale when purged is not served under max-stale either; an unpurged one still is', async () => {
  const h = await startHarness(versioned(), withToken);
  try {
    for (const p of ['/old', '/other']) assert.equal((await h.get(p, site)).text, 'v1');
    await h.stored(2);
    h.clock.advance(3600_000);
    const stale = await h.get('/other', { ...site, 'cache-control': 'max-stale' });
    assert.match(stale.headers['cache-status']!, /; hit;.*detail=max-stale/, 'max-stale still serves what no purge touched');
    assert.equal(json(await purge(h, { urls: ['/old'], soft: true }))['purged'], 1);
    const a = await h.get('/old', { ...site, 'cache-control': 'max-stale' });
    assert.doesNotMatch(a.headers['cache-status']!, /; hit/);
    assert.equal(a.text, 'v2');
  } finally {
    await h.close();
  }
});
