// Variants whose metadata is on disk only (issue 15: the disk tier keeps a varied
// entry's selection summary in RAM, not its whole metadata). After a restart the
// memory tier is empty and the store lists the disk tier's summaries: a variant made
// from such a source is kept, a stored body that no longer decodes is deleted, and
// background recompression swaps such a fast variant for the best one (with the fast
// one's whole metadata, read from disk).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import pino from 'pino';
import { isWhole } from '../../src/entry.js';
import { Stats } from '../../src/observability/stats.js';
import { Recompressor } from '../../src/transform/recompress.js';
import { startHarness, until, type Harness } from '../fixtures/harness.js';

function page(n: number): string {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `<li class="d${i % 11}"><a href="/q/${i % 89}">row ${i}</a></li>\n`;
  return s.slice(0, n);
}
const BODY = page(60_000);
/** Keys carry the Host: a restarted node listens on another port. */
const HOST = { host: 'site.example' };
const BR = { ...HOST, 'accept-encoding': 'br' };

async function diskOnly(): Promise<Harness> {
  return startHarness(
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': BODY.length, 'cache-control': 'max-age=600', etag: '"d1"' });
      res.end(BODY);
    },
    { compress: { recompress: false }, logLevel: 'warn' },
  );
}

/**
 * Every entry's line landed, then a restart: the memory tier is empty, the disk tier holds
 * summaries. From then on memory takes no identity body (a hit leaves it on disk only), but
 * takes the small variants made from it.
 */
async function restarted(h: Harness, memoryMaxObjectBytes = BODY.length / 2): Promise<void> {
  await h.node.store().flush();
  h.config.cache.memoryMaxObjectBytes = memoryMaxObjectBytes;
  await h.restart();
  assert.equal(h.node.store().stats()['memory']!.items, 0, 'nothing in memory');
}

function variantsOf(h: Harness, path: string) {
  return h.node.store().variants(`GET http://site.example${path}`);
}

/** The identity body stored, on disk only. */
async function storeSource(h: Harness, path: string): Promise<void> {
  await h.get(path, HOST);
  await h.stored(1);
  await restarted(h);
  const listed = variantsOf(h, path);
  assert.deepEqual(listed.map((m) => m.varyValues['accept-encoding']), ['identity']);
  assert.equal(isWhole(listed[0]!), false, 'listed as its summary');
}

test('a variant made from a source whose metadata is on disk only is kept: the commit checks it against the source as stored', async () => {
  const h = await diskOnly();
  try {
    await storeSource(h, '/made');
    const made = await h.get('/made', BR);
    assert.match(made.headers['cache-status']!, /; hit; ttl=\d+; detail=compress-br$/);
    assert.ok(made.body.length < BODY.length / 2);
    await h.node.store().flush();
    assert.deepEqual(variantsOf(h, '/made').map((m) => m.varyValues['accept-encoding']).sort(), ['br', 'identity'], 'the br variant stays stored');
    const again = await h.get('/made', BR);
    assert.match(again.headers['cache-status']!, /; hit; ttl=\d+$/, 'answered from the stored variant, nothing made');
    assert.equal(zlib.brotliDecompressSync(again.body).toString(), BODY);
    assert.equal(h.origin.count('/made'), 1);
  } finally {
    await h.close();
  }
});

test('background recompression swaps a fast variant on disk only for the best one', async () => {
  const h = await diskOnly();
  try {
    await h.get('/rc', HOST);
    await h.stored(1);
    await h.get('/rc', BR);
    await h.stored(2);
    await restarted(h);
    const store = h.node.store();
    const all = variantsOf(h, '/rc');
    const br = all.find((m) => m.varyValues['accept-encoding'] === 'br')!;
    const identity = all.find((m) => m.varyValues['accept-encoding'] === 'identity')!;
    assert.equal(br.transform?.level, 'fast');
    assert.equal(isWhole(br), false, 'the fast variant comes as its summary');
    // Read without a hit (a get() would bring it into memory, whole).
    const fastMeta = (await store.disk.readMeta(br.key))!;
    const fastSize = fastMeta.bodySize;
    const stats = new Stats();
    const r = new Recompressor({ store, logger: pino({ level: 'silent' }), stats, queueMax: 4 });
    r.enqueue(fastMeta, identity.key);
    await until(() => r.pending === 0, 'queue drained');
    assert.equal(stats.counters.recompressed, 1, 'recompressed, not skipped');
    const best = (await store.get(br.key))!;
    assert.equal(best.meta.transform?.level, 'best');
    assert.equal(best.meta.headers['etag'], '"d1"', 'the best variant keeps the whole metadata of the fast one');
    assert.equal(best.meta.headers['content-type'], 'text/html');
    assert.ok(best.body.size < fastSize);
    await r.close();
  } finally {
    await h.close();
  }
});

test('a stored gzip body on disk only that no longer decodes within the limit is deleted when a client without gzip asks', async () => {
  const gz = zlib.gzipSync(page(600_000));
  const h = await startHarness(
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'cache-control': 'max-age=600', etag: '"z"', 'content-length': gz.length });
      res.end(gz);
    },
    { logLevel: 'warn' },
  );
  try {
    await h.get('/old', { ...HOST, 'accept-encoding': 'gzip' });
    await h.stored(1);
    h.config.compress.maxDecodedBytes = 100_000;
    await restarted(h, 1024);
    const listed = variantsOf(h, '/old');
    assert.deepEqual(listed.map((m) => m.varyValues['accept-encoding']), ['gzip']);
    assert.equal(isWhole(listed[0]!), false, 'listed as its summary');
    await assert.rejects(h.get('/old', HOST), 'connection cut');
    await h.until(() => h.node.stats.counters.badCoding === 1, 'counted');
    await h.until(() => variantsOf(h, '/old').length === 0, 'the stored body deleted');
  } finally {
    await h.close();
  }
});
