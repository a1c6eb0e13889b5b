// Reload of cache rules, limits, log level and the refusals (invalid configuration,
// restart-only changes, the admin token, feature hooks); see reload.test.ts for
// upstream changes under load.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'undici';
import { loadConfig } from '../../src/config/load.js';
import { FakeClock } from '../../src/util/clock.js';
import { answersName, fetchReply, until, type OriginHandler, type Reply } from '../fixtures/harness.js';
import { startReloadable, steadyLoad, TOKEN } from './reload-node.js';

test('cache rules reloaded: a stale window applies to entries already stored; their freshness stays what it was when stored', async () => {
  let failing = false;
  let clock!: FakeClock;
  const origin: OriginHandler = (req, res) => {
    if (req.url === '/doc' && failing) {
      res.writeHead(500, { 'content-length': 4 });
      return void res.end('oops');
    }
    if (req.url === '/heur') {
      // No explicit freshness: heuristic, a fraction of the 100 s since Last-Modified.
      res.writeHead(200, { 'last-modified': new Date(clock.now() - 100_000).toUTCString(), 'content-length': 4 });
      return void res.end('heur');
    }
    const body = `v:${req.url}`;
    res.writeHead(200, { 'cache-control': 'max-age=10', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const r = await startReloadable([origin]);
  clock = r.clock;
  try {
    assert.equal((await fetchReply(`${r.base}/doc`)).text, 'v:/doc');
    assert.equal((await fetchReply(`${r.base}/heur`)).text, 'heur');
    await until(() => r.node.stats.counters.stored >= 2, 'stored');
    const load = steadyLoad(r.base, ['/hot']);
    try {
      await load.more(30);
      r.clock.advance(30_000);
      failing = true;
      assert.equal((await fetchReply(`${r.base}/doc`)).status, 500, 'no stale-if-error window yet');
      r.next.cache.staleIfErrorS = 600;
      const answer = await r.reload();
      assert.deepEqual(answer.body.applied, [{ key: 'cache.staleIfErrorS', from: 0, to: 600 }]);
      const stale: Reply = await fetchReply(`${r.base}/doc`);
      assert.equal(stale.status, 200);
      assert.equal(stale.text, 'v:/doc');
      assert.match(stale.headers['cache-status']!, /stale-if-error/);

      // /heur was stored with 10 s of heuristic freshness (0.1 × 100 s). A larger
      // fraction applies to what is stored from now on, not to it: 30 s later it is stale.
      r.next.cache.heuristicFraction = 0.9;
      assert.equal((await r.reload()).status, 200);
      const heur = await fetchReply(`${r.base}/heur`);
      assert.doesNotMatch(heur.headers['cache-status']!, /; ?hit/);
      assert.equal(r.origins[0]!.count('/heur'), 2);
      await load.more(30);
      await load.stop();
      assert.deepEqual(load.failures, []);
    } finally {
      await load.stop();
    }
  } finally {
    await r.close();
  }
});

test('a limit reloaded under load: a longer URL than the new limits.maxUrlBytes is refused from then on', async () => {
  const r = await startReloadable([answersName('A')]);
  const long = `/${'x'.repeat(300)}`;
  const load = steadyLoad(r.base, ['/l1', '/l2']);
  try {
    assert.equal((await fetchReply(r.base + long)).status, 200);
    r.next.limits.maxUrlBytes = 200;
    assert.deepEqual((await r.reload()).body.applied, [{ key: 'limits.maxUrlBytes', from: '8KiB', to: '200' }]);
    const refused = await fetchReply(r.base + long);
    assert.equal(refused.status, 414);
    // The header limit applies to connections accepted after the reload.
    const bigHeader = { 'x-big': 'y'.repeat(6000) };
    assert.equal((await fetchReply(`${r.base}/l1`, bigHeader)).status, 200);
    r.next.limits.maxHeaderBytes = 4096;
    assert.equal((await r.reload()).status, 200);
    const fresh = new Client(r.base);
    try {
      const res = await fresh.request({ method: 'GET', path: '/l1', headers: bigHeader });
      await res.body.dump();
      assert.equal(res.statusCode, 431);
    } finally {
      await fresh.destroy();
    }
    await load.more(40);
    await load.stop();
    assert.deepEqual(load.failures, []);
  } finally {
    await load.stop();
    await r.close();
  }
});

test('log level reloaded: warn turns the access lines off, info turns them on again', async () => {
  const r = await startReloadable([answersName('A')], { logLevel: 'info' });
  const accessFor = (url: string) => r.logs.filter((l) => l.msg === 'access' && l.url === url);
  const load = steadyLoad(r.base, ['/g1']);
  try {
    await fetchReply(`${r.base}/before`);
    await until(() => accessFor('/before').length === 1, 'the access line of /before');
    r.next.logLevel = 'warn';
    assert.equal((await r.reload()).status, 200);
    await fetchReply(`${r.base}/while-warn`);
    r.next.logLevel = 'info';
    assert.equal((await r.reload()).status, 200);
    await fetchReply(`${r.base}/after`);
    await until(() => accessFor('/after').length === 1, 'the access line of /after');
    assert.equal(accessFor('/while-warn').length, 0);
    await load.more(20);
    await load.stop();
    assert.deepEqual(load.failures, []);
  } finally {
    await load.stop();
    await r.close();
  }
});

test('an invalid configuration is refused with its one-line error; the old one keeps serving', async () => {
  const r = await startReloadable([answersName('A')], { logLevel: 'error' });
  const load = steadyLoad(r.base, ['/i1', '/i2']);
  try {
    await load.more(20);
    const running = r.node.config();
    r.source = () => loadConfig({ argv: [], env: {}, hostname: 'h', file: 'strata.yaml', readFile: () => 'origin:\n  url: http://127.0.0.1:1\n  balancer: fastest\n' });
    const answer = await r.reload();
    assert.equal(answer.status, 422);
    assert.equal(answer.body.error, 'RELOAD_REFUSED');
    assert.match(answer.body.message as string, /^config file strata\.yaml: origin\.balancer: "fastest" .*expected/);
    assert.ok(!(answer.body.message as string).includes('\n'));
    assert.equal(r.node.config(), running, 'the running configuration is unchanged');
    assert.deepEqual([r.node.stats.counters.reloads, r.node.stats.counters.reloadsRefused], [0, 1]);
    await until(() => r.logs.some((l) => l.level === 50 && /reload refused/.test(String(l.msg))), 'the refusal logged');
    await load.more(40);
    assert.equal(load.seen('A') > 0, true);
    await load.stop();
    assert.deepEqual(load.failures, []);
  } finally {
    await load.stop();
    await r.close();
  }
});

test('restart-only changes are named with running and configured values and not applied; live ones beside them are', async () => {
  const r = await startReloadable([answersName('A')]);
  try {
    const port = r.node.proxyAddress().port;
    r.next.listen = { host: '127.0.0.1', port: port + 1 };
    r.next.cache.dir = '/somewhere/else';
    r.next.cache.memoryMaxBytes = 1024 * 1024;
    r.next.cache.staleWhileRevalidateS = 5;
    const answer = await r.reload();
    assert.equal(answer.status, 200);
    const restart = answer.body.restartRequired as { key: string; from: unknown; to: unknown }[];
    assert.deepEqual(restart.map((c) => c.key), ['listen', 'cache.dir', 'cache.memoryMaxBytes']);
    assert.deepEqual(restart[0], { key: 'listen', from: `127.0.0.1:0`, to: `127.0.0.1:${port + 1}` });
    assert.deepEqual(answer.body.applied, [{ key: 'cache.staleWhileRevalidateS', from: 0, to: 5 }]);
    assert.equal(r.node.proxyAddress().port, port);
    assert.equal(r.node.config().cache.staleWhileRevalidateS, 5);
    assert.notEqual(r.node.config().cache.dir, '/somewhere/else');
    assert.equal((await fetchReply(`${r.base}/still`)).status, 200);
    // Still pending: the next reload of the same sources names them again.
    const again = await r.reload();
    assert.deepEqual((again.body.restartRequired as { key: string }[]).map((c) => c.key), ['listen', 'cache.dir', 'cache.memoryMaxBytes']);
    assert.deepEqual(again.body.applied, []);
    assert.match(await (await fetchReply(`http://127.0.0.1:${r.node.adminAddress().port}/metrics`)).text, /^strata_reloads_total 2$/m);
  } finally {
    await r.close();
  }
});

test('POST /reload needs the admin token; nothing changed answers "unchanged"; GET is 405', async () => {
  const r = await startReloadable([answersName('A')]);
  try {
    const url = `http://127.0.0.1:${r.node.adminAddress().port}/reload`;
    for (const refused of [await fetchReply(url, {}, 'POST'), await fetchReply(url, { authorization: 'Bearer wrong' }, 'POST')]) {
      assert.equal(refused.status, 401);
      assert.match(refused.headers['www-authenticate'] ?? '', /^Bearer/, 'a 401 names its scheme (RFC 9110 §11.6.1)');
      assert.equal(JSON.parse(refused.text).error, 'UNAUTHORIZED');
    }
    assert.equal((await fetchReply(url, { authorization: `Bearer ${TOKEN}` })).status, 405);
    const answer = await r.reload();
    assert.deepEqual(answer.body, { status: 'unchanged', applied: [], restartRequired: [] });
    // A new token applies at once: the old one no longer works.
    r.next.admin.token = 'rotated';
    assert.deepEqual((await r.reload()).body.applied, [{ key: 'admin.token', from: '(secret)', to: '(secret)', hidden: 'changed in a part not shown (a secret, a password)' }]);
    assert.equal((await fetchReply(url, { authorization: `Bearer ${TOKEN}` }, 'POST')).status, 401);
    assert.equal((await fetchReply(url, { authorization: 'Bearer rotated' }, 'POST')).status, 200);
  } finally {
    await r.close();
  }
});

test('reload hooks: a hook refusing in check() refuses the reload and nothing is applied; apply() gets the new config', async () => {
  const r = await startReloadable([answersName('A')]);
  try {
    const applied: number[] = [];
    let refuse = true;
    r.node.onReload({
      name: 'tls',
      check: () => {
        if (refuse) throw new Error('cert.pem: not a PEM certificate');
      },
      apply: (next) => void applied.push(next.cache.staleIfErrorS),
    });
    r.next.cache.staleIfErrorS = 30;
    const answer = await r.reload();
    assert.equal(answer.status, 422);
    assert.equal(answer.body.message, 'tls: cert.pem: not a PEM certificate');
    assert.equal(r.node.config().cache.staleIfErrorS, 0);
    assert.deepEqual(applied, []);
    refuse = false;
    assert.equal((await r.reload()).status, 200);
    assert.deepEqual(applied, [30]);
    // Every reload runs the hooks, changed settings or not (a certificate file may have changed).
    assert.equal((await r.reload()).body.status, 'unchanged');
    assert.deepEqual(applied, [30, 30]);
  } finally {
    await r.close();
  }
});
