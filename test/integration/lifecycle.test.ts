// Start and stop: a graceful stop lets in-flight requests finish, refuses new
// connections, flushes pending disk writes; entries survive into the next start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { request } from 'undici';
import { startHarness, until } from '../fixtures/harness.js';

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
