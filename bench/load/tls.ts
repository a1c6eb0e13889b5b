// The TLS scenarios: "hit 1 KiB" over HTTPS/1.1 and over HTTP/2, Strata (TLS on
// its proxy listener, a stored 1 KiB response) beside a bare node:http2 secure
// server with allowHTTP1 answering the same bytes (bare-tls-server.ts). Load by
// h2load (Debian nghttp2-client), pinned to its own CPU: --h1 for HTTPS/1.1, and
// HTTP/2 with several streams per connection. Sides alternate per round.
//
//   npm run build && node dist/bench/load/tls.js [--quick]
//
// Target: Strata ≥ 0.8 × the bare server on each protocol. Writes
// bench/results/tls-latest.json.

import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hasCommand, installCleanup, pinned, removeDir, scriptPath, startServer, trackDir } from './children.js';
import { LOAD_CPU, SERVER_CPU } from './measure.js';

const run = promisify(execFile);
const quick = process.argv.includes('--quick');
const DURATION_S = quick ? 3 : 10;
const WARMUP_S = 1;
const ROUNDS = quick ? 1 : 3;
const CONNECTIONS = 32;
const H2_STREAMS = 10;
const TARGET = 0.8;
const log = (s: string) => process.stderr.write(s + '\n');

interface H2loadResult {
  rps: number;
  succeeded: number;
  failed: number;
  meanMs: number;
}

function parseH2load(out: string): H2loadResult {
  const rps = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(out)?.[1]);
  const req = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(out);
  const mean = /time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)/.exec(out);
  const meanMs = mean ? Number(mean[1]) * (mean[2] === 'us' ? 0.001 : mean[2] === 's' ? 1000 : 1) : NaN;
  if (!Number.isFinite(rps)) throw new Error(`h2load output not understood:\n${out}`);
  return { rps, succeeded: Number(req?.[1]), failed: Number(req?.[2]), meanMs };
}

async function h2load(url: string, proto: 'h1' | 'h2', seconds: number): Promise<H2loadResult> {
  const args = ['-t', '1', '-c', String(CONNECTIONS), '-D', String(seconds), ...(proto === 'h1' ? ['--h1'] : ['-m', String(H2_STREAMS)]), url];
  const [cmd, cmdArgs] = pinned(LOAD_CPU, 'h2load', args);
  const { stdout } = await run(cmd, cmdArgs, { maxBuffer: 16 * 1024 * 1024 });
  return parseH2load(stdout);
}

function get(url: string, ca: string): Promise<{ status: number; cacheStatus: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, servername: 'localhost', agent: false }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, cacheStatus: String(res.headers['cache-status'] ?? ''), bytes }));
      })
      .on('error', reject);
  });
}

async function main(): Promise<void> {
  if (!hasCommand('h2load')) throw new Error('h2load not found: apt-get install -y nghttp2-client');
  installCleanup();
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'strata-bench-tls-')));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost']);
  const caPem = (await import('node:fs')).readFileSync(cert, 'utf8');

  const origin = await startServer('origin', scriptPath('bare-server.js'), ['1024', '0'], { cpu: LOAD_CPU });
  const cacheDir = trackDir(mkdtempSync(join(tmpdir(), 'strata-bench-tls-cache-')));
  const strata = await startServer('strata', scriptPath('strata-server.js'), ['--origin', `http://127.0.0.1:${origin.port}`, '--cache-dir', cacheDir, '--ephemeral', '--tls-cert', cert, '--tls-key', key], { cpu: SERVER_CPU });
  const bare = await startServer('bare tls', scriptPath('bare-tls-server.js'), ['1024', cert, key], { cpu: SERVER_CPU });
  try {
    const strataUrl = `https://127.0.0.1:${strata.port}/hit`;
    const bareUrl = `https://127.0.0.1:${bare.port}/hit`;
    await get(strataUrl, caPem);
    const check = await get(strataUrl, caPem);
    if (check.status !== 200 || check.bytes !== 1024 || !check.cacheStatus.includes('; hit')) throw new Error(`ABORT: not a hit after priming: ${JSON.stringify(check)}`);

    const results: Record<string, unknown>[] = [];
    for (const proto of ['h1', 'h2'] as const) {
      await h2load(strataUrl, proto, WARMUP_S);
      await h2load(bareUrl, proto, WARMUP_S);
      const s: H2loadResult[] = [];
      const b: H2loadResult[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        // A B, B A, …: drift of the machine falls on both sides alike.
        if (i % 2 === 0) {
          s.push(await h2load(strataUrl, proto, DURATION_S));
          b.push(await h2load(bareUrl, proto, DURATION_S));
        } else {
          b.push(await h2load(bareUrl, proto, DURATION_S));
          s.push(await h2load(strataUrl, proto, DURATION_S));
        }
      }
      const mean = (rs: H2loadResult[]) => rs.reduce((a, r) => a + r.rps, 0) / rs.length;
      const ratio = mean(s) / mean(b);
      const name = `hit 1 KiB ${proto === 'h1' ? 'HTTPS/1.1' : 'HTTP/2'}`;
      log(
        `${name}: strata ${mean(s).toFixed(0)} req/s (mean ${s[0]!.meanMs.toFixed(2)} ms, failed ${s.reduce((a, r) => a + r.failed, 0)}) · ` +
          `bare ${mean(b).toFixed(0)} req/s · ratio ${ratio.toFixed(2)} (target ≥ ${TARGET}) ${ratio >= TARGET ? 'PASS' : 'BELOW TARGET'}`,
      );
      results.push({ scenario: name, strata: s, bare: b, ratio, target: TARGET, pass: ratio >= TARGET, connections: CONNECTIONS, ...(proto === 'h2' ? { streams: H2_STREAMS } : {}) });
    }
    writeFileSync(join(scriptPath('..'), '..', '..', 'bench', 'results', 'tls-latest.json'), JSON.stringify({ when: new Date().toISOString(), quick, durationS: DURATION_S, rounds: ROUNDS, results }, null, 2) + '\n');
  } finally {
    await Promise.all([strata.stop(), bare.stop(), origin.stop()]);
    removeDir(dir);
  }
}

main().catch((err: unknown) => {
  log(`bench tls: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
