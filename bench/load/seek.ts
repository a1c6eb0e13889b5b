// Seek scenario: twenty clients seeking random 1 MiB ranges in a cold 1 GiB
// object through one Strata node (production defaults: slices of 4 MiB above
// 8 MiB). The figure is what the origin sent, against the object's size: each
// slice should cross the origin link at most once, however many clients want it.

import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeDir, scriptPath, startServer, trackDir, type ServerChild } from './children.js';
import { LOAD_CPU, SERVER_CPU, type LoadSettings } from './measure.js';
import { writePatternFile } from './disk-scenario.js';
import { seededRandom } from '../../test/fixtures/seeded-random.js';

export interface SeekResult {
  scenario: string;
  bodyBytes: number;
  clients: number;
  requests: number;
  /** Body bytes the origin sent, all clients together. */
  originBytes: number;
  /** originBytes ÷ bodyBytes (1 = every byte once; 20 would be one copy per client). */
  originRatio: number;
  /** Body bytes the clients received. */
  clientBytes: number;
  elapsedS: number;
  counters: Record<string, number>;
}

export const SEEK_SCENARIOS = [{ name: 'seek 1 GiB', bodyBytes: 1024 ** 3, clients: 20, requestsPerClient: 40, rangeBytes: 1024 ** 2 }];

/** Whole numbers in [0, n), seeded. */
function seeded(seed: number): (n: number) => number {
  const r = seededRandom(seed);
  return (n) => (r() * n) | 0;
}

function getJson(url: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let s = '';
        res.setEncoding('utf8').on('data', (d: string) => (s += d));
        res.on('end', () => resolve(JSON.parse(s) as Record<string, unknown>));
      })
      .on('error', reject);
  });
}

function rangeGet(agent: http.Agent, url: string, start: number, end: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers: { range: `bytes=${start}-${end}` } }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => (res.statusCode === 206 && bytes === end - start + 1 ? resolve(bytes) : reject(new Error(`range ${start}-${end}: ${res.statusCode}, ${bytes} bytes`))));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

export async function runSeekScenario(sc: (typeof SEEK_SCENARIOS)[number], s: LoadSettings): Promise<SeekResult> {
  const started: ServerChild[] = [];
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'strata-bench-file-')));
  const cacheDir = trackDir(mkdtempSync(join(tmpdir(), 'strata-bench-cache-')));
  try {
    const file = join(dir, 'movie.mp4');
    writePatternFile(file, sc.bodyBytes);
    const origin = await startServer('origin (file)', scriptPath('file-server.js'), [file, '0'], { cpu: LOAD_CPU });
    started.push(origin);
    const strata = await startServer('strata', scriptPath('strata-server.js'), ['--origin', `http://127.0.0.1:${origin.port}`, '--cache-dir', cacheDir, '--ephemeral'], {
      cpu: SERVER_CPU,
      nodeArgs: s.strataNodeArgs,
    });
    started.push(strata);
    const url = `http://127.0.0.1:${strata.port}/bench/movie.mp4`;
    // A fixed seed: the same seeks in every run.
    const rand = seeded(12345);
    const chunks = Math.floor(sc.bodyBytes / sc.rangeBytes);
    const plan = Array.from({ length: sc.clients }, () => Array.from({ length: sc.requestsPerClient }, () => rand(chunks)));
    const t0 = performance.now();
    let clientBytes = 0;
    await Promise.all(
      plan.map(async (seeks) => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        try {
          for (const k of seeks) {
            const n = await rangeGet(agent, url, k * sc.rangeBytes, (k + 1) * sc.rangeBytes - 1);
            clientBytes += n;
          }
        } finally {
          agent.destroy();
        }
      }),
    );
    const elapsedS = (performance.now() - t0) / 1000;
    const originBytes = (await getJson(`http://127.0.0.1:${origin.port}/__sent`))['sent'] as number;
    const stats = await getJson(`http://127.0.0.1:${strata.info['admin'] as number}/stats`);
    const counters: Record<string, number> = {};
    for (const [k, v] of Object.entries(stats)) if (typeof v === 'number') counters[k] = v;
    return {
      scenario: sc.name,
      bodyBytes: sc.bodyBytes,
      clients: sc.clients,
      requests: sc.clients * sc.requestsPerClient,
      originBytes,
      originRatio: originBytes / sc.bodyBytes,
      clientBytes,
      elapsedS,
      counters,
    };
  } finally {
    for (const c of started.reverse()) await c.stop();
    removeDir(dir);
    removeDir(cacheDir);
  }
}
