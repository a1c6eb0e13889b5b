// HTTP/1.1 pipelining from a raw client: one connection never has more than
// MAX_IN_PROGRESS requests handled at once (the origin sees no more from it),
// every answer still arrives whole and in order, and a client that closes with
// answers still owed cancels their work, each access line saying "aborted".

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startHarness, type OriginHandler } from '../fixtures/harness.js';
import { parseResponses } from './raw.js';
import { MAX_IN_PROGRESS, MAX_WAITING } from '../../src/server/pipelining.js';

const T = { timeout: 30_000 };

/** An origin that counts the requests it is working on at once. */
function countingOrigin(answer: (req: Parameters<OriginHandler>[0], res: Parameters<OriginHandler>[1]) => void) {
  const seen = { now: 0, peak: 0, aborted: 0 };
  const handler: OriginHandler = (req, res) => {
    seen.now++;
    seen.peak = Math.max(seen.peak, seen.now);
    res.once('close', () => {
      seen.now--;
      if (!res.writableFinished) seen.aborted++;
    });
    answer(req, res);
  };
  return { seen, handler };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

test(`300 pipelined misses on one connection: the origin never works on more than ${MAX_IN_PROGRESS} of them at once; all answered, in order`, T, async () => {
  const { seen, handler } = countingOrigin((req, res) => {
    // Answered a little later, so the requests of the connection overlap at the origin.
    setTimeout(() => {
      res.writeHead(200, { 'content-length': Buffer.byteLength(req.url!), 'cache-control': 'max-age=60' });
      res.end(req.url);
    }, 2);
  });
  const h = await startHarness(handler);
  try {
    const n = 300;
    // Padded past one socket read (64 KiB), so reading is paused and resumed, not only deferred.
    const pad = 'x'.repeat(200);
    let payload = '';
    for (let i = 0; i < n; i++) payload += `GET /pipe/${i} HTTP/1.1\r\nHost: x\r\nX-Pad: ${pad}\r\n\r\n`;
    assert.ok(payload.length > 65_536);
    const socket = await connect(h.node.proxyAddress().port);
    const chunks: Buffer[] = [];
    const got = new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${parseResponses(Buffer.concat(chunks), false).length} of ${n} answers in time`)), 20_000);
      socket.on('data', (c: Buffer) => {
        chunks.push(c);
        const all = Buffer.concat(chunks);
        if (parseResponses(all, false).length >= n) {
          clearTimeout(timer);
          resolve(all);
        }
      });
      socket.once('close', () => reject(new Error('the node closed the connection')));
    });
    socket.write(payload);
    const responses = parseResponses(await got, false);
    socket.destroy();
    assert.equal(responses.length, n);
    responses.forEach((r, i) => {
      assert.equal(r.status, 200);
      assert.equal(r.text, `/pipe/${i}`, `answer ${i} in its place`);
    });
    assert.equal(h.origin.count(), n);
    assert.ok(seen.peak <= MAX_IN_PROGRESS, `the origin worked on ${seen.peak} requests of one connection at once`);
    assert.ok(seen.peak > 1, 'pipelined requests still overlap');
  } finally {
    await h.close();
  }
});

test('a client that closes with pipelined answers owed: their origin requests are cancelled and their access lines say aborted; the rest never start', T, async () => {
  const { seen, handler } = countingOrigin(() => undefined); // never answers
  const h = await startHarness(handler, { logLevel: 'info' });
  try {
    const n = 20;
    let payload = '';
    for (let i = 0; i < n; i++) payload += `GET /hold/${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
    const socket = await connect(h.node.proxyAddress().port);
    socket.write(payload);
    await h.until(() => seen.now === MAX_IN_PROGRESS, `${MAX_IN_PROGRESS} requests at the origin`);
    socket.destroy();
    await h.until(() => seen.aborted === MAX_IN_PROGRESS, 'every origin request cancelled');
    const lines = await h.logged((l) => l['msg'] === 'access' && String(l['url']).startsWith('/hold/'), MAX_IN_PROGRESS);
    assert.equal(lines.length, MAX_IN_PROGRESS);
    assert.ok(lines.every((l) => l['aborted'] === true), JSON.stringify(lines));
    const [closed] = await h.logged((l) => l['msg'] === 'client closed its connection with pipelined requests unanswered; their work is cancelled');
    assert.deepEqual({ abandoned: closed!['abandoned'], dropped: closed!['dropped'] }, { abandoned: MAX_IN_PROGRESS - 1, dropped: n - MAX_IN_PROGRESS });
    assert.equal(h.origin.count(), MAX_IN_PROGRESS, 'the requests not started never reached the origin');
    assert.equal(h.node.stats.counters.requests, MAX_IN_PROGRESS);
  } finally {
    await h.close();
  }
});

test(`a client flooding far past ${MAX_WAITING} waiting requests and closing: the node stops reading it, works ${MAX_IN_PROGRESS} at a time, and drops the rest once it sees the close`, T, async () => {
  const { seen, handler } = countingOrigin((req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-length': Buffer.byteLength(req.url!), 'cache-control': 'no-store' });
      res.end(req.url);
    }, 2);
  });
  const h = await startHarness(handler, { logLevel: 'info' });
  try {
    const n = 400;
    const pad = 'x'.repeat(200);
    let payload = '';
    for (let i = 0; i < n; i++) payload += `GET /flood/${i} HTTP/1.1\r\nHost: x\r\nX-Pad: ${pad}\r\n\r\n`;
    const socket = await connect(h.node.proxyAddress().port);
    socket.write(payload);
    await h.until(() => h.origin.count() >= MAX_IN_PROGRESS, 'the first requests at the origin');
    socket.destroy();
    const [closed] = await h.logged((l) => l['msg'] === 'client closed its connection with pipelined requests unanswered; their work is cancelled');
    assert.ok((closed!['dropped'] as number) > 0, JSON.stringify(closed));
    await h.until(() => seen.now === 0, 'the origin idle');
    assert.ok(h.origin.count() < n, `${h.origin.count()} of ${n} requests reached the origin after the client left`);
    assert.ok(seen.peak <= MAX_IN_PROGRESS, `the origin worked on ${seen.peak} requests of one connection at once`);
    assert.equal((await h.get('/after')).status, 200, 'the node still serves');
  } finally {
    await h.close();
  }
});
