// Variants made for one client and not stored (over cache.maxVariants, or for a
// request with no-store) from a shared origin body (review 2): such a variant's
// reader never holds the body back. A client gone before its answer leaves
// nothing reading (no window held, no file open); a slow one is shed like any
// client of a stored response and continues from the stored source.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http, { type IncomingMessage } from 'node:http';
import zlib from 'node:zlib';
import { startHarness, type Harness, type Reply } from '../fixtures/harness.js';
import { getWithin, noisyPage, openFilesUnder } from '../fixtures/stalls.js';

/** A request on its own connection; its answer, unread, once it comes. */
function rawClient(h: Harness, path: string, headers: Record<string, string>): { req: http.ClientRequest; answered: Promise<IncomingMessage | undefined> } {
  const url = new URL(h.base + path);
  const req = http.request({ host: url.hostname, port: url.port, path, agent: false, headers });
  req.on('error', () => undefined);
  req.end();
  const answered = new Promise<IncomingMessage | undefined>((resolve) => {
    req.once('response', resolve);
    req.once('close', () => resolve(undefined));
  });
  return { req, answered };
}

const A = noisyPage(20_000);
// Decoded, far more than the socket buffers between the node and a client that does not read;
// its gzip, far more than the streams a reader left behind would buffer of a stored file.
const B = noisyPage(12_000_000);
const GZ = zlib.gzipSync(B);
const a = { origin: 'https://a.example' };
const b = { origin: 'https://b.example' };

/**
 * `/p` varies on Origin; a.example's identity body and a br variant made of it fill
 * cache.maxVariants (2). b.example's body is gzip, held until `release()`: stored as
 * it comes (in the br variant's place), decoded for b.example clients without gzip
 * (made for them alone: a third variant is over the bound).
 */
async function atTheBound(gz: Buffer, overrides: Parameters<typeof startHarness>[1]): Promise<{ h: Harness; release: () => void }> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const h = await startHarness((req, res) => {
    const fields = { 'content-type': 'text/html', 'cache-control': 'max-age=600', vary: 'Origin' };
    if (req.headers.origin === a.origin) return void res.writeHead(200, { ...fields, etag: '"a1"', 'content-length': A.length }).end(A);
    void released.then(() => res.writeHead(200, { ...fields, etag: '"b1"', 'content-encoding': 'gzip', 'content-length': gz.length }).end(gz));
  }, overrides);
  await h.get('/p', a);
  await h.stored(1);
  assert.match((await h.get('/p', { ...a, 'accept-encoding': 'br' })).headers['cache-status']!, /detail=compress-br$/);
  await h.stored(2);
  return { h, release };
}

test('a collapsed client over cache.maxVariants that went away before the origin answered holds nothing back: the leader and the fill finish, no file is left open', async () => {
  const gz = GZ;
  // Stored on disk only: a reader left behind would hold the stored copy's file open.
  const { h, release } = await atTheBound(gz, { cache: { maxVariants: 2, memoryMaxObjectBytes: 256 * 1024 }, coalesce: { windowBytes: 64 * 1024 }, logLevel: 'info' });
  try {
    // What the disk tier itself keeps open once it has written (its index log, a segment).
    await h.node.store().flush();
    const filesBefore = openFilesUnder(h.cacheDir);
    const leader = getWithin(h, '/p', { ...b, 'accept-encoding': 'gzip' }, 10_000);
    await h.until(() => h.origin.count('/p') === 2, "the leader's fetch at the origin");
    const joined = h.node.stats.counters.joined;
    const follower = rawClient(h, '/p', { ...b, 'accept-encoding': 'identity' });
    await h.until(() => h.node.stats.counters.joined === joined + 1, 'the identity client joined the fetch');
    follower.req.destroy();
    // Its access line is written when the node sees its connection close.
    await h.logged((l) => l['msg'] === 'access' && l['aborted'] === true);
    release();

    const r = await leader;
    assert.match(r.headers['cache-status']!, /fwd=vary-miss; fwd-status=200; stored/);
    assert.deepEqual(r.body, gz, 'the whole body, not a stall behind a reader nobody reads');
    await h.stored(3);
    await h.node.store().flush();
    assert.equal(h.origin.count('/p'), 2);
    if (filesBefore !== undefined) await h.until(() => openFilesUnder(h.cacheDir) === filesBefore, 'no stored body left open for the gone client');
  } finally {
    release();
    await h.close();
  }
});

test('a slow collapsed client over cache.maxVariants does not pace the fill: shed, it continues from the stored source and gets the whole decoded body', async () => {
  const gz = GZ;
  const { h, release } = await atTheBound(gz, { cache: { maxVariants: 2 }, coalesce: { windowBytes: 64 * 1024 } });
  try {
    const leader = getWithin(h, '/p', { ...b, 'accept-encoding': 'gzip' }, 20_000);
    await h.until(() => h.origin.count('/p') === 2, "the leader's fetch at the origin");
    const joined = h.node.stats.counters.joined;
    // Does not read its answer until the leader has had all of it.
    const slow = rawClient(h, '/p', { ...b, 'accept-encoding': 'identity' });
    await h.until(() => h.node.stats.counters.joined === joined + 1, 'the identity client joined the fetch');
    release();

    const r = await leader;
    assert.deepEqual(r.body, gz, 'the leader is not paced by the client that does not read');
    await h.stored(3);

    const res = (await slow.answered)!;
    assert.match(String(res.headers['cache-status']), /detail=too-many-variants$/);
    assert.equal(res.headers['content-encoding'], undefined);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), B, 'the whole decoded body: the rest from the stored source');
    assert.equal(h.origin.count('/p'), 2);
  } finally {
    release();
    await h.close();
  }
});
