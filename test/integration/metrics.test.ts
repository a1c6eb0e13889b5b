// GET /metrics (Prometheus text) and GET /readyz on the admin listener of a real
// node: names, types, help and values after scripted traffic; readiness
// following the listeners and the disk index, never the upstreams' health.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Gauge, Registry } from 'prom-client';
import { ERROR_CATALOG } from '../../src/errors.js';
import { createAdminHandler, createAdminListener, type AdminDeps, type Readiness } from '../../src/admin/admin.js';
import { Stats } from '../../src/observability/stats.js';
import { startHarness, fetchReply, type Harness, type OriginHandler } from '../fixtures/harness.js';

const TOKEN = 'metrics-test-token';

interface Scrape {
  help: Map<string, string>;
  type: Map<string, string>;
  /** `name{labels}` exactly as written → value. */
  samples: Map<string, number>;
  text: string;
}

function parse(text: string): Scrape {
  const s: Scrape = { help: new Map(), type: new Map(), samples: new Map(), text };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? s.help : s.type).set(meta[2]!, meta[3]!);
      continue;
    }
    const at = line.lastIndexOf(' ');
    s.samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return s;
}

async function scrape(h: Harness): Promise<Scrape> {
  const r = await fetchReply(h.admin + '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'] ?? '', /^text\/plain; version=0\.0\.4/);
  return parse(r.text);
}

/** Scrapes until `cond` holds (the request metrics are recorded when the server side of a request closes). */
async function scrapeUntil(h: Harness, cond: (s: Scrape) => boolean, what: string): Promise<Scrape> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const s = await scrape(h);
    if (cond(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${s.text}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function readyz(h: Harness): Promise<{ status: number; body: { status: string; notReady?: string[]; checks: Record<string, boolean>; upstreamAvailable: boolean } }> {
  const r = await fetchReply(h.admin + '/readyz');
  return { status: r.status, body: JSON.parse(r.text) as { status: string; notReady?: string[]; checks: Record<string, boolean>; upstreamAvailable: boolean } };
}

async function readyzUntil(h: Harness, status: number, what: string): Promise<Awaited<ReturnType<typeof readyz>>> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const r = await readyz(h);
    if (r.status === status) return r;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(r)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const site: OriginHandler = (req, res) => {
  const body = req.url === '/health' ? 'ok' : 'hello metrics';
  res.writeHead(200, { 'content-length': Buffer.byteLength(body), 'cache-control': 'max-age=600', 'cache-tag': 'm' });
  res.end(body);
};

test('/metrics after a miss, a hit and a purge: counters by outcome and status class, duration histograms, tiers, disk, upstreams, help for every metric', async () => {
  const h = await startHarness(site, { admin: { token: TOKEN } });
  try {
    await h.node.ready();
    assert.match((await h.get('/m')).headers['cache-status'] ?? '', /^test-node; fwd=uri-miss; fwd-status=200; stored/);
    await h.stored(1);
    assert.match((await h.get('/m')).headers['cache-status'] ?? '', /^test-node; hit/);
    const purged = await fetchReply(h.admin + '/purge', { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, 'POST', JSON.stringify({ urls: ['/m'] }));
    assert.equal(purged.status, 200);

    const s = await scrapeUntil(h, (s) => s.samples.get('strata_requests_total{outcome="miss",status="2xx"}') === 1, 'the miss recorded');
    const v = (k: string) => s.samples.get(k);
    assert.equal(v('strata_requests_total{outcome="hit",status="2xx"}'), 1);
    assert.equal(v('strata_requests_total{outcome="miss",status="2xx"}'), 1);
    assert.equal(s.type.get('strata_requests_total'), 'counter');
    assert.equal(s.type.get('strata_request_duration_seconds'), 'histogram');
    for (const outcome of ['hit', 'miss']) {
      assert.equal(v(`strata_request_duration_seconds_count{outcome="${outcome}"}`), 1, outcome);
      assert.equal(v(`strata_request_duration_seconds_bucket{le="+Inf",outcome="${outcome}"}`), 1, outcome);
      assert.ok(v(`strata_request_duration_seconds_sum{outcome="${outcome}"}`)! > 0, outcome);
    }
    assert.equal(v('strata_request_duration_seconds_count{outcome="stale"}'), 0, 'every outcome is present from the start');
    assert.equal(v('strata_request_duration_seconds_count{outcome="pass"}'), 0);

    assert.equal(v('strata_requests_received_total'), 2);
    assert.equal(v('strata_hits_total'), 1);
    assert.equal(v('strata_misses_total'), 1);
    assert.equal(v('strata_stored_total'), 1);
    assert.equal(v('strata_purges_total'), 1);
    assert.equal(v('strata_purged_total'), 1);
    assert.equal(v('strata_collapsed_total'), 0);
    assert.equal(v('strata_bytes_served_total'), 2 * 'hello metrics'.length);

    assert.equal(v('strata_tier_max_bytes{tier="memory"}'), h.config.cache.memoryMaxBytes);
    assert.equal(v('strata_tier_max_bytes{tier="disk"}'), h.config.cache.diskMaxBytes);
    assert.equal(v('strata_tier_items{tier="memory"}'), 0, 'purged');
    assert.equal(s.type.get('strata_tier_items'), 'gauge');
    assert.equal(v('strata_tier_evictions_total{tier="memory"}'), 0);
    assert.equal(v('strata_tier_evictions_total{tier="disk"}'), 0);
    for (const k of ['strata_disk_writes_queued', 'strata_disk_bytes_queued', 'strata_disk_writes_shed_total', 'strata_disk_io_errors_total', 'strata_disk_corrupt_total', 'strata_disk_dead_bytes', 'strata_disk_index_bytes']) {
      assert.equal(typeof v(k), 'number', k);
    }
    assert.equal(v('strata_disk_loading'), 0);
    assert.equal(v('strata_disk_io_errors_total'), 0);

    const up = `upstream="${h.origin.url}"`;
    assert.equal(v(`strata_upstream_state{${up},state="healthy"}`), 1);
    assert.equal(v(`strata_upstream_state{${up},state="ejected"}`), 0);
    assert.equal(v(`strata_upstream_available{${up}}`), 1);
    assert.equal(v(`strata_upstream_in_flight{${up}}`), 0);
    assert.equal(v(`strata_upstream_requests_total{${up}}`), 1);
    assert.equal(v(`strata_upstream_failures_total{${up}}`), 0);
    assert.ok(v(`strata_upstream_latency_ewma_seconds{${up}}`)! > 0);
    assert.equal(v('strata_hit_for_pass_keys'), 0);
    assert.equal(v('strata_coalesce_flights'), 0);

    // prom-client's default process metrics, on the node's own registry.
    for (const k of ['nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'process_cpu_user_seconds_total', 'nodejs_gc_duration_seconds']) {
      assert.ok(s.type.has(k), k);
    }

    // Every metric declared has help text and a type, and every sample belongs to one.
    assert.ok(s.help.size > 40);
    for (const [name, help] of s.help) {
      assert.ok(help.length > 10, `help of ${name}`);
      assert.ok(s.type.has(name), `type of ${name}`);
    }
    for (const key of s.samples.keys()) {
      const name = key.replace(/\{.*$/, '');
      const family = [name, name.replace(/_(bucket|sum|count)$/, '')].find((n) => s.help.has(n));
      assert.ok(family, `${key} has HELP`);
    }

    // A second node in the process keeps its own figures (no global registry).
    const h2 = await startHarness(site);
    try {
      const s2 = await scrape(h2);
      assert.equal(s2.samples.get('strata_hits_total'), 0);
      assert.equal(s2.samples.get('strata_requests_total{outcome="hit",status="2xx"}'), undefined);
    } finally {
      await h2.close();
    }
  } finally {
    await h.close();
  }
});

test('/metrics is behind the same Host check as /stats', async () => {
  const h = await startHarness(site);
  try {
    const r = await fetchReply(h.admin + '/metrics', { host: 'evil.example' });
    assert.equal(r.status, 421);
    assert.equal(r.text.includes('strata_'), false, 'no metrics leak');
    const head = await fetchReply(h.admin + '/metrics', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal((await fetchReply(h.admin + '/metrics', {}, 'POST', '')).status, 405);
  } finally {
    await h.close();
  }
});

test('/readyz: 200 once the disk index is loaded, and still 200 while the only upstream is down (reported, not a check); /healthz stays 200', async () => {
  const h = await startHarness(site, {
    origin: { healthCheck: { path: '/health', intervalMs: 20, timeoutMs: 500, healthyThreshold: 1, unhealthyThreshold: 1, expectStatuses: [[200, 299]] } },
  });
  try {
    await h.node.ready();
    const ready = await readyzUntil(h, 200, 'ready');
    assert.deepEqual(ready.body.checks, { listening: true, diskLoaded: true });
    assert.equal(ready.body.upstreamAvailable, true);

    await h.origin.close();
    const s = await scrapeUntil(h, (x) => x.samples.get(`strata_upstream_available{upstream="${h.origin.url}"}`) === 0, 'the upstream unavailable');
    assert.equal(s.samples.get(`strata_upstream_state{upstream="${h.origin.url}",state="unhealthy"}`), 1);
    // A node whose origin is down still serves what it holds: taking it (and every
    // node sharing that origin) out of the load balancer would turn an origin outage
    // into a total one. nginx and Varnish have no readiness that follows backends.
    const down = await readyz(h);
    assert.equal(down.status, 200);
    assert.deepEqual(down.body.checks, { listening: true, diskLoaded: true });
    assert.equal(down.body.upstreamAvailable, false);
    assert.equal((await fetchReply(h.admin + '/healthz')).status, 200, 'liveness is unaffected');

    await h.origin.reopen();
    await scrapeUntil(h, (x) => x.samples.get(`strata_upstream_available{upstream="${h.origin.url}"}`) === 1, 'the upstream available again');
    const back = await readyz(h);
    assert.deepEqual({ status: back.status, upstreamAvailable: back.body.upstreamAvailable }, { status: 200, upstreamAvailable: true });
  } finally {
    await h.close();
  }
});

test('/readyz names every check that fails (listeners, the disk index still loading) and never answers 200 with one failing', async () => {
  let checks: Readiness = { listening: true, diskLoaded: false };
  const deps = { nodeId: 'n1', allowedHosts: [], stats: new Stats(), registry: new Registry(), readiness: () => checks, upstreamAvailable: () => true, startedAtMs: 0, now: () => 0, purge: () => undefined };
  const server = createAdminListener(createAdminHandler(deps as unknown as AdminDeps));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
    let r = await fetchReply(url);
    assert.equal(r.status, 503);
    assert.deepEqual(JSON.parse(r.text), { status: 'not ready', node: 'n1', notReady: ['diskLoaded'], checks, upstreamAvailable: true });
    checks = { listening: false, diskLoaded: false };
    r = await fetchReply(url);
    assert.equal(r.status, 503);
    assert.deepEqual((JSON.parse(r.text) as { notReady: string[] }).notReady, ['listening', 'diskLoaded']);
    checks = { listening: true, diskLoaded: true };
    r = await fetchReply(url);
    assert.equal(r.status, 200);
    assert.equal(r.headers['cache-control'], 'no-store');
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('the admin listener closes a connection that sends nothing, and caps the connections of one client', async () => {
  const deps = { nodeId: 'n1', allowedHosts: [], stats: new Stats(), registry: new Registry(), readiness: () => ({ listening: true, diskLoaded: true }), upstreamAvailable: () => true, startedAtMs: 0, now: () => 0, purge: () => undefined };
  const server = createAdminListener(createAdminHandler(deps as unknown as AdminDeps), { idleMs: 1_000, perClient: 3 });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const open = () =>
    new Promise<Socket>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(s));
      s.on('error', reject);
    });
  const closed = (s: Socket, withinMs: number) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`still open after ${withinMs} ms`)), withinMs);
      s.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      s.resume();
    });
  try {
    const silent = await open();
    await closed(silent, 5_000);
    const held = await Promise.all([open(), open(), open()]);
    for (const s of held) s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const fourth = await open();
    await closed(fourth, 2_000);
    assert.equal(held.filter((s) => !s.destroyed).length, 3, 'the three admitted stay open while they talk');
    for (const s of held) s.destroy();
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('/metrics that cannot be collected answers 500 METRICS_FAILED (a catalog code) and logs the failure', async () => {
  const h = await startHarness((_req, res) => res.end('ok'), { logLevel: 'info' });
  try {
    // A collector that throws, on the node's own registry (the one the admin API is given).
    new Gauge({ name: 'test_failing_collector', help: 'throws when collected', registers: [h.node.registry], collect() { throw new Error('collector /var/secret exploded'); } });
    const r = await fetchReply(h.admin + '/metrics');
    assert.equal(r.status, 500);
    const body = JSON.parse(r.text) as { error: string; message: string };
    assert.equal(body.error, 'METRICS_FAILED');
    assert.ok('METRICS_FAILED' in ERROR_CATALOG, 'the code is in the error catalog');
    assert.doesNotMatch(body.message, /\/var\/secret/, 'the cause stays in the log');
    const [line] = await h.logged((l) => l.msg === 'admin request failed' && l.admin === '/metrics');
    assert.equal(line!.level, 50, 'logged as an error');
    assert.equal(line!.code, 'METRICS_FAILED');
    assert.match(String(line!.err), /collector \/var\/secret exploded/);
  } finally {
    await h.close();
  }
});
