// A PURGE on the main listener that is refused (no admin token configured, a missing
// or wrong token, a tag field naming no tag) is an error of that request, not a purge:
// its access line, Cache-Status, the errors counter and the request metrics say so
// (they said bypass/purge, as for a purge carried out, and counted no error).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchReply, startHarness, type Harness } from '../fixtures/harness.js';
import { TOKEN, withToken, site, taggedOrigin, warm, isHit } from './purge-node.js';

async function refusedAs(h: Harness, path: string, headers: Record<string, string>, status: number, code: string): Promise<void> {
  const errorsBefore = h.node.stats.counters.errors;
  const r = await h.get(path, { ...site, ...headers }, 'PURGE');
  assert.equal(r.status, status, r.text);
  assert.equal((JSON.parse(r.text) as { error: string }).error, code);
  assert.match(r.headers['cache-status']!, new RegExp(`fwd=bypass; detail=${code.toLowerCase()}$`), 'Cache-Status names the refusal');
  const [line] = await h.logged((l) => l['msg'] === 'access' && l['method'] === 'PURGE' && l['url'] === path);
  assert.equal(line!['cache'], 'error', JSON.stringify(line));
  assert.equal(line!['status'], status);
  assert.equal(h.node.stats.counters.errors, errorsBefore + 1, 'counted as an error');
  assert.equal(h.node.stats.counters.purges, 0, 'not counted as a purge');
}

test('a refused PURGE is recorded as an error (its code), not as a purge: access line, Cache-Status, counters, metrics', async () => {
  const off = await startHarness(taggedOrigin, { logLevel: 'info' });
  try {
    await warm(off, ['/a']);
    await refusedAs(off, '/a', { authorization: 'Bearer x' }, 403, 'PURGE_DISABLED');
    assert.equal(await isHit(off, '/a'), true);
  } finally {
    await off.close();
  }
  const h = await startHarness(taggedOrigin, { ...withToken, logLevel: 'info' });
  try {
    await warm(h, ['/a']);
    await refusedAs(h, '/a', {}, 401, 'UNAUTHORIZED');
    await refusedAs(h, '/b', { authorization: `Bearer ${TOKEN}x` }, 401, 'UNAUTHORIZED');
    await refusedAs(h, '/c', { authorization: `Bearer ${TOKEN}`, 'surrogate-key': ' ' }, 400, 'PURGE_BAD_REQUEST');
    assert.equal(await isHit(h, '/a'), true, 'nothing purged');
    const metrics = (await fetchReply(h.admin + '/metrics')).text;
    assert.match(metrics, /^strata_errors_total 3$/m);
    // A purge carried out is still a purge, and no error.
    const done = await h.get('/a', { ...site, authorization: `Bearer ${TOKEN}` }, 'PURGE');
    assert.equal(done.status, 200, done.text);
    assert.match(done.headers['cache-status']!, /detail=purge$/);
    const [line] = await h.logged((l) => l['msg'] === 'access' && l['method'] === 'PURGE' && l['url'] === '/a' && l['status'] === 200);
    assert.equal(line!['cache'], 'bypass');
    assert.equal(h.node.stats.counters.purges, 1);
    assert.equal(h.node.stats.counters.errors, 3);
  } finally {
    await h.close();
  }
});
