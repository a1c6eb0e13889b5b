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

import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, closeSync, writeSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { newEntryMeta } from '../../src/cache/entry.js';
import { recordLine } from '../../src/store/disk/index-log.js';
import { INDEX_FILE, INDEX_V1_FILE, SEGMENT_DIR, segmentPath } from '../../src/store/disk/layout.js';
import type { EntryMeta } from '../../src/store/types.js';
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

/** A record line of index-v1.log (the format before). */
function v1Line(integrity: string, size: number, meta: EntryMeta, time: number, at: { segment: number; off: number }): string {
  return `{"i":${JSON.stringify(integrity)},"s":${size},"g":${at.segment},"o":${at.off},${JSON.stringify({ k: meta.key, t: time, m: meta }).slice(1)}\n`;
}

function build(dir: string): void {
  mkdirSync(join(dir, SEGMENT_DIR), { recursive: true });
  const body = Buffer.alloc(bodyBytes, 'x');
  const integrity = 'sha256-' + createHash('sha256').update(body).digest('base64');
  const seg = openSync(segmentPath(dir, 0), 'w');
  const index = openSync(join(dir, v1 ? INDEX_V1_FILE : INDEX_FILE), 'w');
  const now = Date.now();
  let lines: string[] = [];
  let segChunk: Buffer[] = [];
  for (let i = 0; i < entries; i++) {
    // ~60 bytes: a typical media URL.
    const url = `http://media.example.com/v/${(i * 2654435761) % 99991}/seg-${String(i).padStart(8, '0')}.ts`;
    const key = `GET ${url}`;
    const meta = newEntryMeta(
      {
        headers: { 'content-type': 'video/mp2t', 'cache-control': 'max-age=86400', etag: `"${i.toString(36)}"`, 'last-modified': 'Mon, 30 Nov 2026 08:00:00 GMT', date: 'Mon, 30 Nov 2026 08:00:00 GMT' },
        cacheControl: 'max-age=86400',
        freshnessLifetimeS: 86_400,
        initialAgeS: 0,
        varyNames: [],
        noCache: false,
        staleForbidden: false,
        staleWhileRevalidateS: 0,
        staleIfErrorS: 0,
      },
      { key, primaryKey: key, url, status: 200, varyValues: {}, requestTimeMs: now, responseTimeMs: now, bodySize: bodyBytes },
    );
    meta.integrity = integrity;
    const at = { segment: 0, off: i * bodyBytes };
    lines.push(v1 ? v1Line(integrity, bodyBytes, meta, now, at) : recordLine(meta, now, at));
    segChunk.push(body);
    if (lines.length === 10_000) {
      writeSync(index, lines.join(''));
      writeSync(seg, Buffer.concat(segChunk));
      lines = [];
      segChunk = [];
    }
  }
  if (lines.length) {
    writeSync(index, lines.join(''));
    writeSync(seg, Buffer.concat(segChunk));
  }
  closeSync(seg);
  closeSync(index);
}

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
  const child = await startServer('strata', scriptPath('strata-server.js'), ['--origin', 'http://127.0.0.1:9', '--cache-dir', dir], { timeoutMs: 120_000 });
  const listenMs = performance.now() - t0;
  await status(child.port, '/');
  return { child, listenMs, firstAnswerMs: performance.now() - t0 };
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
  build(dir);
  const buildS = (performance.now() - t) / 1000;
  const e = await start(empty);
  await loaded(e.child, 10_000);
  const rssEmptyKiB = procKiB(e.child.pid, 'VmRSS');
  await e.child.stop();
  const r = await start(dir);
  const loadMs = await loaded(r.child, 600_000);
  const s = await getJson(r.child.info['admin'] as number, '/stats');
  const items = ((s['tiers'] as Record<string, Record<string, unknown>>)['disk']!['items']) as number;
  // Let the load's garbage go before reading RSS.
  await new Promise((res) => setTimeout(res, 2000));
  const rssKiB = procKiB(r.child.pid, 'VmRSS');
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
