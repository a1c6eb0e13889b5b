// Routing changes through the node's admin address with several workers: each
// worker routes its own clients, so a canary weight, a drain and an undrain must
// reach every worker before the answer, and the drain status is the node's (every
// worker's in-flight requests; drained only when every worker is).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchReply, startOrigin } from '../fixtures/harness.js';
import { named } from '../fixtures/sites.js';
import { get, servedBy, startWorkers, stopAll } from '../fixtures/workers.js';

test('2 workers: a canary weight, a drain and an undrain through the admin address apply on every worker; the drain status sums them', async () => {
  const main = await startOrigin(named('main', 'no-store'));
  const primary = await startOrigin(named('primary', 'no-store'));
  const canary = await startOrigin(named('canary', 'no-store'));
  const dir = await mkdtemp(join(tmpdir(), 'strata-workers-routing-'));
  const sites = JSON.stringify({ s: { hosts: ['s.example'], default: true, routes: { all: { path: '/', upstream: primary.url, canary: { upstream: canary.url, percent: 0, by: 'random' } } } } });
  const { s, base, admin, pids } = await startWorkers(2, main, dir, ['--sites', sites]);
  const auth = { authorization: 'Bearer t', 'content-type': 'application/json' };
  /** 20 requests, each on a connection of its own (so both workers take some): who answered, by origin and by worker. */
  const round = async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => get(base, `/p${i}`)));
    const origins = new Map<string, number>();
    for (const a of answers) {
      const who = a.status === 200 ? a.body.split(' ')[0]! : String(a.status);
      origins.set(who, (origins.get(who) ?? 0) + 1);
    }
    return { origins: Object.fromEntries(origins), workers: new Set(answers.map(servedBy)) };
  };
  try {
    const weights = await fetchReply(`${admin}/routes/s/all/weights`, auth, 'POST', JSON.stringify({ canary: 100 }));
    assert.equal(weights.status, 200, weights.text);
    let r = await round();
    assert.equal(r.workers.size, 2, 'both workers answered');
    assert.deepEqual(r.origins, { canary: 20 }, 'every worker sends everything to the canary');
    assert.deepEqual(Object.keys(JSON.parse(weights.text).workers as object).sort(), ['w0', 'w1']);

    const drain = await fetchReply(`${admin}/upstreams/drain`, auth, 'POST', JSON.stringify({ upstream: canary.url }));
    assert.equal(drain.status, 200, drain.text);
    r = await round();
    assert.equal(r.workers.size, 2, 'both workers answered');
    assert.deepEqual(r.origins, { primary: 20 }, 'no worker sends a request to the drained canary');
    const status = JSON.parse((await fetchReply(`${admin}/upstreams/drain?upstream=${encodeURIComponent(canary.url)}`)).text) as Record<string, unknown>;
    assert.equal(status.state, 'drained');
    assert.equal(status.inFlight, 0);
    assert.deepEqual(Object.keys(status.workers as object).sort(), ['w0', 'w1']);

    const refused = await fetchReply(`${admin}/upstreams/undrain`, { ...auth, authorization: 'Bearer wrong' }, 'POST', JSON.stringify({ upstream: canary.url }));
    assert.equal(refused.status, 401, refused.text);
    assert.match(refused.headers['www-authenticate'] ?? '', /^Bearer/, 'the refusal names its scheme, as one worker alone does');
    assert.equal(JSON.parse(refused.text).error, 'UNAUTHORIZED');
    // /reload with a wrong token: the node's answer is the refusal (error and message on top), not only per worker.
    const reload = await fetchReply(`${admin}/reload`, { authorization: 'Bearer wrong' }, 'POST');
    assert.equal(reload.status, 401, reload.text);
    assert.match(reload.headers['www-authenticate'] ?? '', /^Bearer/);
    assert.equal(JSON.parse(reload.text).error, 'UNAUTHORIZED');
    assert.equal(typeof JSON.parse(reload.text).message, 'string');
    assert.deepEqual(Object.keys(JSON.parse(reload.text).workers as object).sort(), ['w0', 'w1']);
    const undrain = await fetchReply(`${admin}/upstreams/undrain`, auth, 'POST', JSON.stringify({ upstream: canary.url }));
    assert.equal(undrain.status, 200, undrain.text);
    assert.equal(JSON.parse(undrain.text).state, 'serving');
    r = await round();
    assert.deepEqual(r.origins, { canary: 20 }, 'every worker sends to the canary again');
  } finally {
    await stopAll(s, pids);
    await Promise.all([main.close(), primary.close(), canary.close()]);
    await rm(dir, { recursive: true, force: true });
  }
});

test('2 workers: a worker restarted after a crash takes the admin API\'s drains and canary weights before it serves', async () => {
  const main = await startOrigin(named('main', 'no-store'));
  const primary = await startOrigin(named('primary', 'no-store'));
  const canaryX = await startOrigin(named('canaryX', 'no-store'));
  const canaryY = await startOrigin(named('canaryY', 'no-store'));
  const dir = await mkdtemp(join(tmpdir(), 'strata-workers-routing-restart-'));
  // Route x: the file gives its canary 0 % (the API raises it); route y: 100 % (the API drains its canary).
  const sites = JSON.stringify({
    s: {
      hosts: ['s.example'],
      default: true,
      routes: {
        x: { path: '/x/', upstream: primary.url, canary: { upstream: canaryX.url, percent: 0, by: 'random' } },
        y: { path: '/y/', upstream: primary.url, canary: { upstream: canaryY.url, percent: 100, by: 'random' } },
      },
    },
  });
  const { s, base, admin, pids } = await startWorkers(2, main, dir, ['--sites', sites]);
  const auth = { authorization: 'Bearer t', 'content-type': 'application/json' };
  const round = async (prefix: string) => {
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => get(base, `${prefix}${i}`)));
    const origins = new Map<string, number>();
    for (const a of answers) {
      const who = a.status === 200 ? a.body.split(' ')[0]! : String(a.status);
      origins.set(who, (origins.get(who) ?? 0) + 1);
    }
    return { origins: Object.fromEntries(origins), workers: new Set(answers.map(servedBy)) };
  };
  let restartedPid: number | undefined;
  try {
    assert.equal((await fetchReply(`${admin}/routes/s/x/weights`, auth, 'POST', JSON.stringify({ canary: 100 }))).status, 200);
    assert.equal((await fetchReply(`${admin}/upstreams/drain`, auth, 'POST', JSON.stringify({ upstream: canaryY.url }))).status, 200);
    const from = s.lines.length;
    process.kill(pids[1]!, 'SIGKILL');
    const restarted = await s.logged((l) => l.msg === 'worker restarted' && l.worker === 1, 'worker 1 restarted', { from });
    restartedPid = restarted.pid as number;
    const x = await round('/x/');
    assert.ok(x.workers.has('w1'), `the restarted worker answered some (${[...x.workers].join(', ')})`);
    assert.deepEqual(x.origins, { canaryX: 20 }, 'the canary weight set through the API holds on the restarted worker');
    const y = await round('/y/');
    assert.ok(y.workers.has('w1'), `the restarted worker answered some (${[...y.workers].join(', ')})`);
    assert.deepEqual(y.origins, { primary: 20 }, 'the drained canary stays drained on the restarted worker');
  } finally {
    await stopAll(s, [pids[0]!, restartedPid ?? pids[1]!]);
    await Promise.all([main.close(), primary.close(), canaryX.close(), canaryY.close()]);
    await rm(dir, { recursive: true, force: true });
  }
});
