// Large objects stored on disk (invariant 3: memory is bounded): a 2 GiB body
// streams to its client and into the disk tier with flat resident memory, then is
// served from disk, ranges included. The origin, the node and the client share this
// process, so the memory measured is an upper bound of the node's own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, Agent } from 'undici';
import { startHarness } from '../fixtures/harness.js';
import { generating, MiB, peakRssGrowth } from '../fixtures/large-body.js';

test('a 2 GiB body streams to the client and into the disk tier with resident memory growth under 100 MiB, then is served from disk', { timeout: 240_000 }, async (t) => {
  const SIZE = 2 * 1024 * MiB;
  const h = await startHarness(generating(SIZE, { 'content-type': 'video/mp4', 'cache-control': 'max-age=600' }), { cache: { diskMaxBytes: 2 * SIZE }, origin: { bodyTimeoutMs: 30_000 } });
  const agent = new Agent({ connections: 1 });
  const drain = async (path: string, headers: Record<string, string> = {}) => {
    const r = await request(h.base + path, { dispatcher: agent, headers });
    let bytes = 0;
    for await (const c of r.body) bytes += (c as Buffer).length;
    return { status: r.statusCode, bytes, cacheStatus: String(r.headers['cache-status']) };
  };
  try {
    await h.get('/warm');
    const fill = await peakRssGrowth(() => drain('/big'));
    assert.equal(fill.result.bytes, SIZE);
    assert.match(fill.result.cacheStatus, /stored/);
    t.diagnostic(`peak resident memory growth during the fill ${fill.growthMiB.toFixed(1)} MiB`);
    assert.ok(fill.growthMiB < 100, `resident memory grew by ${fill.growthMiB.toFixed(1)} MiB during the fill`);
    await h.stored(2);
    const hit = await peakRssGrowth(() => drain('/big'));
    assert.equal(hit.result.bytes, SIZE);
    assert.match(hit.result.cacheStatus, /; hit/);
    t.diagnostic(`peak resident memory growth serving from disk ${hit.growthMiB.toFixed(1)} MiB`);
    assert.ok(hit.growthMiB < 100, `resident memory grew by ${hit.growthMiB.toFixed(1)} MiB serving from disk`);
    const tail = await drain('/big', { range: `bytes=${SIZE - MiB}-` });
    assert.equal(tail.status, 206);
    assert.equal(tail.bytes, MiB);
    assert.equal(h.origin.count('/big'), 1);
  } finally {
    await agent.close();
    await h.close();
  }
});
