// The deploy of README.md's "Zero-downtime deploys", done exactly as written:
// config/deploy-drain.sh (curl against the admin API) drains one of two
// upstreams while clients keep sending requests, waits until its in-flight
// requests have finished, restarts it, waits until it answers, and puts it
// back. Not one client request fails. Real origins, real node, real curl.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetchReply, startPoolHarness, until, type OriginHandler } from '../fixtures/harness.js';

const TOKEN = 'deploy-token';

function upstream(name: string, hold?: Promise<void>): OriginHandler {
  return (req, res) => {
    const answer = () => {
      res.writeHead(200, { 'cache-control': 'no-store', 'content-length': name.length });
      res.end(name);
    };
    if (req.url === '/hold' && hold) void hold.then(answer);
    else answer();
  };
}

interface DrainState {
  state: string;
  inFlight: number;
}

test('deploy-drain.sh under load: drain, wait for drained, restart, undrain, with no failed request', async () => {
  let release!: () => void;
  const hold = new Promise<void>((r) => (release = r));
  const h = await startPoolHarness([{ handler: upstream('a', hold) }, { handler: upstream('b') }], { admin: { token: TOKEN }, origin: { balancer: 'round-robin' } });
  const a = h.origins[0]!;
  const drainState = async () => JSON.parse((await fetchReply(`${h.admin}/upstreams/drain?upstream=${encodeURIComponent(a.url)}`)).text) as DrainState;
  // What "restart" does here: the upstream's listener goes away and comes back on its port.
  let atRestart: DrainState | undefined;
  const control = http.createServer((_req, res) => {
    void (async () => {
      atRestart = await drainState();
      await a.close();
      await a.reopen();
      res.end('restarted\n');
    })();
  });
  await new Promise<void>((r) => control.listen(0, '127.0.0.1', r));
  const controlUrl = `http://127.0.0.1:${(control.address() as AddressInfo).port}/restart`;

  let stop = false;
  const failures: string[] = [];
  let sent = 0;
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      sent++;
      try {
        const r = await h.get(`/load/${w}/${i}`);
        if (r.status !== 200) failures.push(`${r.status} ${r.text}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  try {
    const workers = Array.from({ length: 8 }, (_, w) => worker(w));
    await until(() => a.count() > 20, 'load on upstream a');
    // Requests in flight on a when the drain starts: they must finish, and drained waits for them.
    const held = Array.from({ length: 4 }, () => h.get('/hold'));
    await until(() => a.count('/hold') >= 1, 'a request held on upstream a');

    const script = spawn('sh', ['config/deploy-drain.sh', a.url, '/', 'curl', '-fsS', '-X', 'POST', controlUrl], {
      env: { ...process.env, ADMIN_URL: h.admin, STRATA_ADMIN_TOKEN: TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    script.stdout.on('data', (c: Buffer) => (output += c.toString()));
    script.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((r) => script.once('close', r));

    // Draining, not drained: the held request is still in flight on a.
    let draining: DrainState | undefined;
    const deadline = Date.now() + 5000;
    while (!draining && Date.now() < deadline) {
      const s = await drainState();
      if (s.state === 'draining') draining = s;
    }
    assert.ok(draining && draining.inFlight >= 1, `never saw a draining with requests in flight: ${JSON.stringify(draining)}`);
    const beforeRelease = a.count();
    const notNew = a.count('/hold');
    release();
    for (const r of await Promise.all(held)) assert.equal(r.status, 200, 'in-flight requests finish');

    assert.equal(await exited, 0, `deploy-drain.sh failed:\n${output}`);
    assert.match(output, /"state":"drain(ing|ed)"/);
    assert.match(output, new RegExp(`drained: ${a.url}`));
    assert.match(output, /"state":"serving"/);
    assert.deepEqual(atRestart && { state: atRestart.state, inFlight: atRestart.inFlight }, { state: 'drained', inFlight: 0 }, 'restarted only once drained');
    assert.equal(a.count('/hold'), notNew, 'no new held request reached a while draining');
    assert.ok(beforeRelease >= 1);
    // Back in rotation: load reaches a again.
    const afterUndrain = a.requests.length;
    await until(() => a.requests.slice(afterUndrain).some((r) => r.url.startsWith('/load/')), 'load on upstream a after undrain');
    stop = true;
    await Promise.all(workers);
    assert.ok(sent > 50, `only ${sent} requests sent`);
    assert.deepEqual(failures, [], `${failures.length} of ${sent} requests failed`);
    assert.equal((await drainState()).state, 'serving');
  } finally {
    stop = true;
    release();
    control.close();
    await h.close();
  }
});
