// A node that restarts takes clients only once its peers delivered the purges
// they accepted while it was down (node.ts: admin listener, cluster start, then
// cluster/start-wait.ts, then the proxy port), and a peer that is down does not
// hold its start: a failed probe says so at once, not the deadline.

import { strict as assert } from 'node:assert';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { primaryKey } from '../../src/cache/key.js';
import { START_WAIT_MIN_MS } from '../../src/cluster/start-wait.js';
import { startCluster, type ClusterHarness, type ClusterNode, ownership } from '../fixtures/cluster.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode } from '../../src/node.js';
import { fetchReply, fixed, startOrigin, testConfig, until, type Reply } from '../fixtures/harness.js';
import { freePort } from '../fixtures/ports.js';

const HOST = 'site.test';
const ids = ['node-a', 'node-b'];
const { ownerOf, pathOwnedBy } = ownership(HOST, ids);

/** Does 127.0.0.1:`port` accept a connection now? */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/**
 * A proxy before a node's admin listener (the peers' list names it): every request
 * is passed on, except that a purge delivery waits while `hold()` says so.
 */
async function startAdminProxy(target: () => number, hold: () => Promise<boolean>): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    void (async () => {
      if (req.method === 'POST' && req.url === '/purge') while (await hold()) await new Promise((r) => setTimeout(r, 2));
      const up = http.request({ host: '127.0.0.1', port: target(), method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      up.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      req.pipe(up);
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Has `n` opened its store (it is starting or started)? */
function storeOpen(n: ClusterNode): boolean {
  try {
    n.node?.store();
    return n.node !== undefined;
  } catch {
    return false;
  }
}

/** The first answer `url` gives once its port accepts connections (refused until then), with a deadline. */
async function firstAnswer(url: string, deadlineMs = 15_000): Promise<Reply> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await fetchReply(url, { host: HOST });
    } catch (err) {
      const code = (err as { code?: string; cause?: { code?: string } }).code ?? (err as { cause?: { code?: string } }).cause?.code;
      if (code !== 'ECONNREFUSED' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

describe('cluster: a restarted node serves only once its peers delivered what they owe it', () => {
  it("its first answer after its proxy port opens is not what a peer purged while it was down", async () => {
    let version = 1;
    // a's deliveries to b are held while b's proxy port is open and b has not answered the
    // test yet: what happens when a delivery is slower than b's start (before the fix, b
    // answered from its disk meanwhile). A node that waits for its peers before it opens
    // its proxy port gets them at once.
    let answered = false;
    let bProxyPort = 0;
    let bAdminPort = 0;
    const proxy = await startAdminProxy(
      () => bAdminPort,
      async () => !answered && (await accepts(bProxyPort)),
    );
    const throughProxy = (id: string, port: number): number => {
      if (id !== 'node-b') return port;
      bAdminPort = port;
      return proxy.port;
    };
    let h: ClusterHarness | undefined;
    try {
      h = await startCluster(
        (req, res) => {
          const b = `v${version} of ${req.url}`;
          res.writeHead(200, { 'content-length': Buffer.byteLength(b), 'cache-control': 'max-age=600' });
          res.end(b);
        },
        { n: 2, peerAdminPortOf: throughProxy },
      );
      bProxyPort = Number(new URL(h.nodes[1]!.base).port);
      await Promise.all([h.sees(0, ['node-b']), h.sees(1, ['node-a'])]);
      const p = pathOwnedBy('node-b', '/restart/purged');
      assert.equal((await fetchReply(h.nodes[1]!.base + p, { host: HOST })).text, `v1 of ${p}`);
      await h.nodes[1]!.node!.store().flush();
      assert.ok(h.nodes[1]!.node!.store().disk.has(primaryKey('http', HOST, p)), 'b holds it on disk');
      await h.stop(1);
      const r = await h.purge(0, { urls: [p] });
      assert.equal(r.status, 200);
      assert.match((JSON.parse(r.text) as { peers: Record<string, string> }).peers['node-b']!, /^pending: /);
      version = 2;
      const fetched = h.origin.count(p);
      // b restarts on the same cache directory; once its index is loaded (so that what its
      // disk holds would be served), its first answer once its proxy port opens.
      const started = h.start(1);
      const b = h.nodes[1]!;
      await until(() => storeOpen(b), 'b to open its store');
      await b.node!.ready();
      const first = await firstAnswer(b.base + p);
      answered = true;
      await started;
      assert.equal(first.text, `v2 of ${p}`, 'the restarted node served what was purged while it was down');
      assert.ok(h.origin.count(p) > fetched, 'fetched from the origin');
    } finally {
      answered = true;
      await h?.close();
      await proxy.close();
    }
  });

  it('a peer that is down does not hold the start: its failed probe ends the wait for it', async () => {
    const h = await startCluster((_req, res) => res.end('ok'), { n: 2, overrides: { logLevel: 'warn' } });
    try {
      await h.stop(0);
      await h.stop(1);
      const t0 = Date.now();
      await h.start(1);
      const tookMs = Date.now() - t0;
      assert.ok(tookMs < START_WAIT_MIN_MS / 4, `started in ${tookMs}ms with its peer down (the wait's bound is ${START_WAIT_MIN_MS}ms)`);
      const warned = h.nodes[1]!.logs.find((l) => l['level'] === 40 && Array.isArray(l['unreachable']));
      assert.deepEqual(warned?.['unreachable'], ['node-a'], 'the start-up log names the peer it did not hear from');
      assert.equal((await fetchReply(h.nodes[1]!.base + '/up', { host: HOST })).text, 'ok');
    } finally {
      await h.close();
    }
  });

  it('a node stopped while it waits for its peers never opens its proxy port', async () => {
    const origin = await startOrigin(fixed('x', { 'cache-control': 'max-age=60' }));
    // A peer that always says it still owes this node a purge: the start waits until its bound.
    let probed!: () => void;
    const firstProbe = new Promise<void>((r) => (probed = r));
    const peer = http.createServer((_req, res) => {
      probed();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: 'ok', node: 'node-b', boot: 'b1', owed: 1 }));
    });
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
    const dir = await mkdtemp(join(tmpdir(), 'strata-stop-wait-'));
    const proxyPort = await freePort();
    try {
      const config = testConfig(origin.url, dir);
      config.nodeId = 'node-a';
      config.listen = { host: '127.0.0.1', port: proxyPort };
      config.cluster = { ...config.cluster, secret: 's', healthCheckIntervalMs: 100, peers: [{ id: 'node-b', url: 'http://127.0.0.1:1', adminPort: (peer.address() as AddressInfo).port }] };
      const node = createNode(config);
      const t0 = Date.now();
      const started = node.start();
      await firstProbe;
      await node.stop();
      await started;
      const tookMs = Date.now() - t0;
      assert.ok(tookMs < START_WAIT_MIN_MS / 2, `start() ended ${tookMs} ms after it began (the wait's bound is ${START_WAIT_MIN_MS} ms)`);
      assert.equal(await accepts(proxyPort), false, 'the proxy port of a stopped node is closed');
    } finally {
      peer.close();
      await origin.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
