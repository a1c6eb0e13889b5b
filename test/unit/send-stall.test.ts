// The send-timeout sweep (src/server/send-stall.ts) on real loopback sockets with
// a fake clock: a client that stops reading is cut once the timeout has passed
// with no progress; one that keeps reading, however slowly, and one with nothing
// waiting are not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { SendStallSweep, type WatchedConnection } from '../../src/server/send-stall.js';

const T = { timeout: 20_000 };

/** A connected pair: `server` is the accepted side, `client` starts paused (reads nothing). */
async function pair(): Promise<{ server: net.Socket; client: net.Socket; close: () => void }> {
  const listener = net.createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  client.pause();
  const [server] = await accepted;
  return {
    server,
    client,
    close: () => {
      server.destroy();
      client.destroy();
      listener.close();
    },
  };
}

/** Write until the kernel's buffers are full and bytes wait in the socket. */
async function fill(socket: net.Socket): Promise<void> {
  const chunk = Buffer.alloc(256 * 1024, 1);
  for (let i = 0; i < 256 && socket.write(chunk); i++) await new Promise((r) => setImmediate(r));
  // Let libuv try to flush what it can; what remains waits for the client.
  await new Promise((r) => setImmediate(r));
  assert.ok(socket.writableLength > 0, 'bytes are waiting for the client');
}

function sweepWith(timeoutMs: number): { sweep: SendStallSweep; clock: { now: number }; stalled: WatchedConnection[] } {
  const clock = { now: 0 };
  const stalled: WatchedConnection[] = [];
  const sweep = new SendStallSweep({ timeoutMs: () => timeoutMs, now: () => clock.now, onStall: (c) => stalled.push(c) });
  return { sweep, clock, stalled };
}

test('a client that takes no bytes is reported once the timeout has passed, and only then', T, async () => {
  const p = await pair();
  try {
    const { sweep, clock, stalled } = sweepWith(1_000);
    sweep.watch(p.server);
    await fill(p.server);
    sweep.sweep(); // first sight of the waiting bytes
    clock.now = 999;
    sweep.sweep();
    assert.equal(stalled.length, 0, 'not before the timeout');
    clock.now = 1_000;
    sweep.sweep();
    assert.deepEqual(stalled, [p.server]);
    clock.now = 5_000;
    sweep.sweep();
    assert.equal(stalled.length, 1, 'reported once');
  } finally {
    p.close();
  }
});

test('a slow client that keeps reading is never cut', T, async () => {
  const p = await pair();
  try {
    const { sweep, clock, stalled } = sweepWith(1_000);
    sweep.watch(p.server);
    await fill(p.server);
    sweep.sweep();
    for (let i = 1; i <= 5; i++) {
      // The client reads a little between sweeps: some of the server's pending writes complete.
      if (p.server.writableLength === 0) await fill(p.server);
      const before = p.server.bytesWritten - p.server.writableLength;
      p.client.resume();
      while (p.server.bytesWritten - p.server.writableLength === before) await new Promise((r) => setImmediate(r));
      p.client.pause();
      clock.now = i * 900;
      sweep.sweep();
    }
    assert.equal(stalled.length, 0);
  } finally {
    p.close();
  }
});

test('a connection with nothing waiting (an answer still at the origin) is left alone', T, async () => {
  const p = await pair();
  try {
    const { sweep, clock, stalled } = sweepWith(1_000);
    sweep.watch(p.server);
    sweep.sweep();
    clock.now = 60_000;
    sweep.sweep();
    assert.equal(stalled.length, 0);
  } finally {
    p.close();
  }
});
