// An upstream with a path prefix (--origin http://o/public): no request target
// may reach the origin outside that prefix (RFC 3986 §5.2.4 dot segments, plain
// or percent-encoded). Raw bytes: client libraries resolve dot segments themselves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOrigin, testConfig, fixed } from '../fixtures/harness.js';
import { createNode } from '../../src/node.js';
import { rawExchange } from './raw.js';

const T = { timeout: 20_000 };

async function withPrefixedNode(run: (port: number, seen: () => string[]) => Promise<void>): Promise<void> {
  const origin = await startOrigin(fixed('origin body', { 'cache-control': 'max-age=60' }));
  const dir = await mkdtemp(join(tmpdir(), 'strata-test-'));
  const node = createNode(testConfig(`${origin.url}/public`, dir));
  try {
    await node.start();
    await run(node.proxyAddress().port, () => origin.requests.map((r) => r.url));
  } finally {
    await node.stop();
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function get(port: number, target: string) {
  const r = await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: site.example\r\nConnection: close\r\n\r\n`);
  assert.equal(r.responses.length, 1);
  return r.responses[0]!;
}

test('a target climbing above the root is refused with 400 and never reaches the origin', T, async () => {
  await withPrefixedNode(async (port, seen) => {
    for (const target of ['/../private/key', '/%2e%2e/private/key', '/a/../../private/key', '/..%2fprivate/key']) {
      const res = await get(port, target);
      assert.equal(res.status, 400, target);
      assert.match(res.text, /BAD_REQUEST: request path/, target);
    }
    assert.deepEqual(seen(), []);
  });
});

test('dot segments inside the prefix are resolved before the prefix is applied (and before the cache key)', T, async () => {
  await withPrefixedNode(async (port, seen) => {
    const first = await get(port, '/a/%2E%2e/b/./c.css?x=/../y');
    assert.equal(first.status, 200);
    assert.deepEqual(seen(), ['/public/b/c.css?x=/../y']);
  });
});

test('an encoded NUL in the path is refused with 400 (a C string ends there: /admin%00/ is /admin to such an origin); in the query it is passed on', T, async () => {
  await withPrefixedNode(async (port, seen) => {
    for (const target of ['/admin%00/', '/a%00b', '/x/%00']) {
      const res = await get(port, target);
      assert.equal(res.status, 400, target);
      assert.match(res.text, /BAD_REQUEST: request path holds an encoded NUL/, target);
    }
    assert.deepEqual(seen(), []);
    const q = await get(port, '/search?q=%00');
    assert.equal(q.status, 200);
    assert.deepEqual(seen(), ['/public/search?q=%00']);
  });
});
