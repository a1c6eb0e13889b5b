// A disk that refuses writes, seen through a running node over real sockets: every
// answer is served, each failed write is counted in /stats and /metrics (an I/O
// error, not corruption), and the budget's count of the index stays the file's size.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fetchReply, startHarness } from '../fixtures/harness.js';

interface DiskStats {
  writeErrors: number;
  indexBytes: number;
  items: number;
}

async function diskStats(admin: string): Promise<DiskStats> {
  return (JSON.parse((await fetchReply(admin + '/stats')).text) as { tiers: { disk: DiskStats } }).tiers.disk;
}

async function sizeOf(path: string): Promise<number> {
  return stat(path).then((s) => s.size, () => 0);
}

test('the disk writer cannot write (tmp/ and segments/ are plain files): every miss answered, each failed write counted in /stats and /metrics, no index byte counted that is not in the file', async () => {
  const h = await startHarness((req, res) => {
    const body = Buffer.alloc(4000, req.url!);
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': body.length });
    res.end(body);
  });
  try {
    // The writer thread starts with the first write: it will find no directory to write in.
    await rm(join(h.cacheDir, 'tmp'), { recursive: true, force: true });
    await writeFile(join(h.cacheDir, 'tmp'), 'not a directory');
    await writeFile(join(h.cacheDir, 'segments'), 'not a directory');
    const n = 6;
    for (let i = 0; i < n; i++) {
      const r = await h.get(`/w${i}`);
      assert.equal(r.status, 200);
      assert.equal(r.body.length, 4000);
    }
    // Each miss: its body's write fails, then the removal line its failure writes (no older body may stand in).
    let st = await diskStats(h.admin);
    for (const deadline = Date.now() + 5000; (st.writeErrors ?? 0) < 2 * n && Date.now() < deadline; st = await diskStats(h.admin)) await new Promise((r) => setTimeout(r, 10));
    assert.equal(st.items, 0);
    assert.equal(st.writeErrors, 2 * n);
    assert.equal(st.indexBytes, await sizeOf(join(h.cacheDir, 'index-v2.log')), 'the index counted as the file is');
    const metrics = (await fetchReply(h.admin + '/metrics')).text;
    const line = metrics.split('\n').find((l) => l.startsWith('strata_disk_write_errors_total '));
    assert.ok(line, 'strata_disk_write_errors_total exported');
    assert.equal(Number(line.split(' ')[1]), st.writeErrors);
    // Each answer is still served (from memory), with no second origin fetch.
    for (let i = 0; i < n; i++) assert.equal((await h.get(`/w${i}`)).status, 200);
    assert.equal(h.origin.count(), n);
  } finally {
    await h.close();
  }
});
