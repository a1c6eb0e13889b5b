// Which answers count against an upstream's passive health: a 500 (or 501) is
// the application answering about one URL, so any client asking for a broken
// page over and over must not eject the upstream; 502/503/504 say the server
// cannot serve and do. /readyz follows neither: an ejected upstream leaves the
// node ready (it still serves what it holds and still tries the upstream).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchReply, startPoolHarness, type OriginHandler } from '../fixtures/harness.js';
import { originStats, msgFor } from './upstream-pool-node.js';

const seen = { broken: 0, unavailable: 0 };
const site: OriginHandler = (req, res) => {
  const status = req.url?.startsWith('/broken') ? 500 : req.url?.startsWith('/not-implemented') ? 501 : req.url?.startsWith('/unavailable') ? 503 : 200;
  if (status === 500 || status === 501) seen.broken++;
  if (status === 503) seen.unavailable++;
  const body = `status ${status}`;
  res.writeHead(status, { 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
};

test('many 500s and 501s for one URL leave the upstream healthy; 503s eject it; /readyz stays 200 either way', async () => {
  const h = await startPoolHarness([{ handler: site }], { logLevel: 'info', origin: { passiveHealth: { maxFails: 3, ejectMs: 60_000, maxEjectMs: 120_000 } } });
  try {
    await h.node.ready();
    for (let i = 0; i < 12; i++) assert.equal((await h.get(i % 2 ? '/broken' : '/not-implemented')).status, i % 2 ? 500 : 501);
    assert.equal(seen.broken, 12, 'every request reached the origin');
    let up = (await originStats(h)).upstreams[0]!;
    assert.deepEqual({ state: up.state, available: up.available, failures: up.failures, ejections: up.ejections }, { state: 'healthy', available: true, failures: 0, ejections: 0 });
    assert.equal(h.logs.filter(msgFor(h, 0, 'upstream ejected')).length, 0);

    for (let i = 0; i < 3; i++) assert.equal((await h.get('/unavailable')).status, 503);
    assert.equal(seen.unavailable, 3);
    await h.logged(msgFor(h, 0, 'upstream ejected'));
    up = (await originStats(h)).upstreams[0]!;
    assert.deepEqual({ state: up.state, available: up.available, failures: up.failures }, { state: 'ejected', available: false, failures: 3 });

    const r = await fetchReply(h.admin + '/readyz');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text), { status: 'ready', node: 'test-node', checks: { listening: true, diskLoaded: true }, upstreamAvailable: false });
  } finally {
    await h.close();
  }
});

// Headers, some bytes, then a reset (a crashing application server): its headers are no success, so
// maxFails such answers in a row eject it (counted at the headers, each reset the failures in a row).
const breaksMidBody: OriginHandler = (_req, res) => {
  res.writeHead(200, { 'content-length': '10000', 'cache-control': 'max-age=60' });
  res.write('x'.repeat(100), () => res.socket?.destroy());
};

test('an upstream that resets every body after its headers is ejected after maxFails such answers in a row', async () => {
  const h = await startPoolHarness([{ handler: breaksMidBody }], { logLevel: 'info', origin: { passiveHealth: { maxFails: 3, ejectMs: 60_000, maxEjectMs: 120_000 } } });
  try {
    await h.node.ready();
    for (let i = 0; i < 3; i++) await h.get(`/broken-${i}`).catch(() => undefined);
    await h.logged(msgFor(h, 0, 'upstream ejected'));
    const up = (await originStats(h)).upstreams[0]!;
    assert.deepEqual({ state: up.state, failures: up.failures }, { state: 'ejected', failures: 3 });
  } finally {
    await h.close();
  }
});
