// Clients that joined a fetch but could not use its answer — another Vary variant,
// or a body being stored whose start the window had already released — fetch
// again. They must not each go to the origin: those of one variant share one
// fetch of their own (a herd of 1,000 French readers behind one English one made
// 1,000 origin requests and 1,000 fills of one entry).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import { startHarness } from '../fixtures/harness.js';

/** An origin that holds each response until the test releases it. */
function heldOrigin() {
  const waiting: { req: IncomingMessage; res: ServerResponse }[] = [];
  return { waiting, handler: (req: IncomingMessage, res: ServerResponse) => void waiting.push({ req, res }) };
}

test('followers of another Vary variant than the answer share one fetch of their own variant', async () => {
  const held = heldOrigin();
  const h = await startHarness(held.handler);
  try {
    const en = h.get('/lang', { 'accept-language': 'en' });
    await h.until(() => held.waiting.length === 1, 'the first request at the origin');
    const fr = Array.from({ length: 20 }, () => h.get('/lang', { 'accept-language': 'fr' }));
    await h.until(() => h.node.stats.counters.joined >= 20, '20 requests joined');
    const answer = (o: { req: IncomingMessage; res: ServerResponse }) => {
      const lang = String(o.req.headers['accept-language']);
      o.res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language', 'content-length': lang.length }).end(lang);
    };
    answer(held.waiting.shift()!);
    await h.until(() => held.waiting.length === 1, 'the French request at the origin');
    // Every French follower is on that one fetch before the origin answers it.
    await h.until(() => h.node.stats.counters.joined >= 39, 'the French followers joined the French fetch');
    answer(held.waiting.shift()!);
    assert.equal((await en).text, 'en');
    const replies = await Promise.all(fr);
    assert.deepEqual(replies.map((r) => r.text), Array(20).fill('fr'));
    assert.equal(h.origin.count('/lang'), 2, 'one fetch per variant');
    assert.equal(replies.filter((r) => /collapsed/.test(r.headers['cache-status']!)).length, 19);
    assert.equal(h.node.stats.counters.stored, 2);
    assert.equal(held.waiting.length, 0);
  } finally {
    await h.close();
  }
});

test('clients that join after the start of a stored body was released share one fetch, not one each', async () => {
  const held = heldOrigin();
  const h = await startHarness(held.handler, { coalesce: { windowBytes: 64 * 1024 }, cache: { memoryMaxObjectBytes: 1024 } });
  const body = Buffer.alloc(1024 * 1024, 'b');
  const read = (r: Awaited<ReturnType<typeof request>>) => r.body.arrayBuffer().then((b) => Buffer.from(b));
  try {
    const firstRes = request(h.base + '/late');
    await h.until(() => held.waiting.length === 1, 'the first request at the origin');
    const origin = held.waiting[0]!.res;
    origin.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': body.length, 'content-type': 'application/octet-stream' });
    // Past the window: the body's start is released once the fill and the first client have it.
    origin.write(body.subarray(0, 512 * 1024));
    // The first client has read it: the window has moved on.
    const chunks: Buffer[] = [];
    let got = 0;
    const it = (await firstRes).body[Symbol.asyncIterator]();
    while (got < 512 * 1024) {
      const c = (await it.next()).value as Buffer;
      chunks.push(c);
      got += c.length;
    }
    const first = (async () => {
      for (let n = await it.next(); !n.done; n = await it.next()) chunks.push(n.value as Buffer);
      return Buffer.concat(chunks);
    })();
    const late = Array.from({ length: 8 }, () => request(h.base + '/late').then(read));
    await h.until(() => held.waiting.length === 2, 'a second fetch');
    await h.until(() => h.node.stats.counters.joined >= 15, 'the late clients joined (the first fetch, then the second)');
    // The first response ends, and its client has it whole, before the second is answered. Answered the
    // other way round, the first fill is not stored (a newer body of the key was), and a first client that
    // a loaded machine made fall behind the window (detached to resume from its fill's stored copy) is cut.
    origin.end(body.subarray(512 * 1024));
    assert.ok((await first).equals(body));
    held.waiting[1]!.res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': body.length, 'content-type': 'application/octet-stream' }).end(body);
    for (const b of await Promise.all(late)) assert.ok(b.equals(body));
    assert.equal(h.origin.count('/late'), 2, 'the late clients made one origin request between them');
  } finally {
    await h.close();
  }
});
