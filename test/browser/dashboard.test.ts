// The admin dashboard (GET /) in a real browser (Debian's chromium, driven by
// playwright-core, which downloads nothing): the page loads only from the admin
// origin, polls /stats and shows the node's figures as traffic arrives.
// Set DASHBOARD_SCREENSHOT=<file.png> to also write a screenshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Page } from 'playwright-core';
import { startHarness, fetchReply, type Harness } from '../fixtures/harness.js';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

interface StatsBody {
  requests: number;
  hits: number;
  misses: number;
  stale: number;
  topMisses: { key: string; misses: number }[];
  origin: { upstreams: { name: string; state: string }[] };
}

async function stats(h: Harness): Promise<StatsBody> {
  const r = await fetchReply(h.admin + '/stats');
  assert.equal(r.status, 200);
  return JSON.parse(r.text) as StatsBody;
}

/** The raw value of every element with data-metric=`name`. */
function figures(page: Page, name: string): Promise<string[]> {
  return page.$$eval(`[data-metric="${name}"]`, (els) => els.map((e) => e.getAttribute('data-value') ?? e.textContent ?? ''));
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('GET / on the admin listener: the dashboard page, behind the Host check', async () => {
  const h = await startHarness((_req, res) => res.end('x'));
  try {
    const r = await fetchReply(h.admin + '/');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'] ?? '', /^text\/html; charset=utf-8$/);
    assert.match(r.headers['content-security-policy'] ?? '', /default-src 'none'/);
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.match(r.text, /data-metric="hit-ratio"/);
    assert.doesNotMatch(r.text, /(src|href)="https?:/, 'no external resource');
    const refused = await fetchReply(h.admin + '/', { host: 'attacker.example' });
    assert.equal(refused.status, 421);
    const s = (await stats(h)) as StatsBody & { peers: unknown };
    assert.deepEqual(s.topMisses, []);
    assert.deepEqual(s.peers, { clustered: false });
  } finally {
    await h.close();
  }
});

test('the dashboard in chromium follows /stats: hits, misses, requests, rates, upstreams, top misses', async () => {
  assert.ok(existsSync(CHROMIUM), `chromium not found at ${CHROMIUM}: install it (Debian: apt-get install -y chromium; .ci/run does) or set CHROMIUM_BIN`);
  const h = await startHarness((req, res) => {
    const body = `body of ${req.url}`.repeat(50);
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const urls: string[] = [];
    page.on('request', (r) => urls.push(r.url()));
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(h.admin + '/');
    // First poll done.
    await eventually('a first poll', async () => ((await figures(page, 'status'))[0] !== 'connecting…' ? true : undefined));
    assert.equal((await figures(page, 'requests'))[0], '0');

    // Traffic: 3 misses, then 9 hits and one revalidation (no-cache), 13 requests in all.
    for (const p of ['/a', '/b', '/c']) assert.equal((await h.get(p)).status, 200);
    await h.stored(3);
    for (let i = 0; i < 6; i++) await h.get('/a');
    for (let i = 0; i < 3; i++) await h.get('/b');
    await h.get('/c', { 'cache-control': 'no-cache' }); // revalidation, not a miss

    // A request is counted when it arrives, its outcome when its response closes (after the
    // client may have read the last byte): wait for the last one's outcome.
    const s = await eventually('the revalidation to be counted', async () => {
      const now = await stats(h);
      return now.stale === 1 ? now : undefined;
    });
    assert.equal(s.requests, 13);
    assert.equal(s.hits, 9);
    assert.equal(s.misses, 3);
    await eventually('the page to show /stats figures', async () => {
      const [req, hits, misses] = [(await figures(page, 'requests'))[0], (await figures(page, 'hits'))[0], (await figures(page, 'misses'))[0]];
      const stale = (await figures(page, 'stale'))[0];
      return req === String(s.requests) && hits === String(s.hits) && misses === String(s.misses) && stale === String(s.stale) ? true : undefined;
    });
    assert.equal(Number((await figures(page, 'hit-ratio'))[0]).toFixed(4), (s.hits / (s.hits + s.misses + 1)).toFixed(4));
    // A poll saw the traffic as a rate: the requests/s sparkline rose off its baseline.
    const rose = await page.$eval('[data-spark="requests-per-s"] polyline', (p) => (p.getAttribute('points') ?? '').split(' ').some((xy: string) => Number(xy.split(',')[1]) < 34));
    assert.ok(rose, 'requests/s sparkline shows the traffic');

    // Upstreams and top misses as /stats has them.
    assert.deepEqual(await figures(page, 'upstream-state'), s.origin.upstreams.map((u) => u.state));
    const rows = await page.$$eval('[data-metric="top-miss"]', (trs) => trs.map((tr) => [tr.children[0]!.getAttribute('data-value'), tr.children[1]!.textContent]));
    assert.deepEqual(rows, s.topMisses.map((m) => [String(m.misses), m.key]));
    assert.equal(rows.length, 3);
    assert.ok(rows.every(([, key]) => /^GET http:\/\/127\.0\.0\.1:\d+\/[abc]$/.test(key ?? '')), JSON.stringify(rows));
    assert.equal((await figures(page, 'memory-items'))[0], '3');
    assert.equal((await figures(page, 'peers'))[0], 'not clustered');
    assert.equal((await figures(page, 'disk-loading'))[0], 'loaded');

    if (process.env.DASHBOARD_SCREENSHOT) {
      // A little more traffic so the sparklines have a shape.
      for (let i = 0; i < 30; i++) {
        const n = 10 + Math.round(30 * Math.abs(Math.sin(i / 4)));
        await Promise.all(Array.from({ length: n }, (_, j) => h.get(`/page-${(i * 7 + j) % 40}`)));
        await eventually('a poll', async () => ((await figures(page, 'requests'))[0] === String((await stats(h)).requests) ? true : undefined));
      }
      await page.screenshot({ path: process.env.DASHBOARD_SCREENSHOT, fullPage: true });
    }

    assert.deepEqual(errors, []);
    assert.ok(urls.length > 0);
    const foreign = urls.filter((u) => !u.startsWith(h.admin + '/'));
    assert.deepEqual(foreign, [], 'the page loads nothing but from the admin origin');
  } finally {
    await browser.close();
    await h.close();
  }
});
