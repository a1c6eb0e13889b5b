// Issue 14 #11. Max-Forwards on OPTIONS (RFC 9110 §7.6.2): 0 is answered by Strata
// itself, a higher value is decremented on the way to the origin. And an origin
// that breaks the protocol (a raw TCP origin sending malformed bytes) is reported
// as ORIGIN_BAD_RESPONSE (502), not as an unreachable origin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode } from '../../src/node.js';
import { FakeClock } from '../../src/util/clock.js';
import { fetchReply, startHarness, testConfig } from '../fixtures/harness.js';

test('OPTIONS with Max-Forwards: 0 is answered by Strata with Allow; the origin is not asked', async () => {
  const h = await startHarness((_req, res) => res.writeHead(204, { allow: 'GET' }).end());
  try {
    const r = await h.get('/opt', { 'max-forwards': '0' }, 'OPTIONS');
    assert.equal(r.status, 200);
    assert.match(r.headers['allow']!, /\bGET\b.*\bOPTIONS\b/);
    assert.doesNotMatch(r.headers['allow']!, /TRACE|CONNECT/);
    assert.match(r.headers['cache-status']!, /detail=max-forwards/);
    assert.equal(h.origin.count('/opt'), 0);
  } finally {
    await h.close();
  }
});

test('OPTIONS with Max-Forwards above 0 is forwarded with the value decremented; other methods forward it unchanged', async () => {
  const seen: (string | undefined)[] = [];
  const h = await startHarness((req, res) => {
    seen.push(req.headers['max-forwards'] as string | undefined);
    res.writeHead(204, { allow: 'GET, OPTIONS' }).end();
  });
  try {
    const r = await h.get('/opt', { 'max-forwards': '5' }, 'OPTIONS');
    assert.equal(r.status, 204);
    assert.equal(r.headers['allow'], 'GET, OPTIONS');
    await h.get('/opt', {}, 'OPTIONS');
    await h.get('/opt', { 'max-forwards': '0' }, 'DELETE');
    assert.deepEqual(seen, ['4', undefined, '0']);
  } finally {
    await h.close();
  }
});

test('TRACE stays refused, Max-Forwards or not', async () => {
  const h = await startHarness((_req, res) => res.end('no'));
  try {
    const r = await h.get('/t', { 'max-forwards': '0' }, 'TRACE');
    assert.equal(r.status, 501);
    assert.equal(h.origin.count('/t'), 0);
  } finally {
    await h.close();
  }
});

/** A node in front of a raw TCP origin that answers every request with `reply`. */
async function rawOriginNode(reply: string) {
  const origin = net.createServer((sock) => {
    sock.once('data', () => sock.end(reply));
    sock.on('error', () => {});
  });
  origin.listen(0, '127.0.0.1');
  await once(origin, 'listening');
  const port = (origin.address() as net.AddressInfo).port;
  const cacheDir = await mkdtemp(join(tmpdir(), 'strata-test-'));
  const config = testConfig(`http://127.0.0.1:${port}`, cacheDir, { logLevel: 'silent' } as never);
  const node = createNode(config, { clock: new FakeClock(Date.now()) });
  await node.start();
  return {
    base: `http://127.0.0.1:${node.proxyAddress().port}`,
    async close() {
      await node.stop();
      origin.close();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}

const MALFORMED: [string, string][] = [
  ['an invalid status line', 'HTTP/1.1 abc Nope\r\ncontent-length: 2\r\n\r\nok'],
  ['a header line without a colon', 'HTTP/1.1 200 OK\r\nthis is not a header\r\ncontent-length: 2\r\n\r\nok'],
  ['a space inside a field name', 'HTTP/1.1 200 OK\r\nbad name: x\r\ncontent-length: 2\r\n\r\nok'],
  ['two different Content-Length values', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok'],
  ['a Content-Length that is not a number', 'HTTP/1.1 200 OK\r\ncontent-length: two\r\n\r\nok'],
  ['not HTTP at all', 'SSH-2.0-OpenSSH_9.6\r\n'],
];

for (const [what, reply] of MALFORMED) {
  test(`an origin response with ${what} is a 502 ORIGIN_BAD_RESPONSE`, async () => {
    const n = await rawOriginNode(reply);
    try {
      const r = await fetchReply(n.base + '/bad');
      assert.equal(r.status, 502);
      assert.match(r.text, /ORIGIN_BAD_RESPONSE/);
      assert.match(r.headers['cache-status']!, /detail=origin_bad_response/);
      // A pass-through method goes the same way.
      const p = await fetchReply(n.base + '/bad', {}, 'DELETE');
      assert.equal(p.status, 502);
      assert.match(p.text, /ORIGIN_BAD_RESPONSE/);
    } finally {
      await n.close();
    }
  });
}

test('interim responses (103 Early Hints, 102 Processing) are never stored; the final response after them is (issue 14 #14)', async () => {
  const n = await rawOriginNode(
    'HTTP/1.1 102 Processing\r\n\r\n' +
      'HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n' +
      'HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncache-control: max-age=60\r\n\r\nfinal',
  );
  try {
    const a = await fetchReply(n.base + '/hints');
    assert.equal(a.status, 200);
    assert.equal(a.text, 'final');
    assert.match(a.headers['cache-status']!, /stored/);
    const b = await fetchReply(n.base + '/hints');
    assert.equal(b.text, 'final');
    assert.match(b.headers['cache-status']!, /; hit/);
    assert.equal(b.headers['link'], undefined, 'an interim field is not part of the stored answer');
  } finally {
    await n.close();
  }
});
