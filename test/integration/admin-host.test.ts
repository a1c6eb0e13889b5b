// The admin API answers only Host values that DNS rebinding cannot forge:
// localhost, IP literals and the names in admin.hosts (421 otherwise).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, fixed, fetchReply } from '../fixtures/harness.js';

test('the admin API refuses a Host it does not know with 421 and answers localhost, IP literals and admin.hosts', async () => {
  const h = await startHarness(fixed('ok'), { admin: { hosts: ['admin.internal'] } });
  try {
    const port = h.node.adminAddress().port;
    for (const host of [`evil.example:${port}`, `127.0.0.1.nip.io:${port}`, 'localhost.evil.example']) {
      const r = await fetchReply(h.admin + '/stats', { host });
      assert.equal(r.status, 421, host);
      const body = JSON.parse(r.text) as { error: string; message: string };
      assert.equal(body.error, 'ADMIN_HOST_REFUSED');
      assert.match(body.message, /answers Host localhost, an IP address or a name in admin\.hosts/);
      assert.equal(r.text.includes('"requests"'), false, 'no statistics leak');
    }
    const refusedPurge = await fetchReply(h.admin + '/purge', { host: 'evil.example', 'content-type': 'application/json' }, 'POST', '{"urls":["/x"]}');
    assert.equal(refusedPurge.status, 421);
    for (const host of [`localhost:${port}`, `LOCALHOST.:${port}`, `127.0.0.1:${port}`, '[::1]', `10.1.2.3:${port}`, 'Admin.Internal', `admin.internal:${port}`]) {
      const r = await fetchReply(h.admin + '/healthz', { host });
      assert.equal(r.status, 200, host);
    }
  } finally {
    await h.close();
  }
});
