// An auth service or JWKS URL may carry a password: the reason an unavailable
// decision gives (logged with AUTH_UNAVAILABLE) names the URL without it.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { ForwardAuth } from '../../src/routing/guard/forward-auth.js';
import { systemClock } from '../../src/util/clock.js';

test("an auth service's unavailable reason names its URL without the password", async () => {
  // Answers 500: the reason quotes the URL ("auth service … answered 500").
  const svc = createServer((_req, res) => res.writeHead(500, { 'content-length': '0' }).end());
  await new Promise<void>((r) => svc.listen(0, '127.0.0.1', r));
  const port = (svc.address() as { port: number }).port;
  const auth = new ForwardAuth(
    { url: `http://svc:hunter2@127.0.0.1:${port}/check`, requestFields: ['authorization'], identityFields: [], timeoutMs: 2_000, cacheTtlMs: 0, cacheMaxEntries: 10, cacheKey: 'credentials' },
    systemClock,
  );
  try {
    const d = await auth.check({ method: 'GET', target: '/', host: 'site.example', scheme: 'http', headers: { authorization: 'Bearer x' }, clientAddress: '127.0.0.1' });
    assert.equal(d.kind, 'unavailable');
    const reason = (d as { reason: string }).reason;
    assert.doesNotMatch(reason, /hunter2/);
    assert.match(reason, /svc:\*\*\*@127\.0\.0\.1/);
  } finally {
    await auth.close?.();
    svc.close();
  }
});
