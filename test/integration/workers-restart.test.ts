// Worker processes (issue 13), continued from workers.test.ts: a worker killed
// under load costs only its in-flight requests, is restarted and serves its disk
// directory again (no refetch); SIGHUP and POST /reload reach every worker;
// changing the worker count keeps the disk cache.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, spawnStrata, type LogLine } from '../fixtures/spawned.js';
import { get, servedBy, startWorkers, stopAll, versionedOrigin } from '../fixtures/workers.js';

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
    // Which paths reached the origin more than once, and how (seen once under a loaded CI run: 31 for 30).
    const twice = () => JSON.stringify(origin.requests.filter((r) => origin.count(r.url) > 1).map((r) => ({ url: r.url, via: r.headers['via'], cc: r.headers['cache-control'] })));
    assert.equal(origin.requests.length, paths.length, twice());
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
      await three.s.logged((l) => l.msg === 'worker count changed: every worker directory is kept and read; every worker learns at start which worker holds each stored object, so none is fetched again from the origin', 'the change logged');
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

test('a worker killed before it ever started is restarted, and the node still logs its start with every worker', async () => {
  const origin = await versionedOrigin(0);
  const dir = await mkdtemp(join(tmpdir(), 'strata-workers-early-death-'));
  const s = spawnStrata(['--workers', '2', '--node-id', 'n', '--origin', origin.url, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--cache-dir', join(dir, 'cache')], { STRATA_ADMIN_TOKEN: 't' });
  try {
    // The first worker process found (a child of the primary) dies before it reports it started.
    const children = async (): Promise<number[]> => {
      const text = await readFile(`/proc/${s.child.pid}/task/${s.child.pid}/children`, 'utf8').catch(() => '');
      return text.split(' ').filter(Boolean).map(Number);
    };
    let victim: number | undefined;
    const deadline = Date.now() + 10_000;
    while (victim === undefined) {
      assert.ok(Date.now() < deadline, 'no worker process appeared');
      victim = (await children())[0];
      if (victim === undefined) await new Promise((r) => setImmediate(r));
    }
    process.kill(victim, 'SIGKILL');
    const started = await s.logged((l) => l.msg === 'strata workers started', 'the node started with both workers');
    const pids = started.pids as number[];
    assert.equal(pids.length, 2);
    assert.ok(!pids.includes(victim), 'the killed worker was replaced');
    assert.equal(s.lines.some((l) => l.msg === 'worker restarted'), false, 'never counted as a restart of a started worker');
    const a = await get(`http://127.0.0.1:${(started.listen as { port: number }).port}`, '/early');
    assert.equal(a.status, 200);
    await stopAll(s, pids);
  } finally {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
