// The purge half of the Store contract: by key, path, prefix and tag, counted once,
// soft purges. Run over every store by store.test.ts beside storeContract.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../src/store/types.js';
import { makeMeta, putEntry, readBody, selector, storeRunner, tierStats, type StoreFactory } from './store.contract.js';

export function purgeContract(name: string, factory: StoreFactory): void {
  describe(`Store purge contract: ${name}`, () => {
    const withStore = storeRunner(factory);
    const big = { maxBytes: 8 * 1024 * 1024 };

    async function purgeFixture(s: Store): Promise<void> {
      const body = Buffer.from('purge me');
      const put = (key: string, url: string, tags: string[], primaryKey = key) => putEntry(s, makeMeta(key, { primaryKey, url, tags }), body);
      await put('a#gzip', 'http://one.example/videos/2024/a.mp4', ['video', 'y2024'], 'a');
      await put('a#br', 'http://one.example/videos/2024/a.mp4', ['video', 'y2024'], 'a');
      await put('b', 'http://one.example/videos/2023/b.mp4', ['video']);
      await put('c', 'http://two.example/videos/2024/c.mp4', ['y2024']);
      await put('d', 'http://two.example/index.html?x=1', []);
      await put('e', 'http://one.example/index.html?x=1', ['home']);
    }
    async function present(s: Store): Promise<string[]> {
      const out: string[] = [];
      for (const k of ['a#gzip', 'a#br', 'b', 'c', 'd', 'e']) if (await s.get(k)) out.push(k);
      return out;
    }

    test('purge by primary key takes every variant of it, and nothing else', async () => {
      await withStore(big, async (s, t) => {
        await purgeFixture(s);
        assert.equal(await s.purge(selector({ primaryKeys: ['a', 'nothing'] })), 2);
        await t.settle();
        assert.deepEqual(await present(s), ['b', 'c', 'd', 'e']);
        assert.deepEqual(s.variants('a'), []);
        assert.equal(await s.purge(selector({ primaryKeys: ['a'] })), 0, 'a second purge finds nothing');
      });
    });

    test('purge by path matches it under every host; by path prefix and URL prefix', async () => {
      await withStore(big, async (s, t) => {
        await purgeFixture(s);
        assert.equal(await s.purge(selector({ paths: ['/index.html?x=1', '/index.html'] })), 2);
        assert.deepEqual(await present(s), ['a#gzip', 'a#br', 'b', 'c']);
        assert.equal(await s.purge(selector({ urlPrefixes: ['http://one.example/videos/2024/'] })), 2);
        assert.deepEqual(await present(s), ['b', 'c']);
        assert.equal(await s.purge(selector({ pathPrefixes: ['/videos/'] })), 2);
        await t.settle();
        assert.deepEqual(await present(s), []);
      });
    });

    test('overlapping prefixes count each entry once; a prefix need not end at a "/"', async () => {
      await withStore(big, async (s, t) => {
        await purgeFixture(s);
        assert.equal(await s.purge(selector({ pathPrefixes: ['/zzz', 'videos/'] })), 0, 'nothing under them (a path prefix without "/" matches no path)');
        assert.equal(await s.purge(selector({ urlPrefixes: ['http://one.example/videos/'], pathPrefixes: ['/videos/2024/', '/vid'] })), 4);
        assert.deepEqual(await present(s), ['d', 'e']);
        assert.equal(await s.purge(selector({ pathPrefixes: ['/index.html'] })), 2, 'counted while the first ban is still pending');
        assert.equal(await s.purge(selector({ pathPrefixes: ['/'] })), 0);
        await t.settle();
        assert.deepEqual(await present(s), []);
      });
    });

    test('purge by tag takes every entry carrying any of the tags; all takes everything', async () => {
      await withStore(big, async (s, t) => {
        await purgeFixture(s);
        assert.equal(await s.purge(selector({ tags: ['y2024', 'no-such-tag'] })), 3);
        assert.deepEqual(await present(s), ['b', 'd', 'e']);
        assert.equal(await s.purge(selector({ tags: ['y2024'] })), 0, 'the tag index forgot purged entries');
        assert.equal(await s.purge(selector({ all: true })), 3);
        await t.settle();
        assert.deepEqual(await present(s), []);
        for (const st of tierStats(s)) assert.equal(st.items, 0);
      });
    });

    test('a one-tag purge counts each entry once, and not those an earlier purge took', async () => {
      await withStore(big, async (s, t) => {
        await purgeFixture(s);
        assert.equal(await s.purge(selector({ tags: ['video'] })), 3);
        assert.equal(await s.purge(selector({ tags: ['y2024'] })), 1, 'counted while the first ban may still be pending: only c is left');
        assert.equal(await s.purge(selector({ tags: ['home'] })), 1);
        await t.settle();
        assert.deepEqual(await present(s), ['d']);
        assert.equal(await s.purge(selector({ tags: ['video'] })), 0, 'the tag index forgot purged entries');
      });
    });

    test('a replaced entry is found by its new tags only', async () => {
      await withStore(big, async (s) => {
        await putEntry(s, makeMeta('r', { tags: ['old'] }), Buffer.from('one'));
        await putEntry(s, makeMeta('r', { tags: ['new'] }), Buffer.from('two'));
        assert.equal(await s.purge(selector({ tags: ['old'] })), 0);
        const stored = (await s.get('r'))!.meta;
        await s.update({ ...stored, tags: ['newer'] });
        assert.equal(await s.purge(selector({ tags: ['new'] })), 0, 'update() retags');
        assert.equal(await s.purge(selector({ tags: ['newer'] })), 1);
      });
    });

    test('soft purge keeps the entries and their bodies, with metadata from the expire policy', async () => {
      await withStore(big, async (s, t) => {
        await purgeFixture(s);
        assert.equal(await s.purge(selector({ tags: ['video'] }), { softAtMs: 1234 }), 3);
        await t.settle();
        assert.deepEqual(await present(s), ['a#gzip', 'a#br', 'b', 'c', 'd', 'e']);
        for (const k of ['a#gzip', 'a#br', 'b']) {
          const e = (await s.get(k))!;
          assert.equal(e.meta.cacheControl, 'soft-purged-at=1234', k);
          assert.equal(e.meta.freshnessLifetimeS, 0);
          assert.equal((await readBody(e.body)).toString(), 'purge me');
        }
        assert.equal((await s.get('c'))!.meta.freshnessLifetimeS, 600, 'unmatched entries untouched');
        assert.equal(await s.purge(selector({ tags: ['video'] })), 3, 'soft-purged entries still carry their tags');
      });
    });
  });
}
