// A worker killed (SIGKILL) while it fetches an object another worker's client
// has joined (the holder's fill streams: worker-fetch.ts): that client sees its
// connection cut, never a short body presented as complete; nothing of the cut
// body is stored anywhere, and the next request fetches the whole object again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOrigin } from '../fixtures/harness.js';
import { get, servedBy, startWorkers } from '../fixtures/workers.js';

interface Got {
  bytes: number;
  complete: boolean;
}

/** A GET on a connection of its own: its worker (from Cache-Status) once the headers are in, its first body byte, its end. */
function partial(url: string): { worker: Promise<string>; firstByte: Promise<void>; done: Promise<Got>; abort: () => void } {
  let named!: (w: string) => void;
  let first!: () => void;
  const worker = new Promise<string>((r) => (named = r));
  const firstByte = new Promise<void>((r) => (first = r));
  let req!: http.ClientRequest;
  const done = new Promise<Got>((resolve) => {
    req = http.get(url, { agent: false }, (res) => {
      named(servedBy({ status: 0, body: '', cacheStatus: String(res.headers['cache-status']) }));
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        first();
      });
      res.on('end', () => resolve({ bytes, complete: res.complete }));
      res.on('error', () => resolve({ bytes, complete: res.complete }));
    });
    req.on('error', () => resolve({ bytes: 0, complete: false }));
  });
  return { worker, firstByte, done, abort: () => req.destroy() };
}

test('2 workers: the holder killed mid-body: the joined client on the other worker is cut, and nothing short is stored', async () => {
  const TOTAL = 64 * 1024;
  const fetched = new Map<string, number>();
  const origin = await startOrigin((req, res) => {
    const n = (fetched.get(req.url!) ?? 0) + 1;
    fetched.set(req.url!, n);
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': TOTAL });
    // The first fetch of a path sends 8 KiB and stalls; the next ones the whole body.
    if (n === 1) res.write(Buffer.alloc(8 * 1024, 'a'));
    else res.end(Buffer.alloc(TOTAL, 'b'));
  });
  const dir = await mkdtemp(join(tmpdir(), 'strata-holder-killed-'));
  const { s, base, pids } = await startWorkers(2, origin, dir);
  try {
    let path = '';
    for (let attempt = 0; ; attempt++) {
      assert.ok(attempt < 4, 'two requests in a row never reached two workers');
      path = `/cut-${attempt}`;
      const a = partial(base + path);
      const holder = await a.worker;
      await a.firstByte;
      const b = partial(base + path);
      const waiter = await b.worker;
      if (waiter === holder) {
        a.abort();
        b.abort();
        continue;
      }
      await b.firstByte;
      const from = s.lines.length;
      process.kill(pids[Number(holder.slice(1))]!, 'SIGKILL');
      const [ga, gb] = await Promise.all([a.done, b.done]);
      assert.deepEqual(ga, { bytes: 8 * 1024, complete: false }, 'the holder\'s client: cut');
      assert.deepEqual(gb, { bytes: 8 * 1024, complete: false }, 'the joined client on the other worker: cut, not a short complete answer');
      await s.logged((l) => l.msg === 'worker restarted', 'the holder restarted', { from });
      break;
    }
    for (let i = 0; i < 4; i++) {
      const c = await get(base, path);
      assert.equal(c.status, 200);
      assert.equal(c.body, 'b'.repeat(TOTAL), c.cacheStatus);
    }
    assert.equal(fetched.get(path), 2, 'fetched once more, whole, for the node');
  } finally {
    s.child.kill('SIGKILL');
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
