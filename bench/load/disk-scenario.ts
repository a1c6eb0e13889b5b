// The disk scenarios: a 256 MiB response answered from Strata's disk tier (whole, or
// random aligned ranges; whole or in slices) beside a bare node:http server streaming
// the same file. Compared by bytes per second.

import http from 'node:http';
import { closeSync, mkdtempSync, openSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scriptPath, startServer, trackDir, type ServerChild } from './children.js';
import type { Generator } from './generator.js';
import { counters, get, log, measurePair, primeAndCheckHit, type SideSpec } from './measure.js';
import { type Scenario } from './scenarios.js';
import { LOAD_CPU, MiB, SERVER_CPU, startStrata, type LoadSettings } from './measure.js';

/** `size` bytes of the bench pattern, written 1 MiB at a time (never held whole). */
export function writePatternFile(path: string, size: number): void {
  const chunk = Buffer.alloc(MiB, 'strata-bench ');
  const fd = openSync(path, 'w');
  try {
    for (let left = size; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  } finally {
    closeSync(fd);
  }
}

/**
 * A large response from Strata's disk tier vs a bare server streaming the same
 * file. Strata fills from a file server of its own (parked beside the load
 * generator); its default per-object memory limit (8 MiB) keeps the body on disk.
 */
export async function diskScenario(sc: Scenario, gen: Generator, s: LoadSettings, runId: string, started: ServerChild[], dirs: string[], warnings: string[]) {
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'strata-bench-file-')));
  dirs.push(dir);
  const file = join(dir, 'body.mp4');
  writePatternFile(file, sc.bodyBytes);
  const origin = await startServer('origin', scriptPath('file-server.js'), [file, '0', sc.sliced ? 'ranges' : 'whole'], { cpu: LOAD_CPU });
  started.push(origin);
  const { strata, cacheDir } = await startStrata(origin.port, s);
  started.push(strata);
  dirs.push(cacheDir);
  const path = `/bench/disk-${sc.bodyBytes}`;
  const url = `http://127.0.0.1:${strata.port}${path}`;
  const bare = await startServer('bare (fs.createReadStream)', scriptPath('file-server.js'), [file, '0'], { cpu: SERVER_CPU });
  started.push(bare);
  const bareUrl = `http://127.0.0.1:${bare.port}${path}`;
  await primeAndCheckHit(url, sc.bodyBytes);
  const primed = await get(url, { range: 'bytes=0-0' });
  if (String(primed.headers['cache-status']).includes('slices') !== Boolean(sc.sliced)) {
    throw new Error(`ABORT: the object was ${sc.sliced ? 'not ' : ''}stored in slices (cache-status "${primed.headers['cache-status']}"); this scenario would measure something else`);
  }
  if (sc.rangeBytes) {
    for (const [label, u] of [['strata', url], ['bare', bareUrl]] as const) {
      const r = await get(u, { range: `bytes=${sc.rangeBytes}-${2 * sc.rangeBytes - 1}` });
      if (r.status !== 206 || r.bytes !== sc.rangeBytes) throw new Error(`${label} answered a range with ${r.status}, ${r.bytes} bytes`);
    }
  }
  log(`  strata: pid ${strata.pid} on CPU ${SERVER_CPU}, ${url} (primed from the file server: cache-status has "; hit")`);
  log(`  bare node:http + fs.createReadStream: pid ${bare.pid} on CPU ${SERVER_CPU}, ${bareUrl}`);
  const randomRange = sc.rangeBytes ? { chunkBytes: sc.rangeBytes, totalBytes: sc.bodyBytes } : undefined;
  const side = (label: string, u: string): SideSpec => ({ label, url: u, unique: false, connections: sc.connections, randomRange });
  const [st, bs] = await measurePair(gen, side('strata', url), side('bare', bareUrl), s, runId);
  const c = await counters(strata);
  if (c['misses'] !== 1 || (c['errors'] ?? 0) > 0) warnings.push(`strata: not all hits (misses ${c['misses']}, errors ${c['errors']})`);
  return { strata: { ...st, counters: c }, bare: bs, baseline: 'bare node:http + fs.createReadStream of the same file' };
}
