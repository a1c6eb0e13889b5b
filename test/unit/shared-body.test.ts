// SharedBody: one origin body, several consumers, bounded memory, the end held
// until the seal. The source is a PassThrough the test writes into.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { SharedBody, type ConsumerCallbacks } from '../../src/coalesce/shared-body.js';

function collector(opts: { pauseAfter?: number } = {}) {
  const got: Buffer[] = [];
  let more: (() => void) | undefined;
  const state = { ended: false, error: undefined as Error | undefined };
  const cb: ConsumerCallbacks = {
    chunk: (c, m) => {
      got.push(c);
      if (opts.pauseAfter !== undefined && got.length >= opts.pauseAfter) {
        more = m;
        return false;
      }
      return true;
    },
    end: (last) => {
      if (last) got.push(last);
      state.ended = true;
    },
    error: (e) => (state.error = e),
  };
  return { cb, got, state, text: () => Buffer.concat(got).toString(), resume: () => {
    const m = more;
    more = undefined;
    opts.pauseAfter = undefined;
    m?.();
  } };
}

function deferred() {
  let resolve!: () => void;
  const p = new Promise<void>((r) => (resolve = r));
  return { p, resolve };
}

test('every consumer gets the whole body; the end waits for the seal (the fill sees it first)', async () => {
  const src = new PassThrough();
  const seal = deferred();
  const body = new SharedBody(src, { windowBytes: 1024, expectedLength: 6 }, seal.p);
  const fill = collector();
  const client = collector();
  body.consume(fill.cb, true);
  body.consume(client.cb);
  src.write('abc');
  src.end('def');
  await tick();
  assert.equal(fill.text(), 'abcdef');
  assert.equal(fill.state.ended, true);
  assert.equal(client.text(), 'abc', 'the chunk completing the announced length is held');
  assert.equal(client.state.ended, false);
  seal.resolve();
  await tick();
  assert.equal(client.text(), 'abcdef');
  assert.equal(client.state.ended, true);
  // Within the window, a late consumer still gets the body from its first byte.
  const late = collector();
  assert.ok(body.consume(late.cb));
  assert.equal(late.text(), 'abcdef');
  assert.equal(late.state.ended, true);
});

test('past the window: passed chunks are released, late consumers refused, the slowest paces the source', async () => {
  const src = new PassThrough({ highWaterMark: 1 });
  const body = new SharedBody(src, { windowBytes: 10, expectedLength: -1 }, Promise.resolve());
  const fast = collector();
  const slow = collector({ pauseAfter: 1 });
  body.consume(fast.cb);
  body.consume(slow.cb);
  for (let i = 0; i < 5; i++) src.write(Buffer.alloc(4, 48 + i));
  await tick();
  assert.equal(body.available, false, 'the start is released once the window is exceeded');
  assert.equal(body.consume(collector().cb), undefined);
  assert.ok(fast.got.length < 5, 'the source is paused while the slow consumer holds the window');
  slow.resume();
  src.end();
  await tick();
  await tick();
  assert.equal(fast.text(), slow.text());
  assert.equal(fast.got.length, 5);
  assert.equal(slow.state.ended, true);
});

test('an origin error reaches every consumer as an error, never an end', async () => {
  const src = new PassThrough();
  const body = new SharedBody(src, { windowBytes: 1024, expectedLength: 100 }, Promise.resolve());
  const a = collector();
  const b = collector();
  body.consume(a.cb);
  body.consume(b.cb);
  src.write('part');
  await tick();
  src.destroy(new Error('reset'));
  await tick();
  for (const c of [a, b]) {
    assert.equal(c.state.ended, false);
    assert.match(String(c.state.error?.message), /reset/);
  }
  assert.equal(body.available, false);
});

test('when every consumer leaves before the end, the source is destroyed', async () => {
  const src = new PassThrough();
  const body = new SharedBody(src, { windowBytes: 1024, expectedLength: -1 }, Promise.resolve());
  const stopA = body.consume(collector().cb)!;
  const stopB = body.consume(collector().cb)!;
  src.write('x');
  stopA();
  assert.equal(src.destroyed, false, 'one consumer still reads');
  stopB();
  assert.equal(src.destroyed, true);
});

test('an unread body is abandoned on request; a read one is not', async () => {
  const unread = new PassThrough();
  new SharedBody(unread, { windowBytes: 1024, expectedLength: -1 }, Promise.resolve()).abandonIfUnread();
  assert.equal(unread.destroyed, true);
  const read = new PassThrough();
  const b = new SharedBody(read, { windowBytes: 1024, expectedLength: -1 }, Promise.resolve());
  b.consume(collector().cb);
  b.abandonIfUnread();
  assert.equal(read.destroyed, false);
});

test('past the window, a slow consumer that can continue elsewhere is shed instead of pacing the others', async () => {
  const src = new PassThrough({ highWaterMark: 1 });
  const body = new SharedBody(src, { windowBytes: 10, expectedLength: -1 }, Promise.resolve());
  const fill = collector();
  const fast = collector();
  const slow = collector({ pauseAfter: 1 });
  let shedAt = -1;
  body.consume(fill.cb, true);
  body.consume(fast.cb);
  body.consume({ ...slow.cb, lagging: () => (shedAt = slow.got.length) });
  for (let i = 0; i < 8; i++) src.write(Buffer.alloc(4, 48 + i));
  src.end();
  await tick();
  await tick();
  assert.equal(shedAt, 1, 'shed after the one chunk it took');
  assert.equal(fill.got.length, 8, 'the fill was not held back');
  assert.equal(fast.got.length, 8, 'nor the fast consumer');
  assert.equal(fast.state.ended, true);
  slow.resume();
  await tick();
  assert.equal(slow.got.length, 1, 'a shed consumer gets nothing more from the shared body');
  assert.equal(slow.state.ended, false);
});

test('a consumer that cannot continue elsewhere (the fill) still paces the source', async () => {
  const src = new PassThrough({ highWaterMark: 1 });
  const body = new SharedBody(src, { windowBytes: 10, expectedLength: -1 }, Promise.resolve());
  const fill = collector({ pauseAfter: 1 });
  const client = collector();
  let shed = false;
  body.consume(fill.cb, true);
  body.consume({ ...client.cb, lagging: () => (shed = true) });
  for (let i = 0; i < 5; i++) src.write(Buffer.alloc(4, 48 + i));
  await tick();
  assert.equal(shed, false);
  assert.ok(client.got.length < 5, 'paused on the fill');
  fill.resume();
  src.end();
  await tick();
  await tick();
  assert.equal(client.got.length, 5);
  assert.equal(fill.got.length, 5);
});

test('abandon stops a body only the fill reads (the fill fails, stores nothing), idempotently; never one a client reads', async () => {
  const src = new PassThrough();
  const body = new SharedBody(src, { windowBytes: 1024, expectedLength: 100 }, Promise.resolve());
  const fill = collector();
  body.consume(fill.cb, true);
  src.write('part');
  await tick();
  assert.equal(body.abandon('stored in slices instead'), true);
  assert.equal(body.abandon('again'), true, 'a second caller gets the same answer');
  assert.match(String(fill.state.error?.message), /slices/);
  assert.equal(fill.state.ended, false);
  assert.equal(src.destroyed, true);

  const src2 = new PassThrough();
  const read = new SharedBody(src2, { windowBytes: 1024, expectedLength: 100 }, Promise.resolve());
  const client = collector();
  read.consume(client.cb);
  assert.equal(read.abandon('no'), false);
  assert.equal(src2.destroyed, false);
});
