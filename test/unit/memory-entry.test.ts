// The memory tier's compact entry record (src/store/memory-entry.ts): metadata packed
// when it round-trips exactly, kept whole otherwise; unpacked once when handed out;
// purge selection, indexes and Vary selection read the record without unpacking it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { isWhole, type EntryMeta } from '../../src/entry.js';
import { heldEntry, type HeldEntry } from '../../src/store/memory/memory-entry.js';
import { MemoryTier } from '../../src/store/memory/memory.js';
import { DiskTier } from '../../src/store/disk/tier.js';
import { TieredStore } from '../../src/store/tiered.js';
import { withDir } from '../contract/disk-helpers.js';
import { putEntry, selector } from '../contract/store.contract.js';
import { entryMeta } from '../fixtures/entry-meta.js';

/** Metadata as cache/entry.ts newEntryMeta builds it for a fill (its fields, an integrity not yet known). */
function fillMeta(path: string, over: Partial<EntryMeta> = {}): EntryMeta {
  const requestTimeMs = 1_796_045_987_717;
  return entryMeta(`GET http://127.0.0.1:8080${path}`, {
    headers: { 'content-type': 'application/octet-stream', 'content-length': '1024', 'cache-control': 'max-age=60', date: 'Mon, 30 Nov 2026 23:13:17 GMT', etag: '"a1"' },
    requestTimeMs,
    responseTimeMs: requestTimeMs + 3,
    initialAgeS: 0.717,
    bodySize: 1024,
    integrity: undefined,
    ...over,
  });
}

function held(meta: EntryMeta): HeldEntry {
  // A body of the size the metadata says, up to 4 KiB (past that: a body of another size, which does not pack).
  return heldEntry(meta, Buffer.alloc(Math.max(0, Math.min(meta.bodySize, 4096)), 7), 2048, 0);
}

/** What the entry hands out equals what it was given, field for field (undefined fields too). */
function assertRoundTrip(meta: EntryMeta, packed: boolean): void {
  const copy = structuredClone(meta);
  const e = held(meta);
  assert.equal(e.packed, packed, `packed: ${packed}`);
  const out = e.stored().meta;
  assert.deepStrictEqual(out, copy);
  assert.deepEqual(Object.keys(out).sort(), Object.keys(copy).sort());
  assert.equal(e.packed, false, 'unpacked once handed out');
  assert.equal(e.stored().meta, out, 'then kept: the same object on every look-up');
  assert.equal(e.stored().body, e, 'the record is its own body');
}

test('a fill\'s metadata is packed and comes back field for field', () => {
  assertRoundTrip(fillMeta('/a'), true);
  assertRoundTrip(fillMeta('/b', { integrity: 'crc32-7bd6f924', tags: ['t1', 't2'] }), true);
  // A targeted field's directives differ from the stored cache-control field.
  assertRoundTrip(fillMeta('/c', { cacheControl: 'max-age=5, stale-while-revalidate=30', staleWhileRevalidateS: 30, noCache: true, staleForbidden: true }), true);
  assertRoundTrip(fillMeta('/d', { headers: {} , cacheControl: '' }), true);
  // Numbers at the edges of what packs: a year of freshness, ages in whole ms, a status, no body.
  assertRoundTrip(fillMeta('/e', { freshnessLifetimeS: 31_536_000, initialAgeS: 86_400.001, staleIfErrorS: 2 ** 28, status: 599, bodySize: 0 }), true);
  assertRoundTrip(fillMeta('/f', { requestTimeMs: 0, responseTimeMs: 0, initialAgeS: 0 }), true);
  assertRoundTrip(fillMeta('/g', { requestTimeMs: Number.MAX_SAFE_INTEGER - 5, responseTimeMs: Number.MAX_SAFE_INTEGER }), true);
  // Integrity: a CRC-32 is held as a number and comes back as the same string; any other as given.
  for (const integrity of ['crc32-0000000a', 'crc32-ffffffff', 'crc32-80000000', 'CRC32-ABCDEF01', 'crc32-123', 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=']) {
    assertRoundTrip(fillMeta('/crc', { integrity }), true);
  }
  // Without the integrity field at all (not even undefined): it stays absent.
  const { integrity: _i, ...noField } = fillMeta('/h');
  assertRoundTrip(noField as EntryMeta, true);
  assert.equal('integrity' in held(noField as EntryMeta).stored().meta, false);
});

test('metadata that would not come back the same is kept whole', () => {
  const whole = (over: Partial<EntryMeta>, extra: Record<string, unknown> = {}) => assertRoundTrip({ ...fillMeta('/w'), ...over, ...extra } as EntryMeta, false);
  whole({ initialAgeS: 0.0001 }); // finer than a millisecond
  whole({ freshnessLifetimeS: 0.1 + 0.2 }); // not a whole number of ms
  whole({ freshnessLifetimeS: 2 ** 31 }); // past what packs
  whole({ staleWhileRevalidateS: -1 });
  whole({ initialAgeS: -0 });
  whole({ requestTimeMs: 1.5, responseTimeMs: 2 });
  whole({ responseTimeMs: 1_796_045_987_717 + 2 ** 31 });
  whole({ requestTimeMs: -1, responseTimeMs: 0 });
  whole({ bodySize: 2 ** 31 });
  assertRoundTrip({ ...fillMeta('/w'), bodySize: -1 }, false); // not the body's size
  whole({ varyNames: ['accept-encoding'], varyValues: { 'accept-encoding': 'gzip' } });
  whole({ headers: { 'x-odd': 'a\nb' } });
  whole({ cacheControl: 'max-age=1\n' });
  whole({ slice: { index: 0, bytes: 1024, totalBytes: 4096, validator: '"v"' } });
  whole({ transform: { coding: 'br', level: 'fast', sourceBytes: 10 } });
  whole({ byCoding: true });
  whole({}, { extra: 1 });
  whole({ headers: { 'x-list': ['a', 'b'] as unknown as string } });
  whole({ integrity: 5 as unknown as string });
});

test('a packed entry holds no per-entry arrays for empty tags, and its tags for purges as given', () => {
  const a = held(fillMeta('/t1'));
  const b = held(fillMeta('/t2'));
  assert.equal(a.tags, b.tags, 'one shared empty list');
  assert.ok(Object.isFrozen(a.tags));
  const tags = ['x', 'y'];
  const c = held(fillMeta('/t3', { tags }));
  assert.equal(c.tags, tags);
  assert.equal(c.meta, c, 'purge selection reads the record itself');
  assert.deepEqual({ key: c.meta.key, url: c.meta.url, tags: c.meta.tags }, { key: 'GET http://127.0.0.1:8080/t3', url: 'http://127.0.0.1:8080/t3', tags });
  assert.equal(c.packed, true, 'reading what purges read unpacks nothing');
  const unpacked = a.stored().meta;
  assert.notEqual(unpacked.tags, a.tags, 'handed out: a list of its own');
});

test('Vary selection reads a packed entry as VariantMeta without unpacking it', () => {
  const meta = fillMeta('/v');
  const e = held(meta);
  const v = e.variant();
  assert.equal(isWhole(v), false);
  assert.deepEqual(v, { key: meta.key, primaryKey: meta.primaryKey, varyNames: [], varyValues: {}, responseTimeMs: meta.responseTimeMs });
  assert.equal(e.packed, true);
  const whole = e.stored().meta;
  assert.equal(e.variant(), whole, 'once handed out: the whole metadata, as before');
});

test('integrity landing after the entry was stored shows in its metadata, packed or not; not after a replace', () => {
  const packed = held(fillMeta('/i1'));
  packed.integrityLanded('crc32-00000001');
  assert.equal(packed.stored().meta.integrity, 'crc32-00000001');
  const { integrity: _i, ...noField } = fillMeta('/i2');
  const absent = held(noField as EntryMeta);
  absent.integrityLanded('crc32-00000002');
  assert.equal(absent.stored().meta.integrity, 'crc32-00000002');
  const sha = held(fillMeta('/i2s'));
  sha.integrityLanded('sha256-abc');
  assert.equal(sha.stored().meta.integrity, 'sha256-abc');
  const again = held(fillMeta('/i2c', { integrity: 'sha256-abc' }));
  again.integrityLanded('crc32-0badf00d');
  assert.equal(again.stored().meta.integrity, 'crc32-0badf00d');
  const handedOut = held(fillMeta('/i3'));
  const m = handedOut.stored().meta;
  handedOut.integrityLanded('crc32-00000003');
  assert.equal(m.integrity, 'crc32-00000003', 'the metadata handed out takes it, as the opened object did');
  const replaced = held(fillMeta('/i4'));
  const newer = fillMeta('/i4', { freshnessLifetimeS: 120, integrity: 'crc32-newer' });
  const entry = replaced.stored();
  replaced.replace(newer);
  assert.equal(replaced.stored(), entry, 'the same entry object, its metadata replaced');
  assert.equal(entry.meta, newer);
  replaced.integrityLanded('crc32-older');
  assert.equal(entry.meta.integrity, 'crc32-newer', 'an older write landing does not touch newer metadata');
});

test('memory tier: entries stay packed through commit, variants() and purge walks; a hit unpacks once', async () => {
  const tier = new MemoryTier({ maxBytes: 1 << 24, maxObjectBytes: 1 << 20 });
  const body = randomBytes(1024);
  for (const p of ['/m/a', '/m/b', '/n/c']) await putEntry(tier, fillMeta(p, { tags: p === '/m/b' ? ['tb'] : [] }), body);
  const keyA = 'GET http://127.0.0.1:8080/m/a';
  assert.equal(tier.heldBody(keyA)?.packed, true);
  assert.equal(tier.variants(keyA).length, 1);
  assert.equal(tier.heldBody(keyA)?.packed, true, 'variants() did not unpack it');
  assert.equal(await tier.purge(selector({ tags: ['tb'] })), 1);
  assert.equal(await tier.purge(selector({ urlPrefixes: ['http://127.0.0.1:8080/n/'] })), 1);
  await tier.flush();
  assert.equal(tier.has('GET http://127.0.0.1:8080/m/b'), false);
  assert.equal(tier.has('GET http://127.0.0.1:8080/n/c'), false);
  assert.equal(tier.heldBody(keyA)?.packed, true, 'purge walks read the record only');
  const hit = tier.peek(keyA)!;
  assert.deepStrictEqual(hit.meta, fillMeta('/m/a'));
  assert.ok(hit.body.buffer!.equals(body));
  assert.equal(tier.peek(keyA), hit, 'the same entry on every hit');
  assert.equal(tier.metaOf(keyA), hit.meta);
  // A soft purge replaces the metadata of a packed entry with the expire policy's.
  const soft = new MemoryTier({ maxBytes: 1 << 24, maxObjectBytes: 1 << 20, expire: (m, at) => ({ ...m, freshnessLifetimeS: 0, requestTimeMs: at, responseTimeMs: at }) });
  await putEntry(soft, fillMeta('/s'), body);
  await soft.purge(selector({ urlPrefixes: ['http://127.0.0.1:8080/s'] }), { softAtMs: 5 });
  await soft.flush();
  const s = soft.peek('GET http://127.0.0.1:8080/s')!;
  assert.equal(s.meta.freshnessLifetimeS, 0);
  assert.equal(s.meta.requestTimeMs, 5);
  assert.deepEqual(s.meta.headers, fillMeta('/s').headers);
});

test('tiered store: the integrity the disk write records reaches the memory entry, which stayed packed meanwhile', async () => {
  await withDir(async (dir) => {
    const logger = pino({ level: 'silent' });
    const memory = new MemoryTier({ maxBytes: 1 << 24, maxObjectBytes: 1 << 20 });
    const disk = await DiskTier.open({ dir, maxBytes: 1 << 24, logger, inUse: (k) => memory.has(k) });
    const store = new TieredStore(memory, disk, logger);
    const meta = fillMeta('/tiered');
    await putEntry(store, meta, randomBytes(1024));
    await store.flush();
    assert.equal(memory.heldBody(meta.key)?.packed, true, 'the commit handed nothing out');
    assert.match(meta.integrity ?? '', /./, 'the disk tier recorded an integrity on the opened metadata');
    assert.equal(store.peek(meta.key)!.meta.integrity, meta.integrity);
    await store.close();
  });
});
