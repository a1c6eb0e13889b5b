// The selection summary the disk tier keeps in RAM for a varied entry instead of its
// whole metadata (entry.ts VariantSummary, store/disk/records.ts): the choosers give
// the same answer from summaries as from whole metadata, on generated variant sets and
// on a real disk tier (written, and loaded again from its index).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isSummarized, isWhole, summaryOf, type EntryMeta, type VariantMeta } from '../../src/entry.js';
import { chooseByVary } from '../../src/pipeline/lookup.js';
import { DiskTier } from '../../src/store/disk/tier.js';
import { Negotiator } from '../../src/transform/negotiate.js';
import { chooseVariant } from '../../src/transform/select.js';
import { entryMeta } from '../fixtures/entry-meta.js';
import { silent, withDir } from '../contract/disk-helpers.js';

const n = new Negotiator(['br', 'gzip', 'zstd']);

const PK = 'GET http://s.example/page';
/** Another URL: its variants are the origin's gzip bodies only. */
const PK2 = 'GET http://s.example/other';

function keyed(coding: string, over: Partial<EntryMeta> & { lang?: string; pk?: string } = {}): EntryMeta {
  const { lang, pk = PK, ...rest } = over;
  const names = lang === undefined ? ['accept-encoding'] : ['accept-encoding', 'accept-language'];
  const values: Record<string, string> = lang === undefined ? { 'accept-encoding': coding } : { 'accept-encoding': coding, 'accept-language': lang };
  let key = `${pk}\n`;
  for (const nm of names) key += `${nm}=${values[nm]}\n`;
  const headers = { 'content-type': 'text/css', etag: '"e"', ...(coding === 'identity' ? {} : { 'content-encoding': coding }) };
  return entryMeta(key, { primaryKey: pk, url: pk.slice(4), headers, varyNames: names, varyValues: values, byCoding: true, bodySize: 5000, ...rest });
}

const arbVariant = fc
  .record({
    coding: fc.constantFrom('identity', 'br', 'gzip', 'zstd', 'compress'),
    lang: fc.option(fc.constantFrom('en', 'fr'), { nil: undefined }),
    byCoding: fc.boolean(),
    made: fc.option(fc.record({ level: fc.constantFrom('fast' as const, 'best' as const, 'decoded' as const), sourceBytes: fc.constantFrom(-1, 100, 200) }), { nil: undefined }),
    etag: fc.option(fc.constantFrom('"a"', '"b"', 'W/"a"'), { nil: undefined }),
    lastModified: fc.option(fc.constantFrom('Tue, 01 Dec 2026 10:00:00 GMT', 'Wed, 02 Dec 2026 10:00:00 GMT'), { nil: undefined }),
    cacheControl: fc.option(fc.constantFrom('max-age=60', 'no-transform', 'max-age=60, No-Transform', 'no-transformx'), { nil: undefined }),
    status: fc.constantFrom(200, 200, 200, 404),
    bodySize: fc.constantFrom(-1, 100, 200),
    responseTimeMs: fc.integer({ min: 0, max: 5 }),
    slice: fc.boolean(),
  })
  .map((g) => {
    const headers: Record<string, string> = { 'content-type': 'text/css' };
    if (g.coding !== 'identity') headers['content-encoding'] = g.coding;
    if (g.etag !== undefined) headers['etag'] = g.etag;
    if (g.lastModified !== undefined) headers['last-modified'] = g.lastModified;
    if (g.cacheControl !== undefined) headers['cache-control'] = g.cacheControl;
    const m = keyed(g.coding, { lang: g.lang, headers, status: g.status, bodySize: g.bodySize, responseTimeMs: g.responseTimeMs });
    if (!g.byCoding) delete m.byCoding;
    if (g.made) m.transform = { coding: g.coding, level: g.made.level, sourceBytes: g.made.sourceBytes };
    if (g.slice) m.slice = { index: 0, bytes: 100, totalBytes: 300, validator: '"a"' };
    return m;
  });

/** Variant sets of one URL, keys distinct (a store holds one entry per key). */
const arbSet = fc.uniqueArray(arbVariant, { minLength: 1, maxLength: 7, selector: (m) => m.key });
const arbRequest = fc.record({
  ae: fc.option(fc.constantFrom('br', 'gzip', 'gzip, br', 'zstd;q=0.5, gzip;q=0.1', 'identity', 'br;q=0, gzip;q=0', '*', 'compress'), { nil: undefined }),
  lang: fc.option(fc.constantFrom('en', 'fr', 'de'), { nil: undefined }),
});

test('the choosers give the same variant from summaries as from whole metadata, and from a mix of both (generated variant sets)', () => {
  fc.assert(
    fc.property(arbSet, arbRequest, fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }), (wholes, r, mask) => {
      const summaries = wholes.map((m) => summaryOf(m));
      // A tiered store lists memory's whole metadata beside the disk tier's summaries.
      const mixed: VariantMeta[] = wholes.map((m, i) => (mask[i] ? m : summaries[i]!));
      const req: Record<string, string> = {};
      if (r.ae !== undefined) req['accept-encoding'] = r.ae;
      if (r.lang !== undefined) req['accept-language'] = r.lang;
      const acc = n.acceptance(r.ae);
      const fromWhole = chooseVariant(wholes, req, acc);
      for (const other of [summaries, mixed]) {
        const c = chooseVariant(other, req, acc);
        assert.equal(c.meta?.key, fromWhole.meta?.key);
        assert.equal(c.whole, fromWhole.whole);
        const v = chooseByVary(other, req);
        const w = chooseByVary(wholes, req);
        assert.equal(v.meta?.key, w.meta?.key);
        assert.equal(v.whole, w.whole);
      }
    }),
    { numRuns: 3000 },
  );
});

test('a summary carries no header section: validators, no-transform, status and size as fields', () => {
  const m = keyed('gzip', { headers: { 'content-type': 'text/css', 'content-encoding': 'gzip', etag: '"z"', 'last-modified': 'Tue, 01 Dec 2026 10:00:00 GMT', 'cache-control': 'max-age=60, no-transform', 'x-big': 'x'.repeat(4000) } });
  const s = summaryOf(m);
  assert.equal(isWhole(s), false);
  assert.equal(isSummarized(s), true);
  assert.deepEqual({ etag: s.etag, lastModified: s.lastModified, noTransform: s.noTransform, status: s.status, bodySize: s.bodySize }, { etag: '"z"', lastModified: 'Tue, 01 Dec 2026 10:00:00 GMT', noTransform: true, status: 200, bodySize: 5000 });
  assert.ok(JSON.stringify(s).length < 400, 'no header strings held');
});

test('the disk tier chooses from its summaries as from whole metadata (a variant made from an older body passed over, a decodable coding chosen), also after a restart; purges select them by path, tag and URL', async () => {
  await withDir(async (dir) => {
    // Identity of the newer body ("f"), a br variant made from the older one ("e"), and, under other
    // Accept-Language, a gzip body the origin sent (decodable) and one with no-transform (not).
    const newId = keyed('identity', { responseTimeMs: 2000, headers: { 'content-type': 'text/css', etag: '"f"' } });
    const oldBr = keyed('br', { responseTimeMs: 1000, transform: { coding: 'br', level: 'fast', sourceBytes: 5000 } });
    const gzFr = keyed('gzip', { pk: PK2, lang: 'fr', responseTimeMs: 1000 });
    const gzDe = keyed('gzip', { pk: PK2, lang: 'de', responseTimeMs: 1000, tags: ['grp'], headers: { 'content-type': 'text/css', 'content-encoding': 'gzip', etag: '"e"', 'cache-control': 'max-age=60, no-transform' } });
    const all = [newId, oldBr, gzFr, gzDe];
    const body = Buffer.alloc(5000, 7);
    const check = (disk: DiskTier, when: string) => {
      for (const pk of [PK, PK2]) {
        const listed = disk.variants(pk);
        assert.equal(listed.length, 2, `${when}: ${pk}`);
        assert.ok(listed.every((v) => !isWhole(v) && isSummarized(v)), `${when}: the disk tier holds summaries`);
      }
      for (const [pk, ae, lang, want] of [
        [PK, 'br', undefined, newId.key],
        [PK2, 'identity', 'fr', gzFr.key],
        [PK2, 'identity', 'de', undefined],
        [PK2, 'gzip', 'de', gzDe.key],
      ] as const) {
        const req: Record<string, string> = { 'accept-encoding': ae, ...(lang ? { 'accept-language': lang } : {}) };
        // The same sets as whole metadata (as the memory tier gives them): the same answer.
        const whole = all.filter((m) => m.primaryKey === pk);
        assert.equal(chooseVariant(whole, req, n.acceptance(ae)).meta?.key, want, `${when}: whole, ${ae} ${lang}`);
        assert.equal(chooseVariant(disk.variants(pk), req, n.acceptance(ae)).meta?.key, want, `${when}: summaries, ${ae} ${lang}`);
      }
    };
    const disk = await DiskTier.open({ dir, maxBytes: 1 << 30, logger: silent });
    for (const m of all) assert.equal(await disk.putWhole(m, body), true);
    await disk.flush();
    check(disk, 'written');
    await disk.close();
    const again = await DiskTier.open({ dir, maxBytes: 1 << 30, logger: silent });
    check(again, 'loaded');
    await again.purge({ primaryKeys: [], paths: [], urlPrefixes: [], pathPrefixes: ['/page'], tags: [], all: false });
    assert.deepEqual(again.variants(PK), [], 'purged by path prefix');
    assert.equal(again.variants(PK2).length, 2, 'the other URL kept');
    await again.purge({ primaryKeys: [], paths: [], urlPrefixes: [], pathPrefixes: [], tags: ['grp'], all: false });
    assert.deepEqual(again.variants(PK2).map((m) => m.key), [gzFr.key], 'purged by tag');
    await again.purge({ primaryKeys: [], paths: [], urlPrefixes: ['http://s.example/oth'], pathPrefixes: [], tags: [], all: false });
    assert.deepEqual(again.variants(PK2), [], 'purged by URL prefix');
    await again.close();
  });
});
