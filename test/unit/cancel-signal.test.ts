// The cancellation signal of origin requests (util/cancel-signal.ts): it behaves as an
// AbortController's signal where the request path reads one, and undici cancels a
// request by it over a real socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { Canceller, undiciSignal } from '../../src/util/cancel-signal.js';

test('cancel signal: listeners run once, in order, removed ones not; the first reason stays; a throwing listener stops no other', () => {
  const c = new Canceller();
  const seen: string[] = [];
  const gone = () => seen.push('removed');
  c.addEventListener('abort', () => seen.push('a'));
  c.addEventListener('abort', gone);
  c.addEventListener('abort', () => {
    throw new Error('listener failed');
  });
  c.addEventListener('abort', () => seen.push('c'));
  c.removeEventListener('abort', gone);
  assert.equal(c.aborted, false);
  assert.throws(() => c.abort('first'), /listener failed/);
  assert.deepEqual(seen, ['a', 'c']);
  assert.equal(c.aborted, true);
  assert.equal(c.reason, 'first');
  c.abort('second');
  assert.equal(c.reason, 'first', 'a second abort changes nothing');
  assert.deepEqual(seen, ['a', 'c'], 'listeners ran once');
  c.addEventListener('abort', () => seen.push('late'));
  assert.deepEqual(seen, ['a', 'c'], 'a listener added after the abort never runs (as an AbortSignal)');

  const d = new Canceller();
  d.abort();
  assert.ok(d.reason instanceof DOMException && d.reason.name === 'AbortError', 'no reason given: an AbortError, as AbortController gives');
});

test('cancel signal: follow() takes the reason of the signal followed, at once when it has aborted; undefined follows nothing', () => {
  const source = new Canceller();
  const follower = new Canceller().follow(source);
  assert.equal(follower.aborted, false);
  source.abort('client gone');
  assert.equal(follower.aborted, true);
  assert.equal(follower.reason, 'client gone');

  const real = new AbortController();
  real.abort('already');
  assert.equal(new Canceller().follow(real.signal).reason, 'already', 'a real AbortSignal is followed too');
  assert.equal(new Canceller().follow(undefined).aborted, false);
});

test('cancel signal: undici cancels a request waiting for its headers, with the reason given', async () => {
  let arrived!: () => void;
  const asked = new Promise<void>((r) => (arrived = r));
  // An origin that never answers: the request can only end by its cancellation.
  const origin = http.createServer(() => arrived());
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  try {
    const c = new Canceller();
    const pending = request(`http://127.0.0.1:${(origin.address() as AddressInfo).port}/`, { signal: undiciSignal(c) });
    await asked;
    const why = new Error('every client left');
    c.abort(why);
    await assert.rejects(pending, (err) => err === why);
  } finally {
    origin.closeAllConnections();
    await new Promise((r) => origin.close(r));
  }
});
