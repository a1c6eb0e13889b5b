// The node-wide bounds on request bodies, over HTTP/2 streams of one connection
// (each stream alone is well within the per-request limits): past
// limits.requestBodyMemoryBudgetBytes a body is spooled to a file instead of
// memory; past limits.requestBodySpoolBudgetBytes it is refused 503
// REQUEST_BODY_BUFFERS_FULL. A body holds its share until its origin answer
// arrives; /stats `requestBodies` shows what is held.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2, { type ClientHttp2Session } from 'node:http2';
import type { ServerResponse } from 'node:http';
import { fetchReply, startHarness, type Harness } from '../fixtures/harness.js';
import { h2Answer, makeCa, makeLeaf, type TestCa } from '../fixtures/tls.js';

const T = { timeout: 30_000 };
const KiB = 1024;
const BODY = 80 * KiB;

let ca: TestCa;
let h: Harness;
// Origin answers held back until the test lets them go: their bodies stay counted meanwhile.
const held: { res: ServerResponse; bytes: number }[] = [];

before(async () => {
  ca = await makeCa();
  const site = await makeLeaf(ca, 'body-budget', ['localhost']);
  h = await startHarness(
    (_req, res, body) => {
      held.push({ res, bytes: body.length });
    },
    {
      tls: { certificates: [site] },
      limits: { requestBodyMemoryBytes: 1024 * KiB, requestBodyMemoryBudgetBytes: 100 * KiB, requestBodySpoolBudgetBytes: 150 * KiB },
      logLevel: 'info',
    },
  );
});

after(async () => {
  await h.close();
});

function answerHeld(): void {
  for (const { res, bytes } of held.splice(0)) {
    const text = String(bytes);
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store', 'content-length': String(text.length) });
    res.end(text);
  }
}

interface BodyFigures {
  memoryBytes: number;
  spoolBytes: number;
  spooledForBudget: number;
  refused: number;
}

async function figures(): Promise<BodyFigures> {
  const r = await fetchReply(`${h.admin}/stats`);
  return (JSON.parse(r.text) as { requestBodies: BodyFigures }).requestBodies;
}

/** POST `bytes` on a new stream; resolves with the status and body once answered. */
function post(s: ClientHttp2Session, path: string, bytes: number): Promise<{ status: number; text: string }> {
  const req = s.request({ ':method': 'POST', ':path': path });
  const answered = h2Answer(req);
  req.end(Buffer.alloc(bytes, 'b'));
  return answered;
}

test('concurrent HTTP/2 bodies past the memory budget are spooled, past the spool budget refused 503; all given back once answered', T, async () => {
  const s = http2.connect(`https://localhost:${h.node.proxyAddress().port}`, { ca: ca.pem, servername: 'localhost' });
  s.on('error', () => {});
  try {
    const a = post(s, '/held-a', BODY);
    await h.until(() => held.length === 1, 'the first body at the origin');
    assert.deepEqual(pick(await figures()), { memoryBytes: BODY, spoolBytes: 0, spooledForBudget: 0, refused: 0 });

    // 80 KiB more would take memory to 160 KiB (budget 100 KiB): spooled.
    const b = post(s, '/held-b', BODY);
    await h.until(() => held.length === 2, 'the second body at the origin');
    assert.deepEqual(pick(await figures()), { memoryBytes: BODY, spoolBytes: BODY, spooledForBudget: 1, refused: 0 });

    // And a third would take the spool to 160 KiB (budget 150 KiB): refused, the origin not asked.
    const badBefore = h.node.stats.counters.errors;
    const c = await post(s, '/held-c', BODY);
    assert.equal(c.status, 503);
    assert.match(c.text, /REQUEST_BODY_BUFFERS_FULL/);
    assert.match(c.text, /limits\.requestBodySpoolBudgetBytes/);
    assert.equal(h.origin.count('/held-c'), 0);
    assert.equal(h.node.stats.counters.errors, badBefore + 1);
    await h.logged((l) => l['code'] === 'REQUEST_BODY_BUFFERS_FULL' && l['level'] === 40);
    assert.deepEqual(pick(await figures()), { memoryBytes: BODY, spoolBytes: BODY, spooledForBudget: 2, refused: 1 });

    answerHeld();
    assert.deepEqual(await a, { status: 200, text: String(BODY) });
    assert.deepEqual(await b, { status: 200, text: String(BODY) });
    const after = await figures();
    assert.equal(after.memoryBytes, 0);
    assert.equal(after.spoolBytes, 0);

    // With the budgets free again, a body goes through.
    const d = post(s, '/held-d', BODY);
    await h.until(() => held.length === 1, 'the fourth body at the origin');
    answerHeld();
    assert.deepEqual(await d, { status: 200, text: String(BODY) });
  } finally {
    answerHeld();
    s.close();
  }
});

function pick(f: BodyFigures): BodyFigures {
  return { memoryBytes: f.memoryBytes, spoolBytes: f.spoolBytes, spooledForBudget: f.spooledForBudget, refused: f.refused };
}
