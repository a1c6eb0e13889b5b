// A reload's limits reach the worker links too: each worker's proxy link (what the
// other workers fetch from it on) was made with the limits of the start and kept them,
// so limits.* changed by a reload applied to clients but never to the links.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchReply } from '../fixtures/harness.js';
import { startWorkers, stopAll, versionedOrigin } from '../fixtures/workers.js';

/** The status a request with `padBytes` of header gets on a connection of its own. */
function statusWithHeader(url: string, padBytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, headers: { 'x-pad': 'p'.repeat(padBytes) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('no answer within 5 s')));
    req.end();
  });
}

test('2 workers: a reload lowering limits.maxHeaderBytes applies to the worker links (431 past it), not only to the client listener', async () => {
  const origin = await versionedOrigin(0);
  const dir = await mkdtemp(join(tmpdir(), 'strata-workers-link-limits-'));
  const file = join(dir, 'strata.yaml');
  await writeFile(file, 'limits:\n  maxHeaderBytes: 16384\n');
  const { s, base, admin, pids } = await startWorkers(2, origin, dir, ['--config', file]);
  try {
    const stats = JSON.parse((await fetchReply(admin + '/stats')).text) as { workers: { w0: { peers: { members: { id: string; url: string }[] } } } };
    const link = stats.workers.w0.peers.members.find((m) => m.id === 'n.w1')!.url;
    assert.notEqual(await statusWithHeader(link + '/x', 6_000), 431, 'within the limits of the start');
    await writeFile(file, 'limits:\n  maxHeaderBytes: 4096\n');
    const reloaded = await fetchReply(admin + '/reload', { authorization: 'Bearer t' }, 'POST');
    assert.equal(reloaded.status, 200, reloaded.text);
    assert.equal(await statusWithHeader(base + '/x', 6_000), 431, 'the client listener took the new limit');
    assert.equal(await statusWithHeader(link + '/x', 6_000), 431, "worker 1's link took the new limit");
    await stopAll(s, pids);
  } finally {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
