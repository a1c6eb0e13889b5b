// The node's /stats and /metrics with workers count each client request once,
// where its connection arrived: a worker asking another over the worker link is
// counted apart (`workerLink`), and the asking worker's own request is a miss
// (fwd=uri-miss, as between nodes of a cluster) taken from another worker
// (`workerMisses.missesFromOtherWorkers`), not from the origin. Figures that do
// not add up are not summed: uptime, start time, availability, versions,
// latency and event-loop figures.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get, startWorkers, stopAll, versionedOrigin } from '../fixtures/workers.js';

interface Upstream {
  name: string;
  requests: number;
}
interface NodeStats {
  uptimeS: number;
  requests: number;
  hits: number;
  misses: number;
  workerLink: { requests: number; hits: number };
  workerMisses: { missesFromOrigin: number; missesFromOtherWorkers: number };
  origin: { upstreams: Upstream[] };
  workers: Record<string, { uptimeS: number; origin: { upstreams: Upstream[] } }>;
}

/** The node's value of a series (no worker label) and each worker's. */
function series(text: string, name: string, labels = ''): { node: number | undefined; workers: number[] } {
  let node: number | undefined;
  const workers: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + (labels ? '{' : ''))) continue;
    const m = /^([^{ ]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const l = m[2] ?? '';
    if (labels && !l.includes(labels)) continue;
    if (l.includes('worker="')) workers.push(Number(m[3]));
    else node = Number(m[3]);
  }
  return { node, workers };
}

test('2 workers: a client request is counted once; the worker link apart; uptime, start time and gauges not summed', async () => {
  const origin = await versionedOrigin(20);
  const dir = await mkdtemp(join(tmpdir(), 'strata-workers-stats-'));
  const { s, base, admin, pids } = await startWorkers(2, origin, dir);
  try {
    // Until a request is answered by the worker that did not fetch it (two Cache-Status members).
    // A worker that misses a key while the other's notice of it is on its way fetches it again (a
    // second origin fetch, never a wrong answer; counted as such below): then try another path.
    const statuses: string[] = [];
    let sent = 0;
    let crossed = false;
    for (let path = 0, deadline = Date.now() + 20_000; !crossed; path++) {
      for (let i = 0; i < 3 && !crossed; i++) {
        assert.ok(Date.now() < deadline, `no request reached the other worker: ${statuses.join(' | ')}`);
        const a = await get(base, `/a${path}`);
        sent++;
        statuses.push(a.cacheStatus);
        crossed = a.cacheStatus.includes(',');
        if (crossed) assert.match(a.cacheStatus, /^n\.w\d; hit[^,]*, n\.w\d; fwd=uri-miss/, a.cacheStatus);
        if (origin.count(`/a${path}`) > 1) break;
      }
    }
    const fetches = origin.count();

    // Every worker up for a second at least, so that a sum of uptimes shows.
    let stats: NodeStats;
    for (const deadline = Date.now() + 10_000; ; ) {
      stats = JSON.parse((await get(admin, '/stats')).body) as NodeStats;
      if (Object.values(stats.workers).every((w) => w.uptimeS >= 1)) break;
      assert.ok(Date.now() < deadline, 'workers up for a second');
    }
    const { workers: _w, descriptions: _d, ...node } = stats as NodeStats & { descriptions?: unknown };
    const why = JSON.stringify({ statuses, ...node });
    assert.equal(stats.requests, sent, why);
    assert.equal(stats.hits + stats.misses, sent, why);
    // The fetches and the requests taken from the other worker: misses of the worker asked by the client.
    assert.equal(stats.workerMisses.missesFromOrigin, fetches, why);
    assert.ok(stats.workerMisses.missesFromOtherWorkers >= 1, why);
    assert.equal(stats.misses, stats.workerMisses.missesFromOrigin + stats.workerMisses.missesFromOtherWorkers, why);
    assert.ok(stats.workerLink.requests >= 1 && stats.workerLink.hits >= 1, why);
    const each = Object.values(stats.workers);
    assert.equal(stats.uptimeS, Math.max(...each.map((w) => w.uptimeS)), why);
    assert.equal(stats.origin.upstreams.length, 1, why);
    assert.equal(stats.origin.upstreams[0]!.requests, each.reduce((n, w) => n + w.origin.upstreams[0]!.requests, 0), why);
    assert.equal(stats.origin.upstreams[0]!.requests, fetches, why);

    const text = (await get(admin, '/metrics')).body;
    const received = series(text, 'strata_requests_received_total');
    assert.equal(received.node, sent, 'requests received: clients only');
    assert.ok(series(text, 'strata_worker_link_requests_received_total').node! >= 1);
    const start = series(text, 'process_start_time_seconds');
    assert.equal(start.workers.length, 2);
    assert.equal(start.node, Math.min(...start.workers), 'start time: the oldest worker');
    const upstream = `upstream="${stats.origin.upstreams[0]!.name}"`;
    assert.equal(series(text, 'strata_upstream_available', upstream).node, 1);
    const ewma = series(text, 'strata_upstream_latency_ewma_seconds', upstream);
    assert.equal(ewma.node, Math.max(...ewma.workers));
    assert.equal(series(text, 'nodejs_version_info', 'version=').node, 1);
    const p99 = series(text, 'nodejs_eventloop_lag_p99_seconds');
    assert.equal(p99.node, Math.max(...p99.workers));
    // What adds up is still summed.
    const items = series(text, 'strata_tier_items', 'tier="memory"');
    assert.equal(items.node, items.workers.reduce((n, v) => n + v, 0));

    // A missed URL's query values reach only a bearer of the admin token, forwarded to each worker.
    await get(base, '/reset?token=s3cret');
    assert.doesNotMatch((await get(admin, '/stats')).body, /s3cret/);
    assert.match((await get(admin, '/stats')).body, /reset\?token=…/);
    assert.match((await get(admin, '/stats', 'GET', { authorization: 'Bearer t' })).body, /reset\?token=s3cret/);

    await stopAll(s, pids);
  } finally {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
