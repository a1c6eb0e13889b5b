// Disk hits read whole into lent buffers (src/store/disk/read-buffers.ts) are lent
// again only after the answer that sent them finished: many different disk-only
// entries hit at once each get their own bytes, and answers held back by a client
// that does not read (pipelined on one connection, waiting in node:http and the
// socket) are still intact when it finally reads them, although other hits took
// and released buffers of the same size meanwhile.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startHarness, until } from '../fixtures/harness.js';
import type { TieredStore } from '../../src/store/tiered.js';
import { MAX_IN_PROGRESS } from '../../src/server/pipelining.js';

const SMALL = 16 * 1024;
/** Under the read-whole size (256 KiB), so lent too; many of them exceed what the sockets absorb. */
const LARGE = 200 * 1024;
const site = { host: 'lent.example' };

/** Bytes that name their path at every position: a body overwritten by another shows it. */
function bodyOf(path: string): Buffer {
  return Buffer.alloc(path.startsWith('/large') ? LARGE : SMALL, `${path}|`);
}

test('disk hits in lent buffers: concurrent hits of many entries and answers held back by a client that does not read each carry their own bytes', async () => {
  const h = await startHarness((req, res) => {
    const body = bodyOf(req.url!);
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  }, { cache: { memoryMaxObjectBytes: 1024 } });
  try {
    const paths = [...Array.from({ length: 120 }, (_, i) => `/small-${i}`), ...Array.from({ length: 48 }, (_, i) => `/large-${i}`)];
    for (const p of paths) assert.equal((await h.get(p, site)).status, 200);
    await h.stored(paths.length);
    // The first hit of each reads and verifies it (reader thread); later ones read it on the event loop into lent buffers.
    for (const p of paths) assert.ok((await h.get(p, site)).body.equals(bodyOf(p)), `${p}: first disk hit`);
    const store = h.node.store() as TieredStore;
    assert.equal(store.stats().memory.items, 0, 'every body on disk only');
    const hits = () => h.node.stats.counters.hits;

    // A client that sends every large URL pipelined on one connection and reads nothing yet.
    const held = paths.filter((p) => p.startsWith('/large'));
    const slow = connect(h.node.proxyAddress().port, '127.0.0.1');
    await new Promise<void>((ok, no) => slow.once('connect', ok).once('error', no));
    slow.pause();
    const before = hits();
    slow.write(held.map((p) => `GET ${p} HTTP/1.1\r\nhost: ${site.host}\r\n\r\n`).join(''));
    // A connection has at most MAX_IN_PROGRESS requests in progress (server/pipelining.ts): those
    // are answered and held back; the rest start as the client reads.
    await until(() => hits() >= before + MAX_IN_PROGRESS, 'the held-back answers read from disk');

    // Meanwhile: many hits at once over every entry, large ones included (the same buffer size as those held back).
    let next = 0;
    const order = Array.from({ length: 1200 }, (_, i) => paths[(i * 7919) % paths.length]!);
    const worker = async () => {
      while (next < order.length) {
        const p = order[next++]!;
        const r = await h.get(p, site);
        assert.equal(r.status, 200);
        assert.ok(r.body.equals(bodyOf(p)), `${p}: its own bytes`);
      }
    };
    await Promise.all(Array.from({ length: 24 }, worker));
    assert.ok(store.disk.reads.lent.held > 0, 'buffers were lent and given back');

    // Now read what was held back: every answer intact.
    const got = await readAnswers(slow, held.length);
    slow.destroy();
    held.forEach((p, i) => assert.ok(got[i]!.equals(bodyOf(p)), `${p}: held back, still its own bytes`));
  } finally {
    await h.close();
  }
});

/** `n` pipelined HTTP/1.1 answers with Content-Length, their bodies in order. */
function readAnswers(sock: import('node:net').Socket, n: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const bodies: Buffer[] = [];
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1]);
        if (!Number.isFinite(len)) return reject(new Error(`no content-length in ${head}`));
        if (buf.length < end + 4 + len) return;
        bodies.push(Buffer.from(buf.subarray(end + 4, end + 4 + len)));
        buf = buf.subarray(end + 4 + len);
        if (bodies.length === n) return resolve(bodies);
      }
    });
    sock.once('error', reject);
    sock.once('close', () => reject(new Error(`closed after ${bodies.length} of ${n} answers`)));
    sock.resume();
  });
}
