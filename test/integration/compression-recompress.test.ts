// Background recompression (transform/recompress.ts) driven by hand against a
// real node's store: the best-level body replaces the fast one whole; a reader
// of the fast body keeps reading fast bytes; a purge or a changed variant keeps
// the job's result out; a full queue drops jobs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import pino from 'pino';
import type { EntryMeta } from '../../src/entry.js';
import { Stats } from '../../src/observability/stats.js';
import { Recompressor } from '../../src/transform/recompress.js';
import { startHarness, until, type Harness } from '../fixtures/harness.js';

function page(n: number): string {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `<li class="item-${i % 13}"><a href="/p/${i % 97}">entry ${i}</a></li>\n`;
  return s.slice(0, n);
}
const BODY = page(120_000);

async function withFastVariant(): Promise<{ h: Harness; key: string }> {
  const h = await startHarness(
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': BODY.length, 'cache-control': 'max-age=600', etag: '"r1"' });
      res.end(BODY);
    },
    { compress: { recompress: false } },
  );
  await h.get('/r', { 'accept-encoding': 'br' });
  await h.stored(2);
  return { h, key: `GET http://${new URL(h.base).host}/r` };
}

function variantsOf(h: Harness, key: string) {
  // Entries keyed by coding come whole from every tier.
  const all = h.node.store().variants(key) as EntryMeta[];
  return { identity: all.find((m) => m.varyValues['accept-encoding'] === 'identity')!, br: all.find((m) => m.varyValues['accept-encoding'] === 'br') };
}

test('the best-level body replaces the fast one whole; a reader of the fast body is not disturbed', async () => {
  const { h, key } = await withFastVariant();
  try {
    const store = h.node.store();
    const { identity, br } = variantsOf(h, key);
    assert.equal(br?.transform?.level, 'fast');
    const fast = (await store.get(br!.key))!;
    // A client reading the fast variant when the swap happens.
    const reading = fast.body.stream();
    const stats = new Stats();
    const r = new Recompressor({ store, logger: pino({ level: 'silent' }), stats, queueMax: 4 });
    r.enqueue(br!, identity.key);
    await until(() => stats.counters.recompressed === 1, 'recompressed');
    const chunks: Buffer[] = [];
    for await (const c of reading) chunks.push(c as Buffer);
    const oldBytes = Buffer.concat(chunks);
    assert.equal(oldBytes.length, fast.body.size);
    assert.equal(zlib.brotliDecompressSync(oldBytes).toString(), BODY, 'the fast bytes, whole');
    const best = (await store.get(br!.key))!;
    assert.equal(best.meta.transform?.level, 'best');
    assert.ok(best.body.size < fast.body.size);
    const hit = await h.get('/r', { 'accept-encoding': 'br' });
    assert.equal(hit.body.length, best.body.size);
    assert.equal(zlib.brotliDecompressSync(hit.body).toString(), BODY);
    await r.close();
  } finally {
    await h.close();
  }
});

test('a purge after the job was queued, or a variant that changed, keeps the result out; a full queue drops jobs', async () => {
  const { h, key } = await withFastVariant();
  try {
    const store = h.node.store();
    const { identity, br } = variantsOf(h, key);
    const stats = new Stats();
    const r = new Recompressor({ store, logger: pino({ level: 'silent' }), stats, queueMax: 1 });
    // Another variant than the one committed (a newer response): left alone.
    r.enqueue({ ...br!, responseTimeMs: br!.responseTimeMs + 1 }, identity.key);
    r.enqueue(br!, identity.key);
    assert.equal(stats.counters.recompressSkipped, 1, 'queue of one: the second job dropped');
    await until(() => r.pending === 0, 'queue drained');
    assert.equal(stats.counters.recompressed, 0);
    assert.equal(stats.counters.recompressSkipped, 2);
    // Purged while queued: nothing comes back.
    r.enqueue(br!, identity.key);
    await store.invalidate(key);
    await until(() => r.pending === 0, 'queue drained');
    assert.equal(stats.counters.recompressed, 0);
    assert.deepEqual(store.variants(key), []);
    await r.close();
  } finally {
    await h.close();
  }
});
