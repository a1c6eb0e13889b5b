// Purging through a running node (invariant 7): POST /purge on the admin listener
// and PURGE on the main listener, every form and every refusal. Races, restarts
// and failures: purge-races.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchReply, startHarness } from '../fixtures/harness.js';
import { TOKEN, withToken, site, purge, json, taggedOrigin, warm, isHit } from './purge-node.js';

test('POST /purge by absolute URL, by path, by prefix, by tag and everything; purged entries are refetched, the rest stay', async () => {
  const h = await startHarness(taggedOrigin, withToken);
  try {
    const paths = ['/videos/2024/a.mp4', '/videos/2024/b.mp4', '/videos/2023/c.mp4', '/p/42', '/p/43', '/index.html?lang=en', '/about'];
    await warm(h, paths);
    // Another host name for the same site: a path purge takes it too, an absolute URL does not.
    await warm(h, ['/about'], { host: 'www.site.example' });

    let r = await purge(h, { urls: ['http://site.example/about'] });
    assert.equal(r.status, 200);
    assert.deepEqual(json(r), { purged: 1, soft: false, urls: 1, ms: json(r)['ms'] });
    assert.equal(await isHit(h, '/about'), false);
    assert.equal(await isHit(h, '/about', { host: 'www.site.example' }), true, 'other host untouched by an absolute URL');

    r = await purge(h, { urls: ['/about', '/index.html?lang=en'] });
    assert.equal(json(r)['purged'], 3, 'a path purges it under every host');
    assert.equal(await isHit(h, '/about', { host: 'www.site.example' }), false);
    assert.equal(await isHit(h, '/index.html?lang=en'), false);

    r = await purge(h, { prefixes: ['/videos/2024/'] });
    assert.equal(json(r)['purged'], 2);
    assert.equal(await isHit(h, '/videos/2024/a.mp4'), false);
    assert.equal(await isHit(h, '/videos/2023/c.mp4'), true);

    r = await purge(h, { tags: ['product-42'] });
    assert.equal(json(r)['purged'], 1, 'Cache-Tag');
    assert.equal(await isHit(h, '/p/42'), false);
    assert.equal(await isHit(h, '/p/43'), true);
    r = await purge(h, { tags: ['y2023'] });
    assert.equal(json(r)['purged'], 1, 'Surrogate-Key');
    assert.equal(await isHit(h, '/videos/2023/c.mp4'), false);

    await h.stored(h.node.stats.counters.misses);
    const items = h.node.store().stats()['memory']!.items;
    r = await purge(h, { all: true });
    assert.equal(json(r)['purged'], items, 'every entry (all small enough for memory), counted once');
    await h.node.store().flush();
    assert.equal(h.node.store().stats()['memory']!.items, 0);
    assert.equal(h.node.store().stats()['disk']!.items, 0);
    for (const p of paths) assert.equal(await isHit(h, p), false, `${p} refetched after purging everything`);
    assert.equal(h.node.stats.counters.purges, 6);
  } finally {
    await h.close();
  }
});

test('soft purge: the entry stays but is revalidated on next use (304), then served fresh again', async () => {
  const h = await startHarness(taggedOrigin, withToken);
  try {
    await warm(h, ['/p/1', '/p/2']);
    const r = await purge(h, { tags: ['product-1'], soft: true });
    assert.equal(r.status, 200);
    assert.equal(json(r)['purged'], 1);
    assert.equal(json(r)['soft'], true);
    await h.node.store().flush();
    assert.equal(h.node.store().stats()['disk']!.items, 2, 'soft: nothing removed, disk writes still landing land');

    const requestsBefore = h.origin.count('/p/1');
    const next = await h.get('/p/1', site);
    assert.equal(next.text, 'body of /p/1');
    assert.match(next.headers['cache-status']!, /fwd=stale; fwd-status=304/);
    assert.equal(h.origin.count('/p/1'), requestsBefore + 1);
    assert.equal(h.origin.requests.at(-1)!.headers['if-none-match'], '"/p/1"', 'revalidated, not refetched');
    assert.equal(await isHit(h, '/p/1'), true, 'fresh again after the 304');
    assert.equal(await isHit(h, '/p/2'), true, 'untagged entry untouched');
  } finally {
    await h.close();
  }
});

test('PURGE on the main listener: one URL with every variant; Surrogate-Key / Cache-Tag headers purge tags instead', async () => {
  const h = await startHarness((req, res) => {
    const body = `${req.url} for ${req.headers['accept-language'] ?? '-'}`;
    res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'accept-language', 'surrogate-key': req.url === '/tagged' ? 'group-a' : 'other', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }, withToken);
  const auth = { ...site, authorization: `Bearer ${TOKEN}` };
  try {
    for (const lang of ['en', 'fr']) await h.get('/page', { ...site, 'accept-language': lang });
    await h.get('/page2', site);
    await h.get('/tagged', site);
    await h.stored(4);

    let r = await h.get('/page', auth, 'PURGE');
    assert.equal(r.status, 200);
    assert.equal(json(r)['purged'], 2, 'both variants');
    assert.match(r.headers['cache-status']!, /fwd=bypass; detail=purge/);
    assert.equal(h.origin.requests.filter((q) => q.method === 'PURGE').length, 0, 'never forwarded');
    const again = await h.get('/page', { ...site, 'accept-language': 'fr' });
    assert.match(again.headers['cache-status']!, /fwd=uri-miss/);
    assert.match((await h.get('/page2', site)).headers['cache-status']!, /; hit/);

    r = await h.get('/anything', { ...auth, 'surrogate-key': 'group-a group-b' }, 'PURGE');
    assert.equal(json(r)['purged'], 1);
    assert.match((await h.get('/tagged', site)).headers['cache-status']!, /fwd=uri-miss/);
    r = await h.get('/anything', { ...auth, 'cache-tag': 'nothing,other' }, 'PURGE');
    assert.equal(json(r)['purged'], 2, '/page (fr, refetched) and /page2 carry "other"');
  } finally {
    await h.close();
  }
});

test('refusals: no token configured, missing or wrong token, bad bodies, a body over 1 MiB, GET /purge; nothing is purged', async () => {
  const off = await startHarness(taggedOrigin);
  try {
    await warm(off, ['/a']);
    for (const r of [await purge(off, { all: true }), await off.get('/a', { ...site, authorization: 'Bearer x' }, 'PURGE')]) {
      assert.equal(r.status, 403);
      assert.equal(json(r)['error'], 'PURGE_DISABLED');
      assert.match(String(json(r)['message']), /admin\.token/);
    }
    assert.equal(await isHit(off, '/a'), true);
  } finally {
    await off.close();
  }

  const h = await startHarness(taggedOrigin, withToken);
  try {
    await warm(h, ['/a']);
    const unauthorised = [
      await purge(h, { all: true }, {}),
      await purge(h, { all: true }, { authorization: `Bearer ${TOKEN}x` }),
      await purge(h, { all: true }, { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` }),
      await h.get('/a', site, 'PURGE'),
      await h.get('/a', { ...site, authorization: 'Bearer nope' }, 'PURGE'),
    ];
    for (const r of unauthorised) {
      assert.equal(r.status, 401);
      assert.equal(json(r)['error'], 'UNAUTHORIZED');
      assert.match(r.headers['www-authenticate']!, /^Bearer/);
    }
    const bad: [string, RegExp][] = [
      ['{"urls": [', /not valid JSON/],
      ['{"urls": ["/a"], "everything": true}', /unknown field "everything"/],
      ['{"tags": "product-1"}', /"tags" must be an array of strings/],
      ['{"all": 1}', /"all" must be true or false/],
      ['{"urls": ["a.html"]}', /urls\[0\]: "a.html" is neither/],
    ];
    for (const [body, why] of bad) {
      const r = await purge(h, body);
      assert.equal(r.status, 400, body);
      assert.equal(json(r)['error'], 'PURGE_BAD_REQUEST');
      assert.match(String(json(r)['message']), why);
    }
    const huge = JSON.stringify({ urls: Array.from({ length: 80_000 }, (_, i) => `/item/${i}`) });
    assert.ok(huge.length > 2 ** 20);
    const tooLarge = await purge(h, huge);
    assert.equal(tooLarge.status, 413);
    assert.equal(json(tooLarge)['error'], 'PAYLOAD_TOO_LARGE');
    const wrongMethod = await fetchReply(h.admin + '/purge');
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers['allow'], 'POST');

    assert.equal(await isHit(h, '/a'), true, 'nothing was purged');
    assert.equal(h.node.stats.counters.purges, 0);
    // The listener still works after the refusals.
    assert.equal(json(await purge(h, { urls: ['/a'] }))['purged'], 1);
  } finally {
    await h.close();
  }
});

test('tag fields are not passed to clients unless purge.passTagHeaders is on', async () => {
  for (const pass of [false, true]) {
    const h = await startHarness(taggedOrigin, { purge: { passTagHeaders: pass } });
    try {
      for (const path of ['/videos/2024/x', '/p/7']) {
        const miss = await h.get(path, site);
        await h.stored(h.node.stats.counters.misses);
        const hit = await h.get(path, site);
        assert.match(hit.headers['cache-status']!, /; hit/);
        for (const r of [miss, hit]) {
          const field = path.startsWith('/p/') ? 'cache-tag' : 'surrogate-key';
          assert.equal(r.headers[field] !== undefined, pass, `${field} on ${path}, passTagHeaders=${pass}`);
        }
      }
    } finally {
      await h.close();
    }
  }
});

test('PURGE with a Surrogate-Key or Cache-Tag field that names no tag is refused (400), not taken as a purge of the URL', async () => {
  const h = await startHarness(taggedOrigin, withToken);
  const auth = { ...site, authorization: `Bearer ${TOKEN}` };
  try {
    await warm(h, ['/p/1']);
    for (const [field, value] of [['surrogate-key', ''], ['surrogate-key', ' '], ['cache-tag', ','], ['cache-tag', ', ,']] as [string, string][]) {
      const r = await h.get('/p/1', { ...auth, [field]: value }, 'PURGE');
      assert.equal(r.status, 400, `${field}: ${JSON.stringify(value)}`);
      assert.equal(json(r)['error'], 'PURGE_BAD_REQUEST');
      assert.equal(json(r)['message'], 'Surrogate-Key/Cache-Tag names no tag');
    }
    assert.equal(await isHit(h, '/p/1'), true, 'the URL was not purged');
    assert.equal(h.node.stats.counters.purges, 0);
  } finally {
    await h.close();
  }
});

test('selectors no entry can match are refused with 400 naming the problem: tags with commas or edge whitespace, URLs with a space or control character, URLs with userinfo (never echoed)', async () => {
  const h = await startHarness(taggedOrigin, { ...withToken, logLevel: 'info' });
  try {
    await warm(h, ['/p/1', '/a%20b']);
    const bad: [unknown, RegExp][] = [
      [{ tags: ['product-1,catalog'] }, /tags\[0\]: .*comma/],
      [{ tags: ['catalog', ' product-1'] }, /tags\[1\]: .*whitespace/],
      [{ tags: ['product-1 '] }, /tags\[0\]: .*whitespace/],
      [{ tags: ['a\nb'] }, /tags\[0\]: .*control character/],
      [{ urls: ['/a b'] }, /urls\[0\]: .*a space/],
      [{ urls: ['http://site.example/a b'] }, /urls\[0\]: .*a space/],
      [{ urls: ['/p/1\t'] }, /urls\[0\]: .*control character/],
      [{ prefixes: ['/p/ x'] }, /prefixes\[0\]: .*a space/],
      [{ urls: ['http://admin:hunter2pw@site.example/p/1'] }, /urls\[0\]: .*userinfo/],
      [{ prefixes: ['https://admin:hunter2pw@site.example/'] }, /prefixes\[0\]: .*userinfo/],
    ];
    for (const [body, why] of bad) {
      const r = await purge(h, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(json(r)['error'], 'PURGE_BAD_REQUEST');
      assert.match(String(json(r)['message']), why);
      assert.doesNotMatch(r.text, /hunter2pw/, 'the password is not echoed');
    }
    assert.equal(h.node.stats.counters.purges, 0);
    assert.ok(!h.logs.some((l) => JSON.stringify(l).includes('hunter2pw')), 'nor logged');
    assert.equal(await isHit(h, '/p/1'), true);
    // What a key can hold still purges: the encoded form of the space, a space inside a Cache-Tag.
    assert.equal(json(await purge(h, { urls: ['/a%20b'] }))['purged'], 1);
    assert.equal((await purge(h, { tags: ['a b'] })).status, 200);
  } finally {
    await h.close();
  }
});
