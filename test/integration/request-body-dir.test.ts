// A bad limits.requestBodyDir is refused where it is taken: a reload naming a
// directory that is missing, a file, or not writable is refused (RELOAD_REFUSED) and
// the running directory stays, so large request bodies are still spooled. It was
// accepted, and every request body over limits.requestBodyMemoryBytes then failed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode } from '../../src/node.js';
import { fetchReply, startOrigin, testConfig, withHarness } from '../fixtures/harness.js';
import { isStrataError } from '../../src/errors.js';

const echo = (_req: unknown, res: import('node:http').ServerResponse, body: Buffer) => {
  res.writeHead(200, { 'content-length': String(body.length), 'cache-control': 'no-store' });
  res.end(body);
};

test('a reload naming a bad limits.requestBodyDir is refused; the running one stays and large bodies are still spooled', async () => {
  const spool = await mkdtemp(join(tmpdir(), 'strata-spool-'));
  const file = join(spool, 'a-file');
  await writeFile(file, 'x');
  try {
    await withHarness(echo, { limits: { requestBodyMemoryBytes: 1024, requestBodyDir: spool } } as never, async (h) => {
      const big = 'b'.repeat(64 * 1024);
      for (const [bad, why] of [[join(spool, 'missing'), /does not exist \(ENOENT\)/], [file, /is not a directory/], ['/sys', /cannot write/]] as const) {
        const next = { ...h.config, limits: { ...h.config.limits, requestBodyDir: bad } };
        await assert.rejects(h.node.reload(next), (err: unknown) => isStrataError(err) && err.code === 'RELOAD_REFUSED' && why.test(err.message) && err.message.includes(`limits.requestBodyDir: ${bad}`), bad);
        assert.equal(h.node.config().limits.requestBodyDir, spool, 'the running directory stays');
        const r = await fetchReply(h.base + '/echo', { 'content-type': 'text/plain' }, 'POST', big);
        assert.equal(r.status, 200, r.text.slice(0, 200));
        assert.equal(r.text.length, big.length, 'the body went through the spool');
      }
      assert.equal(h.node.stats.counters.reloadsRefused, 3);
    });
  } finally {
    await rm(spool, { recursive: true, force: true });
  }
});

test('a node given a bad limits.requestBodyDir refuses to start: CONFIG_INVALID naming the key and the path', async () => {
  const origin = await startOrigin(echo);
  const dir = await mkdtemp(join(tmpdir(), 'strata-spool-start-'));
  try {
    const config = testConfig(origin.url, join(dir, 'cache'), { limits: { requestBodyDir: join(dir, 'missing') } } as never);
    const node = createNode(config);
    await assert.rejects(node.start(), (err: unknown) => isStrataError(err) && err.code === 'CONFIG_INVALID' && err.message.startsWith(`limits.requestBodyDir: ${join(dir, 'missing')}: does not exist`));
    await node.stop();
  } finally {
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
});
