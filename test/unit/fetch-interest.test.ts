// Interest in an origin fetch: cancelled when the last waiting client leaves before
// the origin answers, at once for a client already gone when it starts waiting,
// never once settled. The responses here are emitters standing in for
// ServerResponse's 'close' and `destroyed`; over real sockets:
// test/integration/client-gone.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { fetchInterest } from '../../src/pipeline/fetch-interest.js';

const response = (destroyed = false): ServerResponse & EventEmitter => Object.assign(new EventEmitter(), { destroyed }) as unknown as ServerResponse & EventEmitter;

test('fetch interest: the last client to leave cancels; a client already gone counts as gone; settled, nothing cancels', () => {
  let cancelled = 0;
  const a = fetchInterest(() => cancelled++);
  const r1 = response();
  const r2 = response();
  a.watch(r1);
  a.watch(r2);
  r1.emit('close');
  assert.equal(a.signal.aborted, false, 'one client still waits');
  r2.emit('close');
  assert.equal(a.signal.aborted, true);
  assert.equal(cancelled, 1);

  const b = fetchInterest(() => cancelled++);
  b.watch(response(true));
  assert.equal(b.signal.aborted, true, 'reset before the fetch began: cancelled at once');

  const c = fetchInterest(() => cancelled++);
  const r3 = response();
  c.watch(r3);
  c.settle();
  assert.equal(r3.listenerCount('close'), 0, 'no listener left behind');
  r3.emit('close');
  assert.equal(c.signal.aborted, false, 'after the origin answered, leaving cancels nothing');
  assert.equal(cancelled, 2);
});
