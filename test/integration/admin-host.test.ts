// The admin API answers only Host values that DNS rebinding cannot forge:
// localhost, IP literals and the names in admin.hosts (421 otherwise).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
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

test('the admin API answers 400 to a request with two Host fields (RFC 9112 §3.2), whichever comes first', async () => {
  const h = await startHarness(fixed('ok'), { admin: { token: 't' } } as never);
  try {
    const port = h.node.adminAddress().port;
    for (const hosts of [['127.0.0.1', 'evil.example'], ['evil.example', 'localhost'], ['localhost', 'localhost']]) {
      const raw = await rawRequest(port, `GET /stats HTTP/1.1\r\n${hosts.map((v) => `Host: ${v}\r\n`).join('')}Connection: close\r\n\r\n`);
      assert.match(raw, /^HTTP\/1\.1 400 /, hosts.join(' + '));
      const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { error: string; message: string };
      assert.equal(body.error, 'BAD_REQUEST');
      assert.match(body.message, /more than one Host header field/);
      assert.equal(raw.includes('"requests"'), false, 'no statistics leak');
    }
    const purge = await rawRequest(port, 'POST /purge HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{"urls":["/x"]}');
    assert.match(purge, /^HTTP\/1\.1 400 /);
    assert.equal(h.node.stats.counters.purges, 0);
    assert.match(await rawRequest(port, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200 /);
  } finally {
    await h.close();
  }
});

test('the admin API answers 400 to an HTTP/1.1 request without Host (RFC 9112 §3.2); HTTP/1.0 without Host is answered', async () => {
  const h = await startHarness(fixed('ok'), { admin: { token: 't' } } as never);
  try {
    const port = h.node.adminAddress().port;
    for (const path of ['/stats', '/healthz', '/metrics']) {
      const raw = await rawRequest(port, `GET ${path} HTTP/1.1\r\nConnection: close\r\n\r\n`);
      assert.match(raw, /^HTTP\/1\.1 400 /, path);
      const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { error: string; message: string };
      assert.equal(body.error, 'MISSING_HOST', path);
      assert.match(body.message, /HTTP\/1\.1 request without a Host header/);
      assert.equal(raw.includes('"requests"'), false, 'no statistics leak');
    }
    const purge = await rawRequest(port, 'POST /purge HTTP/1.1\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{"urls":["/x"]}');
    assert.match(purge, /^HTTP\/1\.1 400 /);
    assert.equal(h.node.stats.counters.purges, 0);
    assert.match(await rawRequest(port, 'GET /healthz HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 200 /, 'HTTP/1.0 needs no Host');
  } finally {
    await h.close();
  }
});

/** One request on its own connection, and everything the server sent until it closed. */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.end(text));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}
