// Worker processes (issue 13): a real `strata --workers N` process tree behaves
// as one cache. Two and three workers: a herd is one origin fetch; an object one
// worker stored is a hit on another; a purge is applied on every worker before
// it is answered; /stats sums the workers; a worker killed under load costs only
// its in-flight requests, is restarted and serves its disk directory again
// (no refetch); SIGHUP reloads every worker; SIGTERM stops them all cleanly.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOrigin, type TestOrigin } from '../fixtures/harness.js';
import { alive, spawnStrata, type LogLine, type Spawned } from '../fixtures/spawned.js';

interface Answer {
  status: number;
  body: string;
  cacheStatus: string;
}

/** One request on a connection of its own, so node:cluster hands it to the next worker. */
function get(base: string, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(base + path, { method, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), cacheStatus: String(res.headers['cache-status'] ?? '') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    // A connection handed to a worker as it was killed may never be answered.
    req.setTimeout(5_000, () => req.destroy(new Error('no answer within 5 s')));
    req.end();
  });
}

/** Which worker answered the client (the last Cache-Status member: RFC 9211 §2, each cache appends its own). */
const servedBy = (a: Answer): string => /\.(w\d+);[^,]*$/.exec(a.cacheStatus)?.[1] ?? '?';

/** An origin answering `<path> v<n>` (n counts its fetches of that path), slowly so herds overlap. */
async function versionedOrigin(delayMs = 300): Promise<TestOrigin> {
  const seen = new Map<string, number>();
  return startOrigin((req, res) => {
    const n = (seen.get(req.url!) ?? 0) + 1;
    seen.set(req.url!, n);
    const body = `${req.url} v${n}`;
    setTimeout(() => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }, delayMs);
  });
}

async function startWorkers(workers: number, origin: TestOrigin, dir: string, extra: string[] = []): Promise<{ s: Spawned; base: string; admin: string; pids: number[] }> {
  const s = spawnStrata(['--workers', String(workers), '--node-id', 'n', '--origin', origin.url, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--cache-dir', join(dir, 'cache'), ...extra], { STRATA_ADMIN_TOKEN: 't' });
  const started = await s.logged((l) => l.msg === 'strata workers started', 'the workers');
  const port = (started.listen as { port: number }).port;
  const admin = (started.admin as { port: number }).port;
  return { s, base: `http://127.0.0.1:${port}`, admin: `http://127.0.0.1:${admin}`, pids: started.pids as number[] };
}

async function stopAll(s: Spawned, pids: number[]): Promise<void> {
  s.child.kill('SIGTERM');
  assert.equal(await s.exited(), 0, s.stderr());
  for (const pid of pids) assert.equal(alive(pid), false, `worker ${pid} stopped`);
  assert.equal(s.stderr(), '');
}

for (const workers of [2, 3]) {
  test(`${workers} workers: a herd is one origin fetch, stored by one is a hit on every other, a purge reaches all before its answer`, async () => {
    const origin = await versionedOrigin();
    const dir = await mkdtemp(join(tmpdir(), 'strata-workers-'));
    const { s, base, admin, pids } = await startWorkers(workers, origin, dir);
    try {
      assert.equal(pids.length, workers);
      const herd = await Promise.all(Array.from({ length: 150 }, () => get(base, '/herd')));
      assert.equal(origin.count('/herd'), 1, 'one origin fetch for the whole node');
      assert.ok(herd.every((a) => a.status === 200 && a.body === '/herd v1'));
      const answering = new Set(herd.map(servedBy));
      assert.equal(answering.size, workers, `every worker took part: ${[...answering].join(',')}`);

      // Stored by one (the owner), a hit on every worker: fresh connections go round the workers.
      const after = await Promise.all(Array.from({ length: workers * 3 }, () => get(base, '/herd')));
      assert.ok(after.every((a) => a.body === '/herd v1' && /hit/.test(a.cacheStatus)), after.map((a) => a.cacheStatus).join('\n'));
      assert.equal(origin.count('/herd'), 1);

      // A miss is fetched by the worker that received it (no hop to an owner); an object one
      // worker stored is then a hit on each other one, taken from that worker, not the origin.
      const first = await get(base, '/one');
      const fetchedBy = servedBy(first);
      const others = new Set<string>();
      for (let i = 0; i < workers * 6 && others.size < workers - 1; i++) {
        const a = await get(base, '/one');
        assert.equal(a.body, '/one v1');
        if (servedBy(a) !== fetchedBy) {
          others.add(servedBy(a));
          assert.match(a.cacheStatus, new RegExp(`n\\.${fetchedBy}; hit`), a.cacheStatus);
        }
      }
      assert.equal(others.size, workers - 1, 'every other worker asked');
      assert.equal(origin.count('/one'), 1);

      // A purge through any worker is applied on all before it answers.
      const purge = await get(base, '/herd', 'PURGE', { authorization: 'Bearer t' });
      assert.equal(purge.status, 200, purge.body);
      const peers = (JSON.parse(purge.body) as { peers: Record<string, string> }).peers;
      assert.equal(Object.values(peers).filter((v) => v === 'acked').length, workers - 1, purge.body);
      const fresh = await Promise.all(Array.from({ length: workers * 3 }, () => get(base, '/herd')));
      assert.ok(fresh.every((a) => a.body === '/herd v2'), fresh.map((a) => a.body).join(','));
      assert.equal(origin.count('/herd'), 2);

      // The node's /stats sums the workers and lists each.
      const stats = JSON.parse((await get(admin, '/stats')).body) as {
        requests: number;
        workerCount: number;
        workers: Record<string, { requests: number; peers: { workerMisses: { missesFromOrigin: number; missesFromOtherWorkers: number } } }>;
      };
      const misses = Object.values(stats.workers).map((w) => w.peers.workerMisses);
      // /herd twice (before and after the purge) and /one: each fetched once from the origin, by one worker.
      assert.equal(misses.reduce((n, m) => n + m.missesFromOrigin, 0), 3, JSON.stringify(misses));
      assert.ok(misses.reduce((n, m) => n + m.missesFromOtherWorkers, 0) >= 2 * (workers - 1), JSON.stringify(misses));
      assert.equal(stats.workerCount, workers);
      assert.equal(Object.keys(stats.workers).length, workers);
      assert.equal(stats.requests, Object.values(stats.workers).reduce((n, w) => n + w.requests, 0));
      assert.ok(stats.requests >= 150 + workers * 6 + workers);
      const metrics = (await get(admin, '/metrics')).body;
      assert.match(metrics, /worker="w1"/);

      await stopAll(s, pids);
    } finally {
      if (s.child.exitCode === null) s.child.kill('SIGKILL');
      await origin.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('2 workers: one killed under load loses only its in-flight requests, restarts, and serves its disk directory again; SIGHUP reloads all', async () => {
  const origin = await versionedOrigin(0);
  const dir = await mkdtemp(join(tmpdir(), 'strata-workers-kill-'));
  const file = join(dir, 'strata.yaml');
  await writeFile(file, 'logLevel: info\n');
  const { s, base, admin, pids } = await startWorkers(2, origin, dir, ['--config', file]);
  try {
    const paths = Array.from({ length: 20 }, (_, i) => `/obj-${i}`);
    // Warm: each object served by both workers (an owner copy, and an edge copy on the other);
    // one connection at a time, node:cluster hands them to the workers in turn.
    for (const p of paths) {
      const by = new Set<string>();
      for (let i = 0; i < 10 && by.size < 2; i++) by.add(servedBy(await get(base, p)));
      assert.equal(by.size, 2, `${p} served by both workers`);
    }
    const fetched = origin.requests.length;
    assert.equal(fetched, paths.length);

    // Load: 10 loops of requests on fresh connections, while worker 1 is killed.
    let running = true;
    let ok = 0;
    let failed = 0;
    const whys: string[] = [];
    const loops = Array.from({ length: 10 }, async (_, i) => {
      for (let j = i; running; j++) {
        try {
          const a = await get(base, paths[j % paths.length]!);
          if (a.status === 200) ok++;
          else failed++;
        } catch (err) {
          failed++;
          whys.push((err as Error).message);
        }
      }
    });
    while (ok < 100) await new Promise((r) => setTimeout(r, 5));
    const from = s.lines.length;
    process.kill(pids[1]!, 'SIGKILL');
    const restarted = await s.logged((l) => l.msg === 'worker restarted' && l.worker === 1, 'worker 1 restarted', { from });
    await s.logged((l) => l.node === 'n.w1' && l.msg === 'disk tier: index loaded', 'worker 1 loaded its disk index', { from });
    const okAtRestart = ok;
    while (ok < okAtRestart + 100) await new Promise((r) => setTimeout(r, 5));
    running = false;
    await Promise.all(loops);
    // At most the requests in flight on the killed worker (one per loop) failed.
    assert.ok(failed <= 10, `${failed} failed: ${whys.join(', ')}`);
    assert.ok(alive(restarted.pid as number));
    assert.equal(alive(pids[1]!), false);
    // Cache intact: nothing was fetched again (worker 1 read its own directory back).
    const again = await Promise.all(paths.flatMap((p) => [get(base, p), get(base, p)]));
    assert.ok(again.every((a) => a.status === 200 && a.body.endsWith(' v1')), again.map((a) => `${a.status} ${a.body} ${a.cacheStatus}`).join('\n'));
    assert.equal(origin.requests.length, fetched, 'no object fetched twice');

    // SIGHUP: every worker reloads (each logs it).
    const hup = s.lines.length;
    await writeFile(file, 'logLevel: debug\n');
    s.child.kill('SIGHUP');
    const reloaded = (l: LogLine, w: string) => l.node === `n.${w}` && typeof l.msg === 'string' && l.msg.startsWith('configuration reloaded');
    await s.logged((l) => reloaded(l, 'w0'), 'w0 reloaded', { from: hup });
    await s.logged((l) => reloaded(l, 'w1'), 'w1 reloaded', { from: hup });

    // POST /reload on the node's admin address: every worker, answered once all did.
    const reload = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${admin}/reload`, { method: 'POST', agent: false, headers: { authorization: 'Bearer t' } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(reload.status, 200, reload.body);
    assert.deepEqual(Object.keys((JSON.parse(reload.body) as { workers: object }).workers), ['w0', 'w1']);

    await stopAll(s, [pids[0]!, restarted.pid as number]);
  } finally {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('changing the worker count keeps the disk cache: 2 → 3 finds stored objects through the owners\' directories, 3 → 2 names the unused directory', async () => {
  const origin = await versionedOrigin(0);
  const dir = await mkdtemp(join(tmpdir(), 'strata-workers-count-'));
  const paths = Array.from({ length: 30 }, (_, i) => `/moved-${i}`);
  // The key names the Host: the same one across starts (each start listens on a new port).
  const SITE = { host: 'site.test' };
  try {
    const two = await startWorkers(2, origin, dir);
    await Promise.all(paths.map((p) => get(two.base, p, 'GET', SITE)));
    assert.equal(origin.requests.length, paths.length);
    // Every owner copy written to disk (the node's /stats sums the workers' tiers).
    const deadline = Date.now() + 10_000;
    for (;;) {
      const stats = JSON.parse((await get(two.admin, '/stats')).body) as { tiers: { disk: { items: number } } };
      if (stats.tiers.disk.items === paths.length) break;
      assert.ok(Date.now() < deadline, `disk items ${stats.tiers.disk.items}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await stopAll(two.s, two.pids);

    const three = await startWorkers(3, origin, dir);
    try {
      await three.s.logged((l) => l.msg === 'worker count changed: every worker directory is kept and read; the owners learn at start which worker holds each stored object, so none is fetched again from the origin', 'the change logged');
      for (const w of ['w0', 'w1', 'w2']) await three.s.logged((l) => l.node === `n.${w}` && l.msg === 'disk tier: index loaded', `${w} loaded its index`);
      const answers = await Promise.all(paths.flatMap((p) => [get(three.base, p, 'GET', SITE), get(three.base, p, 'GET', SITE)]));
      assert.ok(answers.every((a) => a.status === 200 && a.body.endsWith(' v1')), answers.map((a) => `${a.body} ${a.cacheStatus}`).join('\n'));
      assert.equal(origin.requests.length, paths.length, 'nothing fetched again from the origin');
      assert.ok(answers.some((a) => servedBy(a) === 'w2'));
      await stopAll(three.s, three.pids);
    } finally {
      if (three.s.child.exitCode === null) three.s.child.kill('SIGKILL');
    }

    const again = await startWorkers(2, origin, dir);
    const warned = await again.s.logged((l) => typeof l.msg === 'string' && l.msg.startsWith('worker cache directories left by a start with more workers'), 'the unused directory named');
    assert.deepEqual(warned.unused, ['w2']);
    await stopAll(again.s, again.pids);
  } finally {
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
