// Start and stop: a graceful stop lets in-flight requests finish, refuses new
// connections, flushes pending disk writes; entries survive into the next start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { request } from 'undici';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode } from '../../src/node.js';
import { fetchReply, fixed, startHarness, startOrigin, testConfig, until } from '../fixtures/harness.js';

test('stop() waits for an in-flight request, then the stored entry is there after a restart', async () => {
  let finish!: () => void;
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '10' });
    res.write('01234');
    finish = () => res.end('56789');
  });
  try {
    const port = h.node.proxyAddress().port;
    const inflight = request(`http://127.0.0.1:${port}/slow`, { headers: { host: 'site.example' } }).then((r) => r.body.text());
    await until(() => finish !== undefined, 'the origin to start its answer');
    const stopped = h.node.stop();
    // New connections are refused while stopping.
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1');
        s.on('connect', () => {
          s.destroy();
          resolve(undefined);
        });
        s.on('error', reject);
      }),
    );
    finish();
    assert.equal(await inflight, '0123456789');
    await stopped;
    assert.equal(h.node.stats.counters.stored, 1, 'the fill was committed before stop resolved');
    await h.restart();
    const again = await h.get('/slow', { host: 'site.example' });
    assert.match(again.headers['cache-status']!, /; hit/);
    assert.equal(again.text, '0123456789');
  } finally {
    await h.close();
  }
});

test('stop() cuts requests still running at the end of the grace period', async () => {
  const h = await startHarness((_req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('never ends');
  }, { limits: { shutdownGraceMs: 100 } });
  try {
    const r = await request(h.base + '/forever');
    const body = r.body.text().then(
      () => 'completed',
      (err: Error) => err,
    );
    const t0 = Date.now();
    await h.node.stop();
    assert.ok(Date.now() - t0 < 2000);
    assert.ok((await body) instanceof Error, 'the unfinished response is cut, not completed');
  } finally {
    await h.origin.close();
  }
});

test('a port in use is a LISTEN_FAILED start-up error naming the address', async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    await assert.rejects(startHarness(() => undefined, { listen: { host: '127.0.0.1', port } }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'LISTEN_FAILED');
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port} is in use`));
      return true;
    });
  } finally {
    blocker.close();
  }
});

test('stop() while start() is still opening the tiers: start() opens no listener, and the cache directory opens again', async () => {
  const origin = await startOrigin(fixed('x', { 'cache-control': 'max-age=60' }));
  const dir = await mkdtemp(join(tmpdir(), 'strata-stop-early-'));
  try {
    const node = createNode(testConfig(origin.url, dir));
    const started = node.start();
    // Before the tiers opened: stop() finds nothing open yet.
    await node.stop();
    await started;
    const addressOf = (f: () => unknown) => {
      try {
        return f() ?? null;
      } catch {
        return null;
      }
    };
    assert.equal(addressOf(() => node.proxyAddress()), null, 'no proxy listener after a stop');
    assert.equal(addressOf(() => node.adminAddress()), null, 'no admin listener after a stop');
    // The tiers it opened are closed: the same directory serves another node.
    const again = createNode(testConfig(origin.url, dir));
    await again.start();
    try {
      const r = await fetchReply(`http://127.0.0.1:${again.proxyAddress().port}/a`);
      assert.equal(r.status, 200);
    } finally {
      await again.stop();
    }
  } finally {
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
