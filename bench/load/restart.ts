// Restart with a large disk index: how soon a node serves, how long its index takes
// to load in the background, and the RAM each disk-only entry costs.
//
//   node dist/bench/load/restart.js [--entries 1000000] [--body-bytes 100] [--dir DIR] [--format v2|v1]
//
// Builds the cache directory directly (segment file + index lines in Strata's own
// format, store/disk/index-log.ts; `--format v1`: the format before, index-v1.log,
// which the node converts after it loads), with ~60-byte URLs, then starts a Strata child on
// it (production defaults, log level warn) and measures: ms from spawn to listening,
// ms to the first answered request, ms until /stats says the index is loaded, and
// (RSS loaded − RSS of an empty node) ÷ entries. The empty node is measured first.

import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildCacheDir } from './cache-dir.js';
import { removeDir, scriptPath, startServer, trackDir, type ServerChild } from './children.js';
import { procKiB } from './memory.js';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '1000000' },
    'body-bytes': { type: 'string', default: '100' },
    dir: { type: 'string' },
    format: { type: 'string', default: 'v2' },
  },
});
const entries = Number(values.entries);
const bodyBytes = Number(values['body-bytes']);
const v1 = values.format === 'v1';

function getJson(port: number, path: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let s = '';
      res.setEncoding('utf8').on('data', (d: string) => (s += d));
      res.on('end', () => resolve(JSON.parse(s) as Record<string, unknown>));
    }).on('error', reject);
  });
}

function status(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

async function start(dir: string): Promise<{ child: ServerChild; listenMs: number; firstAnswerMs: number }> {
  const t0 = performance.now();
  // The origin is unreachable on purpose: the first request is answered from cache (a
  // loaded entry) or with Strata's own 502; either way the node is serving.
  const child = await startServer('strata', scriptPath('strata-server.js'), ['--origin', 'http://127.0.0.1:9', '--cache-dir', dir], { timeoutMs: 120_000, nodeArgs: ['--expose-gc'] });
  const listenMs = performance.now() - t0;
  await status(child.port, '/');
  return { child, listenMs, firstAnswerMs: performance.now() - t0 };
}

/** VmRSS once a full collection has run (strata-server.ts: SIGUSR2) and RSS stopped falling (bounded). */
async function rssAfterGc(pid: number): Promise<number> {
  process.kill(pid, 'SIGUSR2');
  let last = procKiB(pid, 'VmRSS');
  for (let i = 0; i < 20; i++) {
    await new Promise((res) => setTimeout(res, 250));
    const now = procKiB(pid, 'VmRSS');
    if (now >= last - 64) return now;
    last = now;
  }
  return last;
}

async function loaded(child: ServerChild, deadlineMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const s = await getJson(child.info['admin'] as number, '/stats');
    const disk = (s['tiers'] as Record<string, Record<string, unknown>>)['disk']!;
    if (disk['loading'] === false) return performance.now() - t0;
    if (performance.now() - t0 > deadlineMs) throw new Error('index not loaded in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const empty = trackDir(mkdtempSync(join(tmpdir(), 'strata-restart-empty-')));
const dir = values.dir ?? trackDir(mkdtempSync(join(tmpdir(), 'strata-restart-')));
try {
  let t = performance.now();
  buildCacheDir(dir, entries, bodyBytes, v1);
  const buildS = (performance.now() - t) / 1000;
  const e = await start(empty);
  await loaded(e.child, 10_000);
  const rssEmptyKiB = await rssAfterGc(e.child.pid);
  await e.child.stop();
  const r = await start(dir);
  const loadMs = await loaded(r.child, 600_000);
  const s = await getJson(r.child.info['admin'] as number, '/stats');
  const items = ((s['tiers'] as Record<string, Record<string, unknown>>)['disk']!['items']) as number;
  const rssKiB = await rssAfterGc(r.child.pid);
  await r.child.stop();
  const perEntry = ((rssKiB - rssEmptyKiB) * 1024) / items;
  const out = {
    entries, items, bodyBytes, buildS: Math.round(buildS * 10) / 10,
    listenMs: Math.round(r.listenMs), firstAnswerMs: Math.round(r.firstAnswerMs), loadMs: Math.round(loadMs),
    rssEmptyMiB: Math.round(rssEmptyKiB / 1024), rssLoadedMiB: Math.round(rssKiB / 1024), bytesPerEntry: Math.round(perEntry),
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  process.stdout.write(`restart with ${items.toLocaleString()} entries: serving after ${out.firstAnswerMs} ms (target ≤ 1000), index loaded after ${out.loadMs} ms more (target ≤ 15000), ${out.bytesPerEntry} bytes of RAM per disk-only entry (target ≤ 256)\n`);
} finally {
  removeDir(empty);
  if (!values.dir) removeDir(dir);
}
