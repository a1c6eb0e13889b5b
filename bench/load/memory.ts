// Memory scenario: peak resident memory of the Strata child while one 2 GiB
// response passes through it (origin → Strata → client, `no-store`), read from
// /proc/<pid>/status (VmRSS sampled every 20 ms, and the kernel's own high-water
// mark VmHWM). The same transfer straight from the origin is timed beside it, so
// the throughput is a ratio too.

import http from 'node:http';
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeDir, scriptPath, startServer, trackDir, type ServerChild } from './children.js';
import { LOAD_CPU, SERVER_CPU, type LoadSettings } from './measure.js';

export interface MemoryResult {
  scenario: string;
  bodyBytes: number;
  /** Resident memory of the Strata child just before the transfer, MiB. */
  rssBeforeMiB: number;
  /** Highest sampled VmRSS during the transfer minus rssBeforeMiB. */
  peakGrowthMiB: number;
  /** The kernel's VmHWM at the end (the process's lifetime peak), MiB. */
  hwmMiB: number;
  strataMiBps: number;
  originMiBps: number;
  ratio: number;
}

export const MEMORY_SCENARIOS = [{ name: 'pass-through 2 GiB', bodyBytes: 2 * 1024 ** 3 }];

const MiB = 1024 * 1024;

export function procKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(m[1]);
}

/** Reads the whole body, counting bytes; resolves with the seconds it took. */
function timedGet(url: string, expected: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => (bytes === expected ? resolve((performance.now() - t0) / 1000) : reject(new Error(`GET ${url}: ${bytes} of ${expected} bytes`))));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

export async function runMemoryScenario(sc: (typeof MEMORY_SCENARIOS)[number], s: LoadSettings): Promise<MemoryResult> {
  const started: ServerChild[] = [];
  const cacheDir = trackDir(mkdtempSync(join(tmpdir(), 'strata-bench-cache-')));
  try {
    const origin = await startServer('origin (generating)', scriptPath('generating-server.js'), [String(sc.bodyBytes), '0'], { cpu: LOAD_CPU });
    started.push(origin);
    const strata = await startServer('strata', scriptPath('strata-server.js'), ['--origin', `http://127.0.0.1:${origin.port}`, '--cache-dir', cacheDir, '--ephemeral'], {
      cpu: SERVER_CPU,
      nodeArgs: s.strataNodeArgs,
    });
    started.push(strata);
    const url = `http://127.0.0.1:${strata.port}/bench/pass-through`;
    const direct = `http://127.0.0.1:${origin.port}/bench/pass-through`;
    const before = procKiB(strata.pid, 'VmRSS');
    let peak = before;
    const timer = setInterval(() => {
      try {
        peak = Math.max(peak, procKiB(strata.pid, 'VmRSS'));
      } catch {
        // the child is gone; the transfer fails and says so
      }
    }, 20);
    let strataS: number;
    try {
      strataS = await timedGet(url, sc.bodyBytes);
    } finally {
      clearInterval(timer);
    }
    const hwm = procKiB(strata.pid, 'VmHWM');
    const originS = await timedGet(direct, sc.bodyBytes);
    const strataMiBps = sc.bodyBytes / MiB / strataS;
    const originMiBps = sc.bodyBytes / MiB / originS;
    return {
      scenario: sc.name,
      bodyBytes: sc.bodyBytes,
      rssBeforeMiB: before / 1024,
      peakGrowthMiB: (peak - before) / 1024,
      hwmMiB: hwm / 1024,
      strataMiBps,
      originMiBps,
      ratio: strataMiBps / originMiBps,
    };
  } finally {
    for (const c of started.reverse()) await c.stop();
    removeDir(cacheDir);
  }
}
