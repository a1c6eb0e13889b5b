// Admin resources that fail inside the node report it through one place
// (admin/failed.ts): one error line with a catalog code, and a 500 to the client.
// Here the routing admin, over a real socket, given a router that throws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRoutesAdmin, type RoutesAdminDeps } from '../../src/admin/routes.js';
import { ERROR_CATALOG } from '../../src/errors.js';
import { fetchReply } from '../fixtures/harness.js';

const TOKEN = 'routes-failure-token';

test('a routing admin change that throws inside answers 500 and logs the failure with its catalog code', async () => {
  const errors: { fields: Record<string, unknown>; msg: string }[] = [];
  const record = (fields: Record<string, unknown>, msg: string) => void errors.push({ fields, msg });
  const routes = createRoutesAdmin({
    token: TOKEN,
    router: { drain: () => { throw new Error('pool table of the router is gone'); } } as unknown as RoutesAdminDeps['router'],
    logger: { error: record, warn: () => undefined, info: () => undefined } as unknown as RoutesAdminDeps['logger'],
  });
  const server = createServer((req, res) => routes(req, res, (req.url ?? '/').split('?')[0]!));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const r = await fetchReply(`http://127.0.0.1:${port}/upstreams/drain`, { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, 'POST', JSON.stringify({ upstream: 'http://10.0.0.1:9000' }));
    assert.equal(r.status, 500, 'answered, not cut');
    assert.equal((JSON.parse(r.text) as { error: string }).error, 'INTERNAL');
    assert.equal(errors.length, 1, 'one error line');
    const [line] = errors;
    assert.equal(line!.msg, 'admin request failed');
    assert.equal(line!.fields.admin, 'routes');
    assert.ok(String(line!.fields.code) in ERROR_CATALOG, `a catalog code: ${String(line!.fields.code)}`);
    assert.match(String(line!.fields.err), /pool table of the router is gone/);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
