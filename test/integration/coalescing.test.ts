// Request coalescing (collapsed forwarding): one origin request per key however
// many clients ask at once; followers get the bytes as they arrive; unshareable
// answers send followers to the origin and put the key in hit-for-pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { Agent, request } from 'undici';
import { startHarness, fixed, type Harness } from '../fixtures/harness.js';

/** An origin that holds each response until the test releases it. */
function heldOrigin() {
  const waiting: ServerResponse[] = [];
  return {
    waiting,
    handler: (_req: unknown, res: ServerResponse) => {
      waiting.push(res);
    },
  };
}

async function joinedBy(h: Harness, n: number): Promise<void> {
  // Joined now; counted as collapsed only once answered from the fetch (their outcome).
  await h.until(() => h.node.stats.counters.joined >= n, `${n} requests joined`);
}

test('1,000 concurrent clients for one cold key: one origin request, 1,000 identical bodies', async () => {
  const body = Buffer.alloc(64 * 1024, 'c');
  const held = heldOrigin();
  const h = await startHarness(held.handler);
  const agent = new Agent({ connections: 1000 });
  try {
    const replies = Array.from({ length: 1000 }, () =>
      request(h.base + '/herd', { dispatcher: agent }).then(async (r) => ({
        status: r.statusCode,
        cacheStatus: String(r.headers['cache-status']),
        body: Buffer.from(await r.body.arrayBuffer()),
      })),
    );
    // Every request has reached the node and is waiting on the one fetch.
    await joinedBy(h, 999);
    assert.equal(h.origin.count('/herd'), 1);
    held.waiting[0]!.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': body.length });
    held.waiting[0]!.end(body);
    const all = await Promise.all(replies);
    assert.equal(all.filter((r) => r.status === 200 && r.body.equals(body)).length, 1000);
    assert.equal(h.origin.count('/herd'), 1);
    assert.equal(all.filter((r) => /fwd=uri-miss; fwd-status=200; stored; collapsed/.test(r.cacheStatus)).length, 999);
    assert.equal(all.filter((r) => !r.cacheStatus.includes('collapsed')).length, 1, 'the leader is not marked collapsed');
    assert.equal(h.node.stats.counters.collapsed, 999, 'counted from the outcomes: as many as Cache-Status says');
  } finally {
    await agent.close();
    await h.close();
  }
});

test("followers receive the first bytes before the origin has finished the body", async () => {
  const held = heldOrigin();
  const h = await startHarness(held.handler);
  try {
    const leader = request(h.base + '/live');
    await h.until(() => held.waiting.length === 1, 'the origin request');
    const follower = request(h.base + '/live');
    await joinedBy(h, 1);
    const origin = held.waiting[0]!;
    origin.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': 10 });
    origin.write('first');
    const res = await follower;
    const it = res.body[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(Buffer.from(first.value as Buffer).toString(), 'first', 'the follower has the first half while the origin is still sending');
    assert.equal(origin.writableEnded, false);
    origin.end('-last');
    let rest = '';
    for (let n = await it.next(); !n.done; n = await it.next()) rest += Buffer.from(n.value as Buffer).toString();
    assert.equal(rest, '-last');
    assert.equal(await (await leader).body.text(), 'first-last');
    assert.equal(h.origin.count('/live'), 1);
  } finally {
    await h.close();
  }
});

test('the origin dies mid-body: no follower gets a body that looks complete, nothing is stored', async () => {
  const held = heldOrigin();
  const h = await startHarness(held.handler);
  try {
    const clients = Array.from({ length: 6 }, () =>
      request(h.base + '/dies').then(
        async (r) => {
          await r.body.arrayBuffer();
          return 'complete';
        },
        () => 'error',
      ).catch(() => 'error'),
    );
    await joinedBy(h, 5);
    const origin = held.waiting[0]!;
    origin.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': 100_000 });
    origin.write(Buffer.alloc(20_000, 1));
    setImmediate(() => origin.socket?.destroy());
    const results = await Promise.all(clients.map((c) => c.catch(() => 'error')));
    assert.deepEqual(results, Array(6).fill('error'));
    assert.equal(h.node.stats.counters.stored, 0);
    h.origin.setHandler(fixed('whole', { 'cache-control': 'max-age=600' }));
    const next = await h.get('/dies');
    assert.equal(next.text, 'whole');
    assert.match(next.headers['cache-status']!, /fwd=uri-miss/);
  } finally {
    await h.close();
  }
});

test('a response that cannot be shared sends the followers to the origin; the key then goes hit-for-pass', async () => {
  const held = heldOrigin();
  const h = await startHarness(held.handler);
  try {
    const first = Array.from({ length: 4 }, () => h.get('/private'));
    await joinedBy(h, 3);
    held.waiting.shift()!.writeHead(200, { 'cache-control': 'private', 'content-length': 6 }).end('leader');
    // The three followers each ask the origin themselves.
    await h.until(() => held.waiting.length === 3, 'the followers at the origin');
    for (const res of held.waiting.splice(0)) res.writeHead(200, { 'cache-control': 'private', 'content-length': 3 }).end('own');
    const replies = await Promise.all(first);
    assert.deepEqual(replies.map((r) => r.text).sort(), ['leader', 'own', 'own', 'own']);
    assert.equal(replies.filter((r) => /collapsed/.test(r.headers['cache-status']!)).length, 0, 'followers sent alone are not marked collapsed');

    // Hit-for-pass: while one request is at the origin, another does not queue behind it.
    const a = h.get('/private');
    await h.until(() => held.waiting.length === 1, 'the first request at the origin');
    const b = h.get('/private');
    await h.until(() => held.waiting.length === 2, 'the second request at the origin, not queued');
    for (const res of held.waiting.splice(0)) res.writeHead(200, { 'cache-control': 'private', 'content-length': 2 }).end('ok');
    assert.deepEqual([(await a).text, (await b).text], ['ok', 'ok']);
    // They joined, then fetched alone: not collapsed (issue 15: the counter follows the outcome).
    assert.deepEqual([h.node.stats.counters.joined, h.node.stats.counters.collapsed], [3, 0]);

    // Past the hit-for-pass window, requests collapse again.
    h.clock.advance(121_000);
    const c = h.get('/private');
    await h.until(() => held.waiting.length === 1, 'the request at the origin');
    const d = h.get('/private');
    await joinedBy(h, 4);
    held.waiting.shift()!.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': 6 }).end('shared');
    assert.deepEqual([(await c).text, (await d).text], ['shared', 'shared']);
  } finally {
    await h.close();
  }
});

test('a follower whose Vary values differ fetches its own variant', async () => {
  const held = heldOrigin();
  const h = await startHarness(held.handler);
  try {
    const en = h.get('/v', { 'accept-language': 'en' });
    await h.until(() => held.waiting.length === 1, 'the first request at the origin');
    const fr = h.get('/v', { 'accept-language': 'fr' });
    await joinedBy(h, 1);
    held.waiting.shift()!.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language', 'content-length': 5 }).end('hello');
    await h.until(() => held.waiting.length === 1, 'the follower at the origin');
    const req = h.origin.requests.at(-1)!;
    assert.equal(req.headers['accept-language'], 'fr');
    held.waiting.shift()!.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language', 'content-length': 7 }).end('bonjour');
    assert.equal((await en).text, 'hello');
    assert.equal((await fr).text, 'bonjour');
  } finally {
    await h.close();
  }
});

test('revalidations of one stale entry are coalesced into one conditional request', async () => {
  let version = 0;
  const h = await startHarness((req, res) => {
    if (req.headers['if-none-match'] === '"v1"') {
      version++;
      // Answer only when every client is waiting on this revalidation.
      const answer = () => res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=10' }).end();
      h.until(() => h.node.stats.counters.joined >= 49, '49 revalidations joined').then(answer, answer);
      return;
    }
    res.writeHead(200, { etag: '"v1"', 'cache-control': 'max-age=10', 'content-length': 4 }).end('body');
  });
  try {
    await h.get('/rv');
    h.clock.advance(20_000);
    const replies = await Promise.all(Array.from({ length: 50 }, () => h.get('/rv')));
    assert.equal(version, 1, 'one conditional request for fifty stale requests');
    assert.equal(replies.filter((r) => r.status === 200 && r.text === 'body').length, 50);
    assert.equal(replies.filter((r) => /fwd=stale; fwd-status=304; stored; collapsed/.test(r.headers['cache-status']!)).length, 49);
    const fresh = await h.get('/rv');
    assert.match(fresh.headers['cache-status']!, /; hit/);
  } finally {
    await h.close();
  }
});

test("the leader's client leaves: the fetch goes on for the follower and the fill", async () => {
  const held = heldOrigin();
  const h = await startHarness(held.handler, { logLevel: 'info' });
  try {
    const ac = new AbortController();
    const leader = request(h.base + '/leave', { signal: ac.signal });
    await h.until(() => held.waiting.length === 1, 'the origin request');
    const follower = h.get('/leave');
    await joinedBy(h, 1);
    const origin = held.waiting[0]!;
    origin.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': 8 });
    origin.write('half');
    const lr = await leader;
    ac.abort();
    await lr.body.arrayBuffer().catch(() => undefined);
    await h.logged((l) => l['msg'] === 'access' && l['aborted'] === true);
    origin.end('-end');
    assert.equal((await follower).text, 'half-end');
    await h.stored(1);
    const hit = await h.get('/leave');
    assert.match(hit.headers['cache-status']!, /; hit/);
    assert.equal(h.origin.count('/leave'), 1);
  } finally {
    await h.close();
  }
});

test('every client of an unstorable fetch leaves: the origin transfer is stopped', async () => {
  const held = heldOrigin();
  const h = await startHarness(held.handler);
  try {
    const ac = new AbortController();
    const client = request(h.base + '/gone', { signal: ac.signal });
    await h.until(() => held.waiting.length === 1, 'the origin request');
    const origin = held.waiting[0]!;
    origin.writeHead(200, { 'cache-control': 'no-store', 'content-length': 10_000_000 });
    origin.write(Buffer.alloc(64 * 1024));
    const r = await client;
    ac.abort();
    await r.body.arrayBuffer().catch(() => undefined);
    await once(origin, 'close');
    assert.equal(origin.writableFinished, false, 'the origin connection was closed before the body was sent');
  } finally {
    await h.close();
  }
});

test('an origin error is shared with the followers rather than multiplied', async () => {
  const held = heldOrigin();
  const h = await startHarness(held.handler);
  try {
    const replies = Array.from({ length: 5 }, () => h.get('/err'));
    await joinedBy(h, 4);
    held.waiting.shift()!.writeHead(503, { 'content-length': 4 }).end('down');
    const all = await Promise.all(replies);
    assert.deepEqual(all.map((r) => r.status), [503, 503, 503, 503, 503]);
    assert.equal(h.origin.count('/err'), 1);
  } finally {
    await h.close();
  }
});

test('requests carrying Authorization or no-store are never collapsed', async () => {
  const held = heldOrigin();
  const h = await startHarness(held.handler);
  try {
    const a = h.get('/auth');
    await h.until(() => held.waiting.length === 1, 'the first request');
    const b = h.get('/auth', { authorization: 'Bearer x' });
    const c = h.get('/auth', { 'cache-control': 'no-store' });
    await h.until(() => held.waiting.length === 3, 'each request at the origin');
    for (const res of held.waiting.splice(0)) res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': 2 }).end('ok');
    await Promise.all([a, b, c]);
    assert.deepEqual([h.node.stats.counters.joined, h.node.stats.counters.collapsed], [0, 0]);
  } finally {
    await h.close();
  }
});

test('issue 14 #4: an unstorable error page for a request with credentials is not shared with followers carrying other credentials', async () => {
  const waiting: { cookie: string; res: ServerResponse }[] = [];
  const h = await startHarness((req, res) => {
    waiting.push({ cookie: String(req.headers.cookie ?? ''), res });
  });
  const errorPage = (w: { cookie: string; res: ServerResponse }) => {
    const body = `error page for ${w.cookie}`;
    w.res.writeHead(500, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }).end(body);
  };
  try {
    const alice = h.get('/err-cookie', { cookie: 's=alice' });
    await h.until(() => waiting.length === 1, "alice's request at the origin");
    const bob = h.get('/err-cookie', { cookie: 's=bob' });
    await joinedBy(h, 1);
    errorPage(waiting.shift()!);
    // Bob's request goes to the origin itself rather than taking alice's page.
    await h.until(() => waiting.length === 1, "bob's own request at the origin");
    assert.equal(waiting[0]!.cookie, 's=bob');
    errorPage(waiting.shift()!);
    const [a, b] = await Promise.all([alice, bob]);
    assert.deepEqual([a.status, a.text], [500, 'error page for s=alice']);
    assert.deepEqual([b.status, b.text], [500, 'error page for s=bob']);
    assert.equal(h.origin.count('/err-cookie'), 2);

    // Without credentials, the error is still shared: one origin request.
    const plain = Array.from({ length: 3 }, () => h.get('/err-plain'));
    await joinedBy(h, 3);
    errorPage(waiting.shift()!);
    const all = await Promise.all(plain);
    assert.deepEqual(all.map((r) => r.text), ['error page for ', 'error page for ', 'error page for ']);
    assert.equal(h.origin.count('/err-plain'), 1);
  } finally {
    await h.close();
  }
});

test("RFC 9111 §4.3.4 a 304's Set-Cookie reaches the client whose request caused it (storeSetCookie), never a follower nor a later hit", async () => {
  const waiting: ServerResponse[] = [];
  const h = await startHarness(
    (req, res) => {
      if (req.headers['if-none-match'] === undefined) return fixed('page', { etag: '"a"', 'cache-control': 'max-age=10', 'set-cookie': 'sid=first' })(req, res, Buffer.alloc(0));
      waiting.push(res);
    },
    { cache: { storeSetCookie: true } },
  );
  try {
    assert.equal((await h.get('/sc304')).headers['set-cookie'], 'sid=first');
    await h.stored(1);
    h.clock.advance(20_000);
    const leader = h.get('/sc304');
    await h.until(() => waiting.length === 1, 'the revalidation');
    const follower = h.get('/sc304');
    await joinedBy(h, 1);
    waiting[0]!.writeHead(304, { etag: '"a"', 'cache-control': 'max-age=10', 'set-cookie': 'sid=new', 'x-extra': 'yes' }).end();
    const [a, b] = await Promise.all([leader, follower]);
    assert.equal(`${a.status} ${a.text}`, '200 page');
    assert.match(a.headers['cache-status']!, /fwd=stale; fwd-status=304; stored/);
    assert.equal(a.headers['set-cookie'], 'sid=new', "the 304's Set-Cookie is its client's answer");
    assert.equal(`${b.status} ${b.text}`, '200 page');
    assert.match(b.headers['cache-status']!, /collapsed/);
    assert.equal(b.headers['set-cookie'], undefined, "another client's cookie is never passed on");
    assert.equal(b.headers['x-extra'], 'yes', 'the refreshed fields are shared');
    const hit = await h.get('/sc304');
    assert.match(hit.headers['cache-status']!, /; hit/);
    assert.equal(hit.headers['set-cookie'], undefined, 'the stored entry holds no Set-Cookie');
    assert.equal(hit.headers['x-extra'], 'yes');
    assert.equal(h.origin.count('/sc304'), 2);
  } finally {
    await h.close();
  }
});

test("a follower gets what a hit would carry: not the leader's Set-Cookie, nor the fields private=\"...\" names", async () => {
  const held = heldOrigin();
  const h = await startHarness(held.handler, { cache: { storeSetCookie: true } });
  try {
    const read = (r: Awaited<ReturnType<typeof request>>) => r.body.text().then((body) => ({ headers: r.headers, body }));
    const leader = request(h.base + '/me', { headers: { cookie: 'who=alice' } }).then(read);
    await h.until(() => held.waiting.length === 1, 'the origin request');
    const follower = request(h.base + '/me', { headers: { cookie: 'who=bob' } }).then(read);
    await joinedBy(h, 1);
    held.waiting[0]!.writeHead(200, { 'cache-control': 'max-age=60, private="x-user"', 'set-cookie': 'sess=alice', 'x-user': 'alice', 'x-shared': 'yes', 'content-length': 4 });
    held.waiting[0]!.end('page');
    const [a, b] = await Promise.all([leader, follower]);
    assert.equal(a.headers['set-cookie'], 'sess=alice', 'the leader gets its own answer whole');
    assert.equal(a.headers['x-user'], 'alice');
    assert.equal(b.body, 'page');
    assert.match(String(b.headers['cache-status']), /collapsed/);
    assert.equal(b.headers['set-cookie'], undefined, "another client's cookie is never passed on");
    assert.equal(b.headers['x-user'], undefined, 'a field private="..." names is not shared');
    assert.equal(b.headers['x-shared'], 'yes');
    const hit = await request(h.base + '/me').then(read);
    assert.match(String(hit.headers['cache-status']), /hit/);
    assert.equal(hit.headers['set-cookie'], undefined);
    assert.equal(hit.headers['x-user'], undefined);
    assert.equal(h.origin.count('/me'), 1);
  } finally {
    await h.close();
  }
});
