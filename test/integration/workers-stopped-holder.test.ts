// A worker that holds a key's lock and stops answering (a stopped or wedged
// process: alive, its links open, silent) does not hold the other workers' clients
// of that key: once its health checks fail, their waits end and each fetches the
// key alone (a second origin fetch, never a hang). Before, they waited on its lock
// for as long as it was stopped, and so did every new miss on that key.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOrigin } from '../fixtures/harness.js';
import { startWorkers, stopAll } from '../fixtures/workers.js';

interface Got {
  status: number;
  body: string;
  cacheStatus: string;
  ms: number;
}

function ask(url: string): Promise<Got> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, cacheStatus: String(res.headers['cache-status']), ms: Date.now() - t0 }));
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')));
  });
}

/** The `<index>.<pid>` of the one lock of the node whose primary is `primaryPid`, once there is one (key-lock.ts lockDirFor). */
async function lockHolder(primaryPid: number): Promise<string> {
  for (const deadline = Date.now() + 10_000; ; ) {
    for (const base of ['/dev/shm', tmpdir()]) {
      const dir = (await readdir(base).catch(() => [])).find((d) => d.startsWith(`strata-${primaryPid}-`) && d.endsWith('-locks'));
      const names = dir ? await readdir(join(base, dir)) : [];
      if (dir && names.length > 0) return readlink(join(base, dir, names[0]!));
    }
    assert.ok(Date.now() < deadline, 'no lock taken');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('2 workers: a lock holder that stops answering does not hang the other worker\'s clients of that key', async () => {
  let fetches = 0;
  const origin = await startOrigin((_req, res) => {
    fetches++;
    // The first fetch is slow: its worker holds the lock when it is stopped.
    setTimeout(() => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': 2 });
      res.end('ok');
    }, fetches === 1 ? 1_000 : 0);
  });
  const dir = await mkdtemp(join(tmpdir(), 'strata-workers-stopped-'));
  const { s, base, pids } = await startWorkers(2, origin, dir);
  let stopped: number | undefined;
  try {
    const first = ask(base + '/k');
    const holder = await lockHolder(s.child.pid!);
    stopped = Number(holder.split('.')[1]);
    process.kill(stopped, 'SIGSTOP');
    // Two fresh connections: node:cluster hands one to each worker; the stopped one's waits.
    const asked = [ask(base + '/k'), ask(base + '/k')];
    const answered = await Promise.race(asked);
    assert.equal(answered.status, 200);
    assert.equal(answered.body, 'ok');
    assert.ok(answered.ms < 15_000, `answered after ${answered.ms} ms`);
    assert.match(answered.cacheStatus, /fwd=uri-miss/, 'fetched alone');
    process.kill(stopped, 'SIGCONT');
    stopped = undefined;
    const all = await Promise.all([first, ...asked]);
    assert.ok(all.every((a) => a.status === 200 && a.body === 'ok'), JSON.stringify(all));
    await stopAll(s, pids);
  } finally {
    if (stopped !== undefined) process.kill(stopped, 'SIGCONT');
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
