// Shared by the bad-input tests: a node with one primed entry, and the check that
// a refusal was answered, logged, counted, touched nothing stored and left the
// node serving.

import assert from 'node:assert/strict';
import { startHarness, fixed, type Harness } from '../fixtures/harness.js';
import { rawExchange, type RawResult } from './raw.js';

export const CACHED_BODY = 'cached body';
export const PINO_WARN = 40;
/** Whole-test bound on top of the per-exchange one in raw.ts: nothing here may hang. */
export const T = { timeout: 20_000 };

export interface Node {
  h: Harness;
  port: number;
  /** The Host the primed entry is stored under (what undici sent). */
  host: string;
}

/** A node with /cached primed (one origin fetch, stored, then a hit). */
export async function withPrimedNode(run: (n: Node) => Promise<void>): Promise<void> {
  const h = await startHarness(fixed(CACHED_BODY, { 'cache-control': 'max-age=3600', 'content-type': 'text/plain' }), { logLevel: 'info' });
  try {
    const port = h.node.proxyAddress().port;
    const first = await h.get('/cached');
    assert.equal(first.status, 200);
    await h.stored(1);
    const n: Node = { h, port, host: `127.0.0.1:${port}` };
    await assertStillServing(n);
    assert.equal(h.origin.count(), 1);
    await run(n);
  } finally {
    await h.close();
  }
}

/** A normal GET of the primed entry, on a fresh raw connection, is a hit; the origin saw /cached once only. */
export async function assertStillServing(n: Node): Promise<void> {
  const r = await rawExchange(n.port, `GET /cached HTTP/1.1\r\nHost: ${n.host}\r\n\r\n`);
  assert.equal(r.responses.length, 1);
  const res = r.responses[0]!;
  assert.equal(res.status, 200, 'the node still serves after bad input');
  assert.equal(res.text, CACHED_BODY);
  assert.match(res.headers['cache-status'] ?? '', /^test-node; hit/, 'the stored entry is untouched: still a hit');
  assert.equal(n.h.origin.count('/cached'), 1);
}

export interface Expect {
  status: number;
  reason: RegExp;
  /** What the body must say. */
  body: RegExp;
  /** The connection must be closed by the server. */
  closed?: boolean;
  /** Error code expected in the warn log line. */
  code?: string;
}

/** Send `payload`, check the refusal and every side condition listed at the top of the file. */
export async function expectRefused(n: Node, payload: string | Buffer, e: Expect): Promise<RawResult> {
  const { h } = n;
  const badBefore = h.node.stats.counters.badRequests;
  const originBefore = h.origin.count();
  const logsBefore = h.logs.length;

  const r = await rawExchange(n.port, payload, { waitClose: e.closed === true });
  assert.equal(r.responses.length, 1, `exactly one answer; got ${JSON.stringify(r.raw.toString('latin1').slice(0, 400))}`);
  const res = r.responses[0]!;
  assert.match(res.statusLine, new RegExp(`^HTTP/1\\.1 ${e.status} `));
  assert.match(res.statusLine, e.reason);
  assert.match(res.text, e.body);
  assert.equal(res.headers['cache-control'], 'no-store', 'an error answer is never stored downstream');
  if (e.closed) {
    assert.equal(res.headers['connection'], 'close', 'the answer announces the close');
    assert.ok(r.closed, 'the server closed the connection');
  }

  assert.equal(h.node.stats.counters.badRequests, badBefore + 1, 'counted once as a bad request');
  const warns = h.logs.slice(logsBefore).filter((l) => l.level === PINO_WARN);
  assert.ok(warns.length >= 1, `a warn line is logged; got ${JSON.stringify(h.logs.slice(logsBefore))}`);
  if (e.code) assert.ok(warns.some((l) => l.code === e.code), `a warn line carries code ${e.code}: ${JSON.stringify(warns)}`);
  assert.equal(h.origin.count(), originBefore, 'the origin is not contacted');

  await assertStillServing(n);
  assert.equal(h.origin.count(), originBefore, 'the origin saw nothing new');
  return r;
}

export const BAD_400 = { status: 400, reason: /Bad Request$/ };

