// A variant being made (pipeline/variants.ts) is joined by later clients of the
// same variant only when they would make it from the same body: a client of a
// newer body (here: stored after a POST invalidated the URI) makes its own, and
// never gets the old body's bytes under the new one's name.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import zlib from 'node:zlib';
import { request as undiciRequest } from 'undici';
import { startHarness } from '../fixtures/harness.js';

function page(n: number, tag: string): string {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `<div class="row r${i % 17}"><span>${tag} item ${i}</span></div>\n`;
  return s.slice(0, n);
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_r, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref())]);
}

test('a br client of a body stored after a POST does not join the br variant still being made from the body before it', async () => {
  const V1 = page(40_000, 'v1');
  const V2 = page(40_000, 'v2');
  let version = 1;
  let rest: (() => void) | undefined;
  const h = await startHarness((req, res: ServerResponse) => {
    if (req.method === 'POST') {
      version = 2;
      return void res.writeHead(201, { 'content-length': '0' }).end();
    }
    const fields = { 'content-type': 'text/html', 'cache-control': 'max-age=600' };
    if (version === 2) return void res.writeHead(200, { ...fields, etag: '"v2"', 'content-length': V2.length }).end(V2);
    // The first body comes in two parts, the second when the test says.
    res.writeHead(200, { ...fields, etag: '"v1"', 'content-length': V1.length });
    res.write(V1.slice(0, 1000));
    rest = () => res.end(V1.slice(1000));
  });
  try {
    const leader = h.get('/m');
    leader.catch(() => undefined);
    await h.until(() => rest !== undefined, 'the first body under way');
    const joined = h.node.stats.counters.joined;
    // Joins the fetch, and starts the br variant made from the first body.
    const first = h.get('/m', { 'accept-encoding': 'br' });
    first.catch(() => undefined);
    await h.until(() => h.node.stats.counters.joined === joined + 1 && h.node.stats.counters.compressed === 1, 'the br variant of the first body being made');

    assert.equal((await h.get('/m', {}, 'POST', 'x')).status, 201);
    const fresh = await h.get('/m');
    assert.equal(fresh.text, V2);
    await h.stored(1);

    // A hit on the new body: its br variant made from it, not the one in flight from the old body
    // (whose client would get nothing until the old body goes on).
    const asked = undiciRequest(h.base + '/m', { headers: { 'accept-encoding': 'br' } });
    asked.catch(() => undefined);
    const later = await within(asked, 3000, 'the answer to a br client of the new body');
    rest!();
    const body = Buffer.from(await later.body.arrayBuffer());
    assert.equal(later.headers['etag'], 'W/"v2-br"');
    assert.equal(zlib.brotliDecompressSync(body).toString(), V2, "the new body's bytes");
    assert.equal(h.node.stats.counters.compressed, 2);

    assert.equal((await leader).text, V1, 'begun before the POST: its own answer');
    assert.equal(zlib.brotliDecompressSync((await first).body).toString(), V1);
  } finally {
    rest?.();
    await h.close();
  }
});
