// A miss on one worker while another worker is fetching the same object from a
// slow origin: the waiting worker is let in once the holder has the response and
// streams it into the cache, and takes the bytes from the holder's flight as they
// arrive (worker-fetch.ts, key-lock.ts), instead of waiting for the whole body to
// be stored. Still one origin fetch for the node.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOrigin } from '../fixtures/harness.js';
import { get, servedBy, startWorkers } from '../fixtures/workers.js';

const CHUNKS = 12;
const CHUNK_MS = 150;
const CHUNK = Buffer.alloc(8 * 1024, 'x');

interface Timed {
  firstByteMs: number;
  totalMs: number;
  bytes: number;
  cacheStatus: string;
}

/** The worker that answered (the last Cache-Status member). */
const workerOf = (t: Timed): string => servedBy({ status: 200, body: '', cacheStatus: t.cacheStatus });

/** A GET on a connection of its own; `started` resolves at its first body byte. */
function timed(url: string): { started: Promise<void>; done: Promise<Timed> } {
  const t0 = Date.now();
  let started!: () => void;
  const first = new Promise<void>((r) => (started = r));
  const done = new Promise<Timed>((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let firstByteMs = -1;
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          if (firstByteMs < 0) {
            firstByteMs = Date.now() - t0;
            started();
          }
          bytes += c.length;
        });
        res.on('end', () => resolve({ firstByteMs, totalMs: Date.now() - t0, bytes, cacheStatus: String(res.headers['cache-status']) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
  return { started: first, done };
}

test('2 workers: a worker waiting for another\'s fetch gets the first bytes as they arrive, not once the whole body is stored', async () => {
  const fetched = new Map<string, number>();
  const origin = await startOrigin((req, res) => {
    fetched.set(req.url!, (fetched.get(req.url!) ?? 0) + 1);
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': CHUNKS * CHUNK.length });
    let sent = 0;
    const t = setInterval(() => {
      res.write(CHUNK);
      if (++sent === CHUNKS) {
        clearInterval(t);
        res.end();
      }
    }, CHUNK_MS);
    res.on('close', () => clearInterval(t));
  });
  const dir = await mkdtemp(join(tmpdir(), 'strata-workers-stream-'));
  const { s, base, admin } = await startWorkers(2, origin, dir);
  try {
    // Fresh connections go round the workers: the second request is the other worker's, as a rule.
    let a: Timed | undefined;
    let b: Timed | undefined;
    for (let attempt = 0; attempt < 4 && (!a || !b || workerOf(a) === workerOf(b)); attempt++) {
      const path = `/slow-${attempt}`;
      const first = timed(base + path);
      // The holder is streaming the body when the other worker misses.
      await first.started;
      const second = timed(base + path);
      [a, b] = await Promise.all([first.done, second.done]);
      assert.equal(fetched.get(path), 1, 'one origin fetch for the node');
    }
    const holder = workerOf(a!);
    const waiter = workerOf(b!);
    assert.notEqual(holder, waiter, `two workers answered (${a!.cacheStatus} / ${b!.cacheStatus})`);
    assert.equal(b!.bytes, CHUNKS * CHUNK.length);
    // The whole body takes CHUNKS × CHUNK_MS (1.8 s); the waiter's first byte comes long before.
    assert.ok(b!.firstByteMs < 800, `first byte on the waiting worker after ${b!.firstByteMs} ms (the holder's body took ${a!.totalMs} ms)`);
    assert.match(b!.cacheStatus, new RegExp(`n\\.${holder}; fwd=uri-miss; [^,]*collapsed`), 'it joined the holder\'s flight');
    const stats = JSON.parse((await get(admin, '/stats')).body) as { workers: Record<string, { peers: { workerMisses: { missesJoiningAnotherWorker: number } } }> };
    assert.ok(stats.workers[waiter]!.peers.workerMisses.missesJoiningAnotherWorker >= 1);
  } finally {
    s.child.kill('SIGKILL');
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
