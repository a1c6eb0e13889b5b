// The two store tiers seen through a running node: a warm disk survives a
// restart, and a corrupted blob on disk never reaches a client as a clean body.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startHarness, fixed } from '../fixtures/harness.js';

async function blobFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, 'content-v2'), { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.push(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
  }
  return out;
}

// The cache key includes the Host field; the node's port changes at each restart.
const site = { host: 'site.example' };

test('restart with a warm disk: requests after the restart are hits, the origin is not asked again', async () => {
  const small = 'warm body '.repeat(50);
  const large = randomBytes(300_000);
  const h = await startHarness((req, res) => {
    const body = req.url === '/large' ? large : Buffer.from(small);
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  }, { cache: { memoryMaxObjectBytes: 64 * 1024 } });
  try {
    assert.equal((await h.get('/small', site)).text, small);
    assert.ok((await h.get('/large', site)).body.equals(large));
    await h.stored(2);
    assert.equal(h.origin.count(), 2);

    await h.restart();
    for (let i = 0; i < 2; i++) {
      const s = await h.get('/small', site);
      assert.equal(s.status, 200);
      assert.equal(s.text, small);
      assert.match(s.headers['cache-status']!, /; hit/, `small #${i}: ${s.headers['cache-status']}`);
      const l = await h.get('/large', site);
      assert.equal(l.status, 200);
      assert.ok(l.body.equals(large));
      assert.match(l.headers['cache-status']!, /; hit/, `large #${i}: ${l.headers['cache-status']}`);
    }
    assert.equal(h.origin.count(), 2, 'origin count unchanged across the restart');
    // The small one was promoted into memory by its first hit after the restart.
    const tiers = h.node.store().stats();
    assert.equal(tiers['memory']!.items, 1);
    assert.equal(tiers['disk']!.items, 2);
  } finally {
    await h.close();
  }
});

test('a blob corrupted while the node was down, larger than memoryMaxObjectBytes: the client is cut or gets the right bytes; the next request refetches', async () => {
  const body = randomBytes(512 * 1024);
  const h = await startHarness(fixed(body, { 'cache-control': 'max-age=600', 'content-type': 'application/octet-stream' }), {
    cache: { memoryMaxObjectBytes: 1024 },
  });
  try {
    const first = await h.get('/blob');
    assert.ok(first.body.equals(body));
    await h.stored(1);
    const files = await blobFiles(h.cacheDir);
    assert.equal(files.length, 1);
    assert.equal((await stat(files[0]!)).size, body.length);

    // Same length, different bytes: only the integrity check can tell. The first whole
    // read after a start verifies the digest.
    const bad = Buffer.from(body);
    for (let i = 0; i < bad.length; i += 4096) bad[i] = bad[i]! ^ 0x5a;
    await h.node.stop();
    await writeFile(files[0]!, bad);
    await h.restart();

    let outcome: 'cut' | 'correct';
    try {
      const r = await h.get('/blob');
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(body), 'a body that arrives whole must be the right one');
      outcome = 'correct';
    } catch (err) {
      assert.ok(!(err instanceof assert.AssertionError), String(err));
      outcome = 'cut';
    }
    const countAfterBad = h.origin.count('/blob');
    assert.ok(outcome === 'cut' ? countAfterBad === 1 : countAfterBad === 2, `${outcome}: origin count ${countAfterBad}`);

    const next = await h.get('/blob');
    assert.equal(next.status, 200);
    assert.ok(next.body.equals(body), 'refetched body is correct');
    assert.equal(h.origin.count('/blob'), 2, 'the corrupted entry was dropped and the origin asked again');
    await h.stored(1); // counters restart with the node
    const again = await h.get('/blob');
    assert.ok(again.body.equals(body));
    assert.match(again.headers['cache-status']!, /; hit/);
    assert.equal(h.origin.count('/blob'), 2);
  } finally {
    await h.close();
  }
});
