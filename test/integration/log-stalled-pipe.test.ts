// A log pipe whose reader stops reading (stdout to a stalled collector) must not grow
// the node's memory without bound: what the log destination holds is capped (16 MiB),
// lines past it are dropped and counted (/stats logLinesDropped, the metric
// strata_log_lines_dropped_total), and once the pipe drains one line says how many.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOrigin } from '../fixtures/harness.js';
import { spawnStrata } from '../fixtures/spawned.js';

/** One GET on the shared keep-alive agent; resolves with its status. */
function get(agent: http.Agent, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
  });
}

async function json(url: string): Promise<Record<string, unknown>> {
  const agent = new http.Agent();
  try {
    return await new Promise((resolve, reject) => {
      http.get(url, { agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>));
      }).on('error', reject);
    });
  } finally {
    agent.destroy();
  }
}

test('stdout stalled: 3,000 access lines of 8 KB (24 MB) are not all held; the drops are counted, and told once the pipe drains', async () => {
  const origin = await startOrigin((_req, res) => {
    res.writeHead(200, { 'content-length': '2', 'cache-control': 'no-store' });
    res.end('ok');
  });
  const dir = await mkdtemp(join(tmpdir(), 'strata-log-stall-'));
  // One process: the cap is each process's (with workers, each holds up to it).
  const s = spawnStrata(['--workers', '1', '--origin', origin.url, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--cache-dir', join(dir, 'cache'), '--log-level', 'info']);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const started = await s.logged((l) => l.msg === 'strata node started', 'the node');
    const base = `http://127.0.0.1:${(started.listen as { port: number }).port}`;
    const admin = `http://127.0.0.1:${(started.admin as { port: number }).port}`;
    // The reader stops: the pipe fills, and the node's writes to it block.
    s.child.stdout!.pause();
    const sent = 3_000;
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < sent) assert.equal(await get(agent, `${base}/${String(next++).padStart(6, '0')}/${'x'.repeat(7_900)}`), 200);
    }));
    const stats = await json(admin + '/stats');
    const dropped = stats.logLinesDropped as number;
    assert.ok(dropped > 0, `lines dropped while stalled: ${dropped} (memory ${JSON.stringify(stats.memory)})`);
    assert.ok(dropped < sent, `not every line dropped: ${dropped}`);
    const mem = stats.memory as { rssBytes: number };
    assert.ok(mem.rssBytes < 400 * 2 ** 20, `rss ${mem.rssBytes}`);
    const from = s.lines.length;
    s.child.stdout!.resume();
    const told = await s.logged((l) => l.msg === 'log output drained; lines were dropped while it was stalled', 'the drop count, once drained', { from });
    assert.equal(told.droppedLines, dropped);
    assert.ok((told.droppedBytes as number) >= dropped * 7_900);
    const metrics = await new Promise<string>((resolve, reject) => {
      http.get(admin + '/metrics', (res) => {
        let t = '';
        res.on('data', (c: Buffer) => (t += c.toString()));
        res.on('end', () => resolve(t));
      }).on('error', reject);
    });
    assert.match(metrics, new RegExp(`^strata_log_lines_dropped_total ${dropped}$`, 'm'));
    s.child.kill('SIGTERM');
    assert.equal(await s.exited(), 0, s.stderr());
  } finally {
    agent.destroy();
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
