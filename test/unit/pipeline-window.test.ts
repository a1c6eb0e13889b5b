// The pipelining window's books (server/pipelining.ts): it starts at most
// MAX_IN_PROGRESS requests of a connection, the rest in order as slots free; it
// counts the responses the connection still owes (the listener's refusal waits on
// that count); a waiting response that closes (its connection died) frees no slot.
// The behaviour over real sockets is test/protocol/pipelining.test.ts.

import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { MAX_IN_PROGRESS, PipelineWindow } from '../../src/server/pipelining.js';

test('pipeline window: owed counts started and waiting responses; a waiting one that closes frees no slot; the rest start in order', () => {
  const started: number[] = [];
  const window = new PipelineWindow(new PassThrough(), (req) => started.push((req as unknown as { n: number }).n));
  const pairs = Array.from({ length: MAX_IN_PROGRESS + 3 }, (_, n) => ({
    req: { n } as unknown as IncomingMessage,
    res: { socket: {} } as unknown as ServerResponse,
  }));
  for (const { req, res } of pairs) window.admit(req, res);
  assert.deepEqual(started, [...Array(MAX_IN_PROGRESS).keys()], `the first ${MAX_IN_PROGRESS} start at once`);
  assert.equal(window.owed, MAX_IN_PROGRESS + 3);
  // The second waiting one closes before it started: nothing else starts.
  window.settled(pairs[MAX_IN_PROGRESS + 1]!.res);
  assert.equal(window.owed, MAX_IN_PROGRESS + 2);
  assert.equal(started.length, MAX_IN_PROGRESS);
  // A running one settles: the next waiting one in order starts, the closed one never does.
  window.settled(pairs[0]!.res);
  assert.equal(started.at(-1), MAX_IN_PROGRESS);
  window.settled(pairs[1]!.res);
  assert.equal(started.at(-1), MAX_IN_PROGRESS + 2);
  assert.equal(window.owed, MAX_IN_PROGRESS);
  for (const n of started.slice(2)) window.settled(pairs[n]!.res);
  assert.equal(window.owed, 0);
  assert.deepEqual(started, [...Array(MAX_IN_PROGRESS + 3).keys()].filter((n) => n !== MAX_IN_PROGRESS + 1));
});
