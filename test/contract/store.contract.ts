// The Store contract as a suite: every tier (memory, disk, the tiered pair) must
// pass it unchanged. Each test builds its store on a fresh temporary directory.
//
// Byte budgets: the suite only assumes a tier counts at least the body bytes and
// at most body + ~1 KiB of per-entry overhead, so it uses bodies of a few KiB.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { entryMeta } from '../fixtures/entry-meta.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { emptySelector } from '../../src/store/purge/purge-match.js';
import { BodyLengthError, type Body, type EntryMeta, type ExpireFn, type Purgeable, type PurgeSelector, type Store, type TierStats } from '../../src/store/types.js';

/** Every tier is a Store and Purgeable: the suite covers both contracts. */
type Tier = Store & Purgeable;

export interface StoreUnderTest {
  store: Tier;
  /** Wait for every background write / removal (disk). */
  settle(): Promise<void>;
  /** Release the store and its directory. */
  dispose(): Promise<void>;
}

export interface StoreFactory {
  /** Build a store on `dir`; maxBytes bounds every tier, maxObjectBytes defaults to maxBytes. */
  (dir: string, opts: { maxBytes: number; maxObjectBytes?: number }): Promise<StoreUnderTest>;
}

// ---- helpers shared with the tier-specific tests ---------------------------------

export async function freshDir(prefix = 'strata-store-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export function makeMeta(key: string, opts: Partial<EntryMeta> = {}): EntryMeta {
  const primaryKey = opts.primaryKey ?? key.split('#')[0]!;
  return entryMeta(key, {
    primaryKey,
    url: `http://site.example/${primaryKey}`,
    headers: { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=600' },
    requestTimeMs: 1_700_000_000_000,
    responseTimeMs: 1_700_000_000_100,
    freshnessLifetimeS: 600,
    cacheControl: 'max-age=600',
    ...opts,
  });
}

/** Write `data` (in chunks of `chunk` bytes) and commit. */
export async function putEntry(store: Store, meta: EntryMeta, data: Buffer, chunk = 16 * 1024): Promise<void> {
  const w = store.open(meta);
  for (let i = 0; i < data.length; i += chunk) await w.write(data.subarray(i, i + chunk));
  await w.commit();
}

export async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** The whole body, the way a deliverer would read it: the buffer when present, else the stream. */
export async function readBody(body: Body): Promise<Buffer> {
  return body.buffer ?? collect(body.stream());
}

export function tierStats(s: Store): TierStats[] {
  const st = s.stats();
  return 'items' in st && typeof st.items === 'number' ? [st as TierStats] : Object.values(st as Record<string, TierStats>);
}

/** The soft-purge policy stores are given in these tests: stale, and says when. */
export const testExpire: ExpireFn = (meta, atMs) => ({ ...meta, freshnessLifetimeS: 0, cacheControl: `soft-purged-at=${atMs}` });

export function selector(over: Partial<PurgeSelector>): PurgeSelector {
  return { ...emptySelector(), ...over };
}

// ---- the suite -------------------------------------------------------------------

/** Runs `fn` on a fresh store from `factory` in its own directory, disposed of afterwards. */
export function storeRunner(factory: StoreFactory) {
  return async function withStore(opts: { maxBytes: number; maxObjectBytes?: number }, fn: (s: Tier, t: StoreUnderTest) => Promise<void>): Promise<void> {
    const dir = await freshDir();
    const sut = await factory(dir, opts);
    try {
      await fn(sut.store, sut);
    } finally {
      await sut.dispose();
      await removeDir(dir);
    }
  };
}

export function storeContract(name: string, factory: StoreFactory): void {
  describe(`Store contract: ${name}`, () => {
    const withStore = storeRunner(factory);
    const big = { maxBytes: 8 * 1024 * 1024 };

    test('write + commit: get returns the metadata and the exact bytes; ranges are inclusive', async () => {
      await withStore(big, async (s) => {
        const data = randomBytes(100_000);
        await putEntry(s, makeMeta('a', { bodySize: data.length }), data, 7000);
        const e = await s.get('a');
        assert.ok(e, 'entry visible after commit');
        assert.equal(e.meta.key, 'a');
        assert.equal(e.meta.primaryKey, 'a');
        assert.equal(e.meta.status, 200);
        assert.equal(e.meta.bodySize, data.length);
        assert.deepEqual(e.meta.headers, makeMeta('a').headers);
        assert.equal(e.body.size, data.length);
        assert.ok((await readBody(e.body)).equals(data));
        assert.ok((await collect(e.body.stream())).equals(data), 'stream() without range is the whole body');
        for (const [a, b] of [[0, 0], [0, 9], [10, 19], [99_999, 99_999], [65_530, 65_545], [1, 99_998]] as const) {
          const got = await collect(e.body.stream(a, b));
          assert.ok(got.equals(data.subarray(a, b + 1)), `range ${a}-${b}`);
        }
      });
    });

    test('nothing is visible before commit; abort stores nothing', async () => {
      await withStore(big, async (s, t) => {
        const data = randomBytes(5000);
        const w = s.open(makeMeta('p', { bodySize: data.length }));
        await w.write(data.subarray(0, 2500));
        assert.equal(s.peek('p'), undefined);
        assert.equal(await s.get('p'), undefined);
        assert.deepEqual(s.variants('p'), []);
        await w.write(data.subarray(2500));
        assert.equal(await s.get('p'), undefined);
        await w.commit();
        assert.ok(await s.get('p'));

        const w2 = s.open(makeMeta('q', { bodySize: data.length }));
        await w2.write(data);
        w2.abort(new Error('client went away'));
        await t.settle();
        assert.equal(await s.get('q'), undefined);
        assert.deepEqual(s.variants('q'), []);
        // Aborting before anything was written is fine too.
        s.open(makeMeta('r')).abort();
        await t.settle();
        assert.equal(await s.get('r'), undefined);
        for (const st of tierStats(s)) assert.equal(st.items, 1);
      });
    });

    test('a length different from meta.bodySize rejects with BodyLengthError and stores nothing', async () => {
      await withStore(big, async (s, t) => {
        const data = randomBytes(3000);
        const short = s.open(makeMeta('short', { bodySize: 4000 }));
        await short.write(data);
        await assert.rejects(short.commit(), BodyLengthError);
        const long = s.open(makeMeta('long', { bodySize: 2000 }));
        await long.write(data);
        await assert.rejects(long.commit(), BodyLengthError);
        await t.settle();
        assert.equal(await s.get('short'), undefined);
        assert.equal(await s.get('long'), undefined);
        for (const st of tierStats(s)) assert.deepEqual([st.items, st.bytes], [0, 0]);
      });
    });

    test('bodySize -1 is set at commit', async () => {
      await withStore(big, async (s) => {
        const data = randomBytes(12_345);
        const meta = makeMeta('u');
        assert.equal(meta.bodySize, -1);
        await putEntry(s, meta, data, 1000);
        const e = await s.get('u');
        assert.ok(e);
        assert.equal(e.meta.bodySize, 12_345);
        assert.equal(e.body.size, 12_345);
        assert.ok((await readBody(e.body)).equals(data));
      });
    });

    test('a zero-byte body stores and reads back (known and unknown length)', async () => {
      await withStore(big, async (s, t) => {
        await putEntry(s, makeMeta('z0', { bodySize: 0 }), Buffer.alloc(0));
        await putEntry(s, makeMeta('z1'), Buffer.alloc(0));
        // An explicit empty write is not a byte either.
        const w = s.open(makeMeta('z2', { bodySize: 0 }));
        await w.write(Buffer.alloc(0));
        await w.commit();
        for (const k of ['z0', 'z1', 'z2']) {
          const e = await s.get(k);
          assert.ok(e, `${k} stored`);
          assert.equal(e.meta.bodySize, 0);
          assert.equal(e.body.size, 0);
          assert.equal((await readBody(e.body)).length, 0);
          assert.equal((await collect(e.body.stream())).length, 0);
        }
        await t.settle();
        for (const st of tierStats(s)) {
          assert.equal(st.items, 3);
          assert.ok(st.bytes >= 0);
        }
      });
    });

    test('variants lists every variant under a primary key; delete removes it', async () => {
      await withStore(big, async (s, t) => {
        const body = Buffer.from('variant body');
        const keys = ['page#gzip', 'page#br', 'page#identity'];
        for (const k of keys) {
          await putEntry(s, makeMeta(k, { primaryKey: 'page', varyNames: ['accept-encoding'], varyValues: { 'accept-encoding': k.split('#')[1]! } }), body);
        }
        await putEntry(s, makeMeta('other#x', { primaryKey: 'other' }), body);
        assert.deepEqual(s.variants('page').map((m) => m.key).sort(), [...keys].sort());
        assert.deepEqual(s.variants('page').map((m) => m.varyValues['accept-encoding']).sort(), ['br', 'gzip', 'identity']);
        assert.deepEqual(s.variants('other').map((m) => m.key), ['other#x']);
        assert.deepEqual(s.variants('nothing'), []);

        assert.equal(await s.delete('page#br'), true);
        assert.equal(await s.delete('page#br'), false, 'second delete finds nothing');
        assert.equal(await s.delete('never-stored'), false);
        await t.settle();
        assert.deepEqual(s.variants('page').map((m) => m.key).sort(), ['page#gzip', 'page#identity']);
        assert.equal(await s.get('page#br'), undefined);
        assert.ok(await s.get('page#gzip'));

        assert.equal(await s.invalidate('page'), 2);
        await t.settle();
        assert.deepEqual(s.variants('page'), []);
        assert.equal(await s.get('page#gzip'), undefined);
        assert.deepEqual(s.variants('other').map((m) => m.key), ['other#x']);
      });
    });

    test('invalidate removes everything stored for a URI: every variant, every version keyed after "#" with its variants; nothing of its neighbours', async () => {
      await withStore(big, async (s, t) => {
        const body = Buffer.from('uri body');
        const url = 'http://site.example/p';
        const put = (key: string, primaryKey: string, u: string, coding?: string) =>
          putEntry(s, makeMeta(key, { primaryKey, url: u, ...(coding ? { varyNames: ['accept-encoding'], varyValues: { 'accept-encoding': coding } } : {}) }), body);
        const mine: string[] = [];
        // The plain key's variants, and two keyed versions (a keyed field, a canary side), one with variants.
        for (const c of ['gzip', 'br']) mine.push(`GET ${url}\naccept-encoding=${c}\n`);
        for (const [i, c] of ['gzip', 'br'].entries()) await put(mine[i]!, `GET ${url}`, url, c);
        const keyed = `GET ${url}#x-device=mobile`;
        for (const c of ['gzip', 'br']) {
          mine.push(`${keyed}\naccept-encoding=${c}\n`);
          await put(mine[mine.length - 1]!, keyed, `${url}#x-device=mobile`, c);
        }
        mine.push(`GET ${url}#side=canary`);
        await put(mine[mine.length - 1]!, `GET ${url}#side=canary`, `${url}#side=canary`);
        // Neighbours in URL order: a longer path, a query, a path below.
        const others = [`GET ${url}2`, `GET ${url}?q=1`, `GET ${url}/sub`, `GET ${url}2#x-device=mobile`];
        for (const k of others) await put(k, k, k.slice(4));
        await t.settle();
        assert.equal(await s.invalidate(`GET ${url}`), mine.length);
        await t.settle();
        for (const k of mine) assert.equal(await s.get(k), undefined, JSON.stringify(k));
        assert.deepEqual(s.variants(`GET ${url}`), []);
        assert.deepEqual(s.variants(keyed), []);
        for (const k of others) assert.ok(await s.get(k), `${k} kept`);
        assert.equal(await s.invalidate(`GET ${url}`), 0, 'nothing left');
      });
    });

    test('update replaces the metadata; the body is unchanged', async () => {
      await withStore(big, async (s, t) => {
        const data = randomBytes(20_000);
        const meta = makeMeta('m', { bodySize: data.length });
        await putEntry(s, meta, data);
        const stored = (await s.get('m'))!.meta;
        const next: EntryMeta = {
          ...structuredClone(stored),
          headers: { ...stored.headers, etag: '"v2"', 'x-revalidated': '1' },
          responseTimeMs: stored.responseTimeMs + 60_000,
          freshnessLifetimeS: 1200,
        };
        await s.update(next);
        await t.settle();
        const e = await s.get('m');
        assert.ok(e);
        assert.equal(e.meta.headers['etag'], '"v2"');
        assert.equal(e.meta.freshnessLifetimeS, 1200);
        assert.equal(e.meta.responseTimeMs, stored.responseTimeMs + 60_000);
        assert.equal(e.body.size, data.length);
        assert.ok((await readBody(e.body)).equals(data));
        assert.equal((s.variants('m')[0] as EntryMeta | undefined)?.headers['etag'], '"v2"');
        // Updating what is not stored stores nothing.
        await s.update(makeMeta('ghost', { bodySize: 3 }));
        await t.settle();
        assert.equal(await s.get('ghost'), undefined);
      });
    });

    test('replacing a key with a new body returns the new body', async () => {
      await withStore(big, async (s, t) => {
        const one = randomBytes(10_000);
        const two = randomBytes(3_000);
        await putEntry(s, makeMeta('r', { headers: { etag: '"1"' } }), one);
        await putEntry(s, makeMeta('r', { headers: { etag: '"2"' } }), two);
        await t.settle();
        const e = await s.get('r');
        assert.ok(e);
        assert.equal(e.meta.headers['etag'], '"2"');
        assert.equal(e.body.size, two.length);
        assert.ok((await readBody(e.body)).equals(two));
        assert.equal(s.variants('r').length, 1);
        for (const st of tierStats(s)) {
          assert.equal(st.items, 1);
          // A segment file keeps a replaced body's bytes until it is reclaimed: they are
          // on disk (counted) but dead (reported as such).
          const dead = 'deadBytes' in st ? Number(st.deadBytes) : 0;
          assert.ok(st.bytes - dead < one.length, `the old body is no longer counted as live (${st.bytes}, dead ${dead})`);
        }
        // And back to the first bytes.
        await putEntry(s, makeMeta('r', { headers: { etag: '"1"' } }), one);
        await t.settle();
        assert.ok((await readBody((await s.get('r'))!.body)).equals(one));
      });
    });

    test('byte budget: least-recently-used entries leave first; get() refreshes recency', async () => {
      // 4 KiB bodies under a 12 000-byte budget: two fit with any tier's overhead (the disk
      // tier's: whole blocks, index lines and the index's compaction slack), three do not.
      const maxBytes = 12_000;
      await withStore({ maxBytes }, async (s, t) => {
        const bodies = new Map<string, Buffer>();
        const put = async (k: string) => {
          const b = randomBytes(4096);
          bodies.set(k, b);
          await putEntry(s, makeMeta(k, { bodySize: b.length }), b);
          await t.settle();
          for (const st of tierStats(s)) assert.ok(st.bytes <= maxBytes, `bytes ${st.bytes} <= ${maxBytes}`);
        };
        const present = async (k: string) => {
          const e = await s.get(k);
          if (e) assert.ok((await readBody(e.body)).equals(bodies.get(k)!), `${k} intact`);
          return e !== undefined;
        };
        await put('a');
        await put('b');
        assert.ok(await present('a')); // a is now the most recently used
        await put('c'); // evicts b
        assert.equal(await present('b'), false, 'b was least recently used');
        assert.equal(await present('a'), true);
        assert.equal(await present('c'), true); // order now: a, c
        await put('d'); // evicts a
        assert.equal(await present('a'), false);
        assert.equal(await present('c'), true);
        assert.equal(await present('d'), true);
        assert.deepEqual(s.variants('a'), []);
        assert.deepEqual(s.variants('b'), []);
        for (const st of tierStats(s)) {
          assert.equal(st.items, 2);
          assert.ok(st.bytes >= 2 * 4096 && st.bytes <= maxBytes);
        }
      });
    });

    // Entries on two hosts, with variants and tags, for the purge tests.
    test('byte budget holds under many writes of mixed sizes', async () => {
      const maxBytes = 64 * 1024;
      await withStore({ maxBytes }, async (s, t) => {
        const last = new Map<string, Buffer>();
        for (let i = 0; i < 60; i++) {
          const k = `k${i % 17}`;
          const b = randomBytes((i * 7919) % 20_000);
          last.set(k, b);
          await putEntry(s, makeMeta(k), b, 3000);
          if (i % 3 === 0) await s.get(`k${(i * 5) % 17}`);
          await t.settle();
          for (const st of tierStats(s)) assert.ok(st.bytes <= maxBytes, `bytes ${st.bytes} <= ${maxBytes}`);
        }
        for (const [k, b] of last) {
          const e = await s.get(k);
          if (e) assert.ok((await readBody(e.body)).equals(b), `${k} is the latest body`);
        }
      });
    });
  });
}
