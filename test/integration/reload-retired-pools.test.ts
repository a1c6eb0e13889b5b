// A reload that replaces an upstream pool (new pool settings, a route renamed or
// removed) must not fail the requests routed to the old pool before it: one still
// waiting on forward-auth reaches that pool only after the reload. The old pool is
// closed once the older generations' requests are over, or at the deadline
// (limits.shutdownGraceMs), after which what still reaches it goes to its successor.

import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { sitesKind } from '../../src/config/sites.js';
import type { Config } from '../../src/config/types.js';
import { startAuthService, type AuthService } from '../fixtures/edge.js';
import { fetchReply, fixed, until } from '../fixtures/harness.js';
import { eventually, startReloadable, TOKEN, type Reloadable } from './reload-node.js';

/** An auth service that holds every question until the test lets it answer 200. */
async function heldAuth(): Promise<AuthService & { release(): void }> {
  const held: ServerResponse[] = [];
  const auth = await startAuthService((_req, res) => void held.push(res));
  return Object.assign(auth, {
    release() {
      for (const res of held.splice(0)) {
        res.writeHead(200);
        res.end();
      }
    },
  });
}

const closedLine = (r: Reloadable) => r.logs.filter((l) => l.msg === 'closing an upstream pool a reload replaced');

function withForwardAuth(edge: Config['edge'], url: string): Config['edge'] {
  return { ...edge, forwardAuth: { ...edge.forwardAuth, url, cacheTtlMs: 0 } };
}

/**
 * A node whose requests wait on a held forward-auth service, one request /x waiting on it,
 * then a reload that gives the upstream a new pool (new settings): the old pool is retired
 * while /x, routed to it, still waits.
 */
async function waitingAcrossReload(shutdownGraceMs: number) {
  const auth = await heldAuth();
  const r = await startReloadable([fixed('hello', { 'cache-control': 'no-store' })], { logLevel: 'info', limits: { shutdownGraceMs } });
  r.next.edge = withForwardAuth(r.next.edge, auth.url);
  assert.equal((await r.reload()).status, 200);
  const inFlight = fetchReply(r.base + '/x');
  await until(() => auth.asked.length === 1, 'the auth service asked');
  // New pool settings: the upstream gets a new undici pool; the old one is retired.
  r.next.origin = { ...r.next.origin, connectTimeoutMs: 3000 };
  assert.equal((await r.reload()).status, 200);
  return { auth, r, inFlight };
}

test('a request waiting on forward-auth across a reload that gives its upstream a new pool is answered; the old pool closes once it is over', async () => {
  const { auth, r, inFlight } = await waitingAcrossReload(60_000);
  try {
    assert.equal(closedLine(r).length, 0, 'the retired pool stays open while a request routed to it waits');
    auth.release();
    const res = await inFlight;
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'hello');
    await until(() => closedLine(r).length === 1, 'the retired pool closed');
    assert.equal(closedLine(r)[0]!.after, 'requests over');
    // New requests use the new pool.
    const next = fetchReply(r.base + '/y');
    await until(() => auth.asked.length === 2, 'the auth service asked again');
    auth.release();
    assert.equal((await next).status, 200);
    assert.equal(r.logs.filter((l) => (l.level as number) >= 40).length, 0, JSON.stringify(r.logs.filter((l) => (l.level as number) >= 40)));
  } finally {
    await r.close();
    await auth.close();
  }
});

test('a route removed by a reload while its request waits on forward-auth: answered by the removed route\'s upstream', async () => {
  const auth = await heldAuth();
  const r = await startReloadable([fixed('main', { 'cache-control': 'no-store' }), fixed('api', { 'cache-control': 'no-store' })], { logLevel: 'info', limits: { shutdownGraceMs: 60_000 } });
  try {
    const sites = (routes: Record<string, unknown>) => sitesKind().parse({ s: { hosts: ['s.example'], default: true, routes } }) as Config['sites'];
    const all = { path: '/', upstream: r.origins[0]!.url };
    r.next.sites = sites({ all, api: { path: '/api/', upstream: r.origins[1]!.url } });
    r.next.edge = withForwardAuth(r.next.edge, auth.url);
    assert.equal((await r.reload()).status, 200);
    const inFlight = fetchReply(r.base + '/api/x');
    await until(() => auth.asked.length === 1, 'the auth service asked');
    r.next.sites = sites({ all });
    assert.equal((await r.reload()).status, 200);
    auth.release();
    const res = await inFlight;
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'api');
    await until(() => closedLine(r).some((l) => l.upstreams === r.origins[1]!.url), 'the removed route\'s pool closed');
  } finally {
    await r.close();
    await auth.close();
  }
});

test('past the deadline the retired pool is closed: a request reaching it later goes to its successor', async () => {
  const { auth, r, inFlight } = await waitingAcrossReload(100);
  try {
    await until(() => closedLine(r).length === 1, 'the retired pool closed at the deadline');
    assert.equal(closedLine(r)[0]!.after, 'deadline');
    auth.release();
    const res = await inFlight;
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'hello');
  } finally {
    await r.close();
    await auth.close();
  }
});

test('drain: a transfer on a pool a reload replaced keeps the upstream "draining" until it ends', async () => {
  let finish: (() => void) | undefined;
  const slow = (_req: unknown, res: ServerResponse) => {
    res.writeHead(200, { 'cache-control': 'no-store', 'content-length': 10 });
    res.write('hello');
    finish = () => res.end('world');
  };
  const r = await startReloadable([slow], { limits: { shutdownGraceMs: 60_000 } });
  try {
    const admin = `http://127.0.0.1:${r.node.adminAddress().port}`;
    const up = r.origins[0]!.url;
    const inFlight = fetchReply(r.base + '/x');
    await until(() => finish !== undefined, 'the origin answering');
    r.next.origin = { ...r.next.origin, connectTimeoutMs: 3000 };
    assert.equal((await r.reload()).status, 200);
    const drain = await fetchReply(`${admin}/upstreams/drain`, { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, 'POST', JSON.stringify({ upstream: up }));
    assert.equal(drain.status, 200, drain.text);
    assert.deepEqual(JSON.parse(drain.text), { upstream: up, state: 'draining', inFlight: 1, pools: 2 });
    finish!();
    assert.equal((await inFlight).text, 'helloworld');
    await eventually(async () => (JSON.parse((await fetchReply(`${admin}/upstreams/drain?upstream=${encodeURIComponent(up)}`)).text) as { state: string }).state === 'drained', 'drained once the transfer ended');
  } finally {
    await r.close();
  }
});
