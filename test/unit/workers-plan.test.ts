// The pure parts of worker processes (src/workers/): each worker's Config (name,
// directory, share of the budgets, peers), which directories a smaller count
// leaves unused, and how the node's admin view combines the workers' figures.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { testConfig } from '../fixtures/harness.js';
import { unusedWorkerDirs, workerConfig, workerCount, workerLinks, type WorkerAssignment } from '../../src/workers/plan.js';
import { combineReload, combineRouting, mergeDrain } from '../../src/workers/admin-view.js';
import { combineMetrics, combineStats, sumFigures } from '../../src/workers/node-figures.js';

const assignment = (index: number): WorkerAssignment => ({
  index,
  count: 3,
  secret: 's3cret',
  links: [
    { proxyPort: 40001, adminPort: 40002 },
    { proxyPort: 40003, adminPort: 40004 },
    { proxyPort: 40005, adminPort: 40006 },
  ],
  lockPaths: ['/tmp/l0', '/tmp/l1', '/tmp/l2'],
  lockDir: '/tmp/locks',
});

test('workers: 0 means one per core, never less than one', () => {
  const c = testConfig('http://o', '/c');
  assert.equal(workerCount({ ...c, workers: 0 }, 16), 16);
  assert.equal(workerCount({ ...c, workers: 0 }, 0), 1);
  assert.equal(workerCount({ ...c, workers: 3 }, 16), 3);
});

test("a worker's config: its name, its own directory, a share of the budgets, the other workers as peers", () => {
  const c = testConfig('http://o', '/c', { cache: { memoryMaxBytes: 300, diskMaxBytes: 3000 }, cluster: { handoffMs: 5000 } });
  const w0 = workerConfig({ ...c, nodeId: 'edge' }, assignment(0));
  const w2 = workerConfig({ ...c, nodeId: 'edge' }, assignment(2));
  assert.equal(w0.nodeId, 'edge.w0');
  assert.equal(w0.cache.dir, '/c', 'worker 0 keeps the directory a single process used');
  assert.equal(w2.cache.dir, join('/c', 'w2'));
  assert.equal(w2.cache.memoryMaxBytes, 100);
  assert.equal(w2.cache.diskMaxBytes, 1000);
  assert.deepEqual(w0.admin.listen, c.admin.listen, "worker 0 answers the node's admin address");
  assert.deepEqual(w2.admin.listen, { host: '127.0.0.1', port: 40006 });
  assert.deepEqual(w2.cluster.peers.map((p) => [p.id, p.url, p.adminPort]), [
    ['edge.w0', 'http://127.0.0.1:40001', 40002],
    ['edge.w1', 'http://127.0.0.1:40003', 40004],
    ['edge.w2', 'http://127.0.0.1:40005', 40006],
  ]);
  assert.equal(w2.cluster.secret, 's3cret');
  assert.equal(w0.cluster.handoffMs, 0, 'no handoff hop between workers: the lock directory names who holds a key');
  assert.equal(w2.cluster.handoffMs, 0);
  assert.deepEqual(workerLinks(c, assignment(1)), { proxy: { host: '127.0.0.1', port: 40003 }, locks: { index: 1, paths: ['/tmp/l0', '/tmp/l1', '/tmp/l2'], dir: '/tmp/locks' } });
  assert.deepEqual(workerLinks(c, assignment(0)).admin, { host: '127.0.0.1', port: 40002 });
});

test('directories of workers beyond the count are named (never worker 0, which is the cache dir itself)', () => {
  assert.deepEqual(unusedWorkerDirs(['w0', 'w1', 'w2', 'w10', 'content-v2', 'wx', 'tmp'], 2), ['w10', 'w2']);
  assert.deepEqual(unusedWorkerDirs(['w1'], 1), ['w1']);
});

test('/stats of the node: numbers summed at every depth, the rest from the first worker', () => {
  const sum = sumFigures([
    { requests: 3, tiers: { memory: { items: 1, bytes: 10 } }, state: 'a' },
    { requests: 4, tiers: { memory: { items: 2, bytes: 5 } }, state: 'b' },
  ]);
  assert.deepEqual(sum, { requests: 7, tiers: { memory: { items: 3, bytes: 15 } }, state: 'a' });
});

test('/metrics of the node: each series summed, then each worker labelled', () => {
  const text = combineMetrics([
    { name: 'w0', text: '# HELP strata_hits hits\n# TYPE strata_hits counter\nstrata_hits 2\nstrata_tier_bytes{tier="memory"} 10\n' },
    { name: 'w1', text: '# HELP strata_hits hits\n# TYPE strata_hits counter\nstrata_hits 3\nstrata_tier_bytes{tier="memory"} 5\n' },
  ]);
  const lines = text.split('\n');
  assert.equal(lines.filter((l) => l === '# HELP strata_hits hits').length, 1);
  assert.ok(lines.includes('strata_hits 5'));
  assert.ok(lines.includes('strata_tier_bytes{tier="memory"} 15'));
  assert.ok(lines.includes('strata_hits{worker="w1"} 3'));
  assert.ok(lines.includes('strata_tier_bytes{worker="w0",tier="memory"} 10'));
});

test('/metrics of the node: counters, histograms and additive gauges summed; other gauges never (start time the oldest, the rest the largest)', () => {
  const worker = (start: number, available: number, lag: number, bucket: number) =>
    [
      '# TYPE process_start_time_seconds gauge',
      `process_start_time_seconds ${start}`,
      '# TYPE strata_upstream_available gauge',
      `strata_upstream_available{upstream="u"} ${available}`,
      '# TYPE nodejs_version_info gauge',
      'nodejs_version_info{version="v20.0.0"} 1',
      '# TYPE nodejs_eventloop_lag_p99_seconds gauge',
      `nodejs_eventloop_lag_p99_seconds ${lag}`,
      '# TYPE strata_upstream_in_flight gauge',
      'strata_upstream_in_flight{upstream="u"} 2',
      '# TYPE strata_request_duration_seconds histogram',
      `strata_request_duration_seconds_bucket{le="0.1",outcome="hit"} ${bucket}`,
      `strata_request_duration_seconds_count{outcome="hit"} ${bucket}`,
      '',
    ].join('\n');
  const lines = combineMetrics([
    { name: 'w0', text: worker(1000, 1, 0.02, 3) },
    { name: 'w1', text: worker(1200, 0, 0.05, 4) },
  ]).split('\n');
  assert.ok(lines.includes('process_start_time_seconds 1000'));
  assert.ok(lines.includes('strata_upstream_available{upstream="u"} 1'));
  assert.ok(lines.includes('nodejs_version_info{version="v20.0.0"} 1'));
  assert.ok(lines.includes('nodejs_eventloop_lag_p99_seconds 0.05'));
  assert.ok(lines.includes('strata_upstream_in_flight{upstream="u"} 4'));
  assert.ok(lines.includes('strata_request_duration_seconds_bucket{le="0.1",outcome="hit"} 7'));
  assert.ok(lines.includes('strata_request_duration_seconds_count{outcome="hit"} 7'));
  assert.ok(lines.includes('process_start_time_seconds{worker="w1"} 1200'));
});

test('/stats of the node: uptime the oldest worker\'s, upstreams summed by name in every pool, the miss paths summed', () => {
  const row = (name: string, requests: number, ewmaMs: number, available: boolean) => ({ name, requests, failures: 1, inFlight: 1, ewmaMs, available, state: available ? 'healthy' : 'ejected', weight: 1 });
  const w = (uptimeS: number, a: number, b: number) => ({
    uptimeS,
    requests: 2,
    tiers: { disk: { items: 1, loading: uptimeS < 5 } },
    origin: { retries: 1, upstreams: [row('a', a, 10 * a, a > 1), row('b', b, 5, true)], pools: { api: { retries: 1, upstreams: [row('a', a, 10 * a, a > 1)] } } },
    peers: { workerMisses: { missesFromOrigin: 1, missesFromOtherWorkers: a } },
    topMisses: [uptimeS],
  });
  const node = combineStats([w(4, 1, 3), w(9, 2, 5)]);
  assert.equal(node.uptimeS, 9);
  assert.equal(node.requests, 4);
  assert.deepEqual(node.tiers, { disk: { items: 2, loading: true } });
  const origin = node.origin as { retries: number; upstreams: Record<string, unknown>[]; pools: { api: { upstreams: Record<string, unknown>[] } } };
  assert.equal(origin.retries, 2);
  assert.deepEqual(origin.upstreams[0], { name: 'a', requests: 3, failures: 2, inFlight: 2, ewmaMs: 20, available: true, state: 'ejected', weight: 1 });
  assert.equal(origin.upstreams[1]!.requests, 8);
  assert.equal(origin.pools.api.upstreams[0]!.requests, 3);
  assert.deepEqual(node.workerMisses, { missesFromOrigin: 2, missesFromOtherWorkers: 3 });
  assert.deepEqual(node.topMisses, [4]);
});

test('drain status of the node: in-flight summed, drained only when every worker is, serving while one still sends', () => {
  const u = 'http://10.0.0.1:9000';
  const w = (name: string, state: string, inFlight: number) => ({ name, status: 200, text: JSON.stringify({ upstream: u, state, inFlight, pools: 1 }) });
  const node = (...answers: ReturnType<typeof w>[]) => combineRouting(answers, mergeDrain);
  assert.deepEqual(node(w('w0', 'drained', 0), w('w1', 'drained', 0)).body, {
    upstream: u,
    state: 'drained',
    inFlight: 0,
    pools: 1,
    workers: { w0: { upstream: u, state: 'drained', inFlight: 0, pools: 1 }, w1: { upstream: u, state: 'drained', inFlight: 0, pools: 1 } },
  });
  const draining = node(w('w0', 'drained', 0), w('w1', 'draining', 3));
  assert.equal(draining.body.state, 'draining');
  assert.equal(draining.body.inFlight, 3);
  assert.equal(node(w('w0', 'draining', 1), w('w1', 'serving', 2)).body.state, 'serving');
  // A worker that did not answer: its error is the answer, never "drained".
  const silent = node(w('w0', 'drained', 0), { name: 'w1', status: 502, text: JSON.stringify({ error: 'WORKER_UNREACHABLE', message: 'worker w1: ECONNREFUSED' }) });
  assert.equal(silent.status, 502);
  assert.equal(silent.body.error, 'WORKER_UNREACHABLE');
  assert.equal(silent.body.state, undefined);
});

test('reload and routing refusals of the node: the first refusing worker\'s status, error and message on top, its WWW-Authenticate passed on', () => {
  const ok = { name: 'w0', status: 200, text: JSON.stringify({ status: 'unchanged', applied: [], restartRequired: [] }) };
  const refused = { name: 'w1', status: 401, text: JSON.stringify({ error: 'UNAUTHORIZED', message: 'wrong admin token' }), wwwAuthenticate: 'Bearer realm="strata"' };
  const r = combineReload([ok, refused]);
  assert.equal(r.status, 401);
  assert.equal(r.body.error, 'UNAUTHORIZED');
  assert.equal(r.body.message, 'wrong admin token');
  assert.deepEqual(r.fields, ['www-authenticate', 'Bearer realm="strata"']);
  assert.deepEqual(Object.keys(r.body.workers as object), ['w0', 'w1']);
  const fine = combineReload([ok, { ...ok, name: 'w1' }]);
  assert.equal(fine.status, 200);
  assert.equal(fine.body.error, undefined);
  assert.deepEqual(fine.fields, []);
  const routing = combineRouting([ok, refused], (b) => b[0]!);
  assert.equal(routing.status, 401);
  assert.equal(routing.body.error, 'UNAUTHORIZED');
  assert.deepEqual(routing.fields, ['www-authenticate', 'Bearer realm="strata"']);
});
