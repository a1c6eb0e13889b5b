// A client that goes away before the origin answers (an HTTP/2 reset, a closed
// connection) cancels the origin request it was waiting for, over real sockets:
// a pass-through at once; a miss when the last client waiting on it has gone,
// after which a new request starts a fetch of its own. Once the origin has
// answered, leaving cancels nothing: the fill is stored.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { startHarness, type Harness } from '../fixtures/harness.js';

interface Held {
  url: string;
  res: ServerResponse;
  /** Resolves when the connection the request came on closed before an answer: Strata cancelled it. */
  cancelled: Promise<void>;
}

/** An origin that holds every request until the test answers it. */
function holdingOrigin(): { handler: (req: IncomingMessage, res: ServerResponse) => void; held: Held[]; arrived: (n: number) => Promise<void> } {
  const held: Held[] = [];
  const waiters: (() => void)[] = [];
  return {
    held,
    handler(req, res) {
      const cancelled = new Promise<void>((resolve) => res.once('close', () => !res.writableFinished && resolve()));
      held.push({ url: req.url!, res, cancelled });
      for (const w of waiters.splice(0)) w();
    },
    async arrived(n) {
      const deadline = Date.now() + 10_000;
      while (held.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${held.length} of ${n} origin requests arrived`);
        await new Promise<void>((r) => waiters.push(r));
      }
    },
  };
}

/** A request whose client goes away when `leave` is called; resolves with its answer if it gets one. */
function leavingClient(h: Harness, path: string, method = 'GET'): { leave: () => void; answered: Promise<IncomingMessage | undefined> } {
  const url = new URL(h.base + path);
  const req = http.request({ host: url.hostname, port: url.port, path, method, agent: false, headers: method === 'POST' ? { 'content-length': '2' } : {} });
  req.on('error', () => undefined);
  if (method === 'POST') req.write('hi');
  req.end();
  const answered = new Promise<IncomingMessage | undefined>((resolve) => {
    req.once('response', resolve);
    req.once('close', () => resolve(undefined));
  });
  return { leave: () => req.destroy(), answered };
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_r, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref())]);
}

test('a pass-through whose client goes away before the origin answers: its origin request is cancelled', async () => {
  const o = holdingOrigin();
  const h = await startHarness(o.handler);
  try {
    const c = leavingClient(h, '/form', 'POST');
    await o.arrived(1);
    c.leave();
    await within(o.held[0]!.cancelled, 5_000, 'the origin request cancelled');
  } finally {
    for (const x of o.held) x.res.destroy();
    await h.close();
  }
});

test('a miss: cancelled only when the last waiting client has gone; a later request fetches anew; after the answer, leaving cancels nothing', async () => {
  const o = holdingOrigin();
  const h = await startHarness(o.handler);
  try {
    const first = leavingClient(h, '/slow');
    await o.arrived(1);
    const second = leavingClient(h, '/slow');
    await h.until(() => h.node.stats.counters.joined === 1, 'the second client joined the fetch');
    first.leave();
    await first.answered;
    // One client still waits: the fetch goes on.
    assert.equal(h.node.stats.counters.fetchesCancelled, 0);
    second.leave();
    await within(o.held[0]!.cancelled, 5_000, 'the origin request cancelled once nobody waited');
    assert.equal(h.node.stats.counters.fetchesCancelled, 1);

    // A new request starts its own fetch rather than joining the cancelled one.
    const third = leavingClient(h, '/slow');
    await o.arrived(2);
    assert.equal(o.held[1]!.url, '/slow');
    o.held[1]!.res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '4' });
    o.held[1]!.res.write('sl');
    const res = (await third.answered)!;
    assert.equal(res.statusCode, 200);
    // Gone after the origin answered: the fill is finished and stored all the same.
    third.leave();
    o.held[1]!.res.end('ow');
    await h.stored(1);
    const again = await h.get('/slow');
    assert.equal(again.text, 'slow');
    assert.match(again.headers['cache-status']!, /; hit/);
    assert.equal(h.node.stats.counters.fetchesCancelled, 1);
  } finally {
    for (const x of o.held) x.res.destroy();
    await h.close();
  }
});
