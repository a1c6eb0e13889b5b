// The node's counters on /metrics (no `worker` label), and on /stats, only ever grow while the
// node runs: a worker restarted after a crash starts its counters from zero, and a
// worker that does not answer in time (busy, stopped) is left out of that scrape,
// yet the node's sum keeps what those workers had counted. Before, the sum fell by
// that worker's share and rose again: Prometheus reads a fall as a counter reset
// (process_start_time_seconds, the oldest worker's, did not move), so rate() and
// increase() showed the node's whole count again as new requests.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { get, servedBy, startWorkers, stopAll, versionedOrigin } from '../fixtures/workers.js';

/** The node's value of `name` (no worker label) and worker `w`'s. */
function values(text: string, name: string, w: string): { node: number; worker: number | undefined } {
  let node = NaN;
  let worker: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^([^{ ]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (m[2] === undefined) node = Number(m[3]);
    else if (m[2] === `{worker="${w}"}`) worker = Number(m[3]);
  }
  return { node, worker };
}

const RECEIVED = 'strata_requests_received_total';

/** GET /metrics (or `path`) on the node's admin address, waiting as long as it takes a silent worker's ask to time out. */
function scrape(admin: string, path = '/metrics'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${admin}${path}`, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.setTimeout(20_000, () => req.destroy(new Error('no answer within 20 s')));
  });
}

test('2 workers: the node\'s counters on /metrics and /stats do not fall when a worker restarts or does not answer', async () => {
  const origin = await versionedOrigin(0);
  const dir = await mkdtemp(join(tmpdir(), 'strata-workers-metrics-'));
  const { s, base, admin, pids } = await startWorkers(2, origin, dir);
  let w1 = pids[1]!;
  try {
    let sent = 0;
    const on = new Set<string>();
    for (; sent < 20 || on.size < 2; sent++) on.add(servedBy(await get(base, `/m${sent % 5}`)));
    const before = values(await scrape(admin), RECEIVED, 'w1');
    assert.equal(before.node, sent);
    assert.ok(before.worker! > 0, 'w1 counted some');
    // The dashboard asks /stats every second: the node has seen every worker's figures.
    assert.equal((JSON.parse(await scrape(admin, '/stats')) as { requests: number }).requests, sent);

    // Stopped (as a worker too busy to answer within the admin view's wait): left out of the scrape.
    process.kill(w1, 'SIGSTOP');
    let silent;
    let silentStats: { requests: number; workersAnswering: number };
    try {
      const [text, stats] = await Promise.all([scrape(admin), scrape(admin, '/stats')]);
      silent = values(text, RECEIVED, 'w1');
      silentStats = JSON.parse(stats) as typeof silentStats;
    } finally {
      process.kill(w1, 'SIGCONT');
    }
    assert.equal(silent.worker, undefined, 'w1 did not answer');
    assert.equal(silent.node, sent, 'the node still counts what w1 had counted');
    assert.equal(silentStats.workersAnswering, 1);
    assert.equal(silentStats.requests, sent, '/stats too');

    // Restarted: its own counters start again from zero; the node's do not.
    const from = s.lines.length;
    process.kill(w1, 'SIGKILL');
    w1 = (await s.logged((l) => l.msg === 'worker restarted' && l.worker === 1, 'worker 1 restarted', { from })).pid as number;
    const after = values(await scrape(admin), RECEIVED, 'w1');
    assert.equal(after.worker, 0, 'the restarted worker counts from zero');
    assert.equal(after.node, sent, 'the node keeps what w1 counted before it died');
    assert.equal((JSON.parse(await scrape(admin, '/stats')) as { requests: number }).requests, sent, '/stats too');
    await get(base, '/m0');
    await get(base, '/m1');
    assert.equal(values(await scrape(admin), RECEIVED, 'w1').node, sent + 2);

    await stopAll(s, [pids[0]!, w1]);
  } finally {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
