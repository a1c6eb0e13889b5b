// Edges of load and storage: many concurrent clients of one stored key, a disk
// tier that fails to write, an object larger than the disk budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startHarness, fixed } from '../fixtures/harness.js';

test('1,000 concurrent requests for one stored key: 1,000 identical bodies, one origin request', async () => {
  const body = Buffer.alloc(8 * 1024, 'z');
  const h = await startHarness(fixed(body, { 'cache-control': 'max-age=600' }));
  try {
    await h.get('/hot');
    const replies = await Promise.all(Array.from({ length: 1000 }, () => h.get('/hot')));
    assert.equal(replies.filter((r) => r.status === 200 && r.body.equals(body)).length, 1000);
    assert.equal(h.origin.count('/hot'), 1);
    assert.equal(h.node.stats.counters.hits, 1000);
  } finally {
    await h.close();
  }
});

test('a disk tier that cannot write: clients are still served and the entry lives in memory', async () => {
  const h = await startHarness(fixed('fine', { 'cache-control': 'max-age=600' }), { logLevel: 'warn' });
  try {
    // Make the disk tier's scratch directory unusable.
    await rm(join(h.cacheDir, 'tmp'), { recursive: true, force: true });
    await writeFile(join(h.cacheDir, 'tmp'), 'not a directory');
    const a = await h.get('/nodisk');
    assert.equal(a.status, 200);
    assert.equal(a.text, 'fine');
    await h.stored(1);
    const b = await h.get('/nodisk');
    assert.match(b.headers['cache-status']!, /; hit/);
    // The disk write runs after the memory commit: wait for its failure to be logged.
    await h.logged((l) => String(l.msg).includes('disk tier write failed'));
    assert.equal(h.node.store().stats().disk!.items, 0);
  } finally {
    await h.close();
  }
});

test('an object larger than the whole disk budget passes through and is kept in memory only', async () => {
  const body = Buffer.alloc(300 * 1024, 1);
  const h = await startHarness(fixed(body, { 'cache-control': 'max-age=600' }), { cache: { diskMaxBytes: 100 * 1024 } });
  try {
    const a = await h.get('/huge');
    assert.ok(a.body.equals(body));
    await h.stored(1);
    assert.equal(h.node.store().stats().disk!.items, 0);
    assert.ok(h.node.store().stats().disk!.bytes <= 100 * 1024);
  } finally {
    await h.close();
  }
});
