// The upstream health state machine on a fake clock: passive ejection after
// maxFails, back-off doubling while it keeps failing and capped, reset on
// recovery; active thresholds; a passing probe lifting an ejection; and the
// active checker's scheduling with injected timers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActiveHealthChecker, backoffMs, statusExpected, UpstreamHealth, type Timers, type Transition } from '../../src/origin/health.js';
import { FakeClock } from '../../src/util/clock.js';

const PASSIVE = { maxFails: 3, ejectMs: 1000, maxEjectMs: 5000 };
const ACTIVE = { healthyThreshold: 2, unhealthyThreshold: 3 };

function machine(passive = PASSIVE) {
  const clock = new FakeClock(0);
  const log: Transition[] = [];
  const h = new UpstreamHealth(passive, ACTIVE, clock, (t) => log.push(t));
  return { clock, log, h, path: () => log.map((t) => t.to).join(' ') };
}

test('back-off doubles per ejection in a row and is capped', () => {
  const table: [number, number][] = [[1, 1000], [2, 2000], [3, 4000], [4, 5000], [40, 5000]];
  for (const [n, ms] of table) assert.equal(backoffMs(PASSIVE, n), ms, String(n));
});

test('passive: maxFails consecutive failures eject; a success in between resets the count', () => {
  const { h, path, log } = machine();
  h.recordFailure('ECONNREFUSED');
  h.recordFailure('ECONNREFUSED');
  h.recordSuccess();
  h.recordFailure('status 503');
  h.recordFailure('status 503');
  assert.equal(h.state(), 'healthy');
  h.recordFailure('status 503');
  assert.equal(path(), 'ejected');
  assert.equal(log[0]!.ejectMs, 1000);
  assert.match(log[0]!.reason, /3 consecutive failures, last: status 503/);
  assert.equal(h.available(), false);
});

test('passive: ejection ends on the clock; failing on probation ejects for twice as long; success recovers and resets', () => {
  const { h, clock, path, log } = machine();
  for (let i = 0; i < 3; i++) h.recordFailure('ECONNREFUSED');
  clock.advance(999);
  assert.equal(h.state(), 'ejected');
  clock.advance(1);
  assert.equal(h.state(), 'probation');
  assert.equal(h.available(), true);
  h.recordFailure('ECONNREFUSED');
  assert.equal(h.state(), 'ejected');
  assert.equal(log.at(-1)!.ejectMs, 2000);
  clock.advance(2000);
  h.recordFailure('ECONNREFUSED'); // first request on probation fails again
  assert.equal(log.at(-1)!.ejectMs, 4000);
  clock.advance(4000);
  h.recordSuccess();
  assert.equal(path(), 'ejected probation ejected probation ejected probation healthy');
  assert.equal(h.snapshot().ejections, 0);
  // Back-off starts over after a recovery.
  for (let i = 0; i < 3; i++) h.recordFailure('ECONNREFUSED');
  assert.equal(log.at(-1)!.ejectMs, 1000);
});

test('passive: maxFails 0 never ejects', () => {
  const { h, log } = machine({ ...PASSIVE, maxFails: 0 });
  for (let i = 0; i < 100; i++) h.recordFailure('ECONNREFUSED');
  assert.equal(h.state(), 'healthy');
  assert.equal(log.length, 0);
});

test('unreachable at start: ejected at once with the reason', () => {
  const { h, log } = machine();
  h.unreachableAtStart('ECONNREFUSED');
  assert.equal(h.state(), 'ejected');
  assert.match(log[0]!.reason, /unreachable at start: ECONNREFUSED/);
});

test('active: first probe failing marks unhealthy at once; later ones need the threshold; recovery needs healthyThreshold', () => {
  const { h, path } = machine();
  h.probeResult(false, 'ECONNREFUSED');
  assert.equal(h.state(), 'unhealthy');
  h.probeResult(true, 'status 200');
  assert.equal(h.state(), 'unhealthy');
  h.probeResult(true, 'status 200');
  assert.equal(h.state(), 'healthy');
  h.probeResult(false, 'status 500');
  h.probeResult(false, 'status 500');
  h.probeResult(true, 'status 200'); // breaks the streak
  h.probeResult(false, 'status 500');
  h.probeResult(false, 'status 500');
  assert.equal(h.state(), 'healthy');
  h.probeResult(false, 'status 500');
  assert.equal(path(), 'unhealthy healthy unhealthy');
  // Requests that happen to succeed (all-down fallback) do not overrule the checker.
  h.recordSuccess();
  assert.equal(h.state(), 'unhealthy');
});

test('active: passing probes lift a passive ejection before its time is up', () => {
  const { h, clock } = machine();
  h.probeResult(true, 'status 200');
  for (let i = 0; i < 3; i++) h.recordFailure('ECONNRESET');
  assert.equal(h.state(), 'ejected');
  h.probeResult(true, 'status 200');
  assert.equal(h.state(), 'ejected', 'one probe is not enough: healthyThreshold is 2');
  h.probeResult(true, 'status 200');
  assert.equal(h.state(), 'healthy');
  assert.equal(clock.now(), 0, 'no time passed');
});

test('snapshot reports state, last transition and counts', () => {
  const { h, clock } = machine();
  clock.advance(50);
  for (let i = 0; i < 3; i++) h.recordFailure('ECONNREFUSED');
  const s = h.snapshot();
  assert.equal(s.state, 'ejected');
  assert.equal(s.ejectedUntil, 1050);
  assert.equal(s.transitions, 1);
  assert.deepEqual({ to: s.lastTransition?.to, at: s.lastTransition?.at }, { to: 'ejected', at: 50 });
});

test('expected statuses', () => {
  const ranges = [[200, 299], [304, 304]] as const;
  for (const [status, ok] of [[200, true], [299, true], [304, true], [301, false], [500, false], [199, false]] as const) {
    assert.equal(statusExpected(ranges, status), ok, String(status));
  }
});

test('active checker: probes at once, then one interval after each probe ends; stop cancels', async () => {
  const pending: { fn: () => void; ms: number }[] = [];
  const timers: Timers = {
    setTimeout: (fn, ms) => {
      const t = { fn, ms };
      pending.push(t);
      return t;
    },
    clearTimeout: (t) => {
      const i = pending.indexOf(t as (typeof pending)[number]);
      if (i >= 0) pending.splice(i, 1);
    },
  };
  const { h } = machine();
  const answers = [false, true, true];
  let probes = 0;
  const checker = new ActiveHealthChecker([{ health: h, probe: async () => ({ ok: answers[probes++] ?? true, detail: 'x' }) }], 250, timers);
  checker.start();
  const settle = () => new Promise((r) => setImmediate(r));
  await settle();
  assert.equal(probes, 1);
  assert.equal(h.state(), 'unhealthy');
  assert.deepEqual(pending.map((p) => p.ms), [250]);
  for (let i = 0; i < 2; i++) {
    pending.shift()!.fn();
    await settle();
  }
  assert.equal(probes, 3);
  assert.equal(h.state(), 'healthy');
  checker.stop();
  assert.equal(pending.length, 0);
});

test('passive: outcomes of requests sent before the latest ejection neither lift it nor end a probation', () => {
  const { h, clock, path } = machine();
  const before = h.era();
  for (let i = 0; i < 3; i++) h.recordFailure('status 503', h.era());
  assert.equal(h.state(), 'ejected');
  h.recordSuccess(before); // a slow request sent before the ejection
  assert.equal(h.state(), 'ejected');
  clock.advance(1000);
  assert.equal(h.state(), 'probation');
  h.recordFailure('UND_ERR_HEADERS_TIMEOUT', before); // a late timeout of the same vintage
  assert.equal(h.state(), 'probation');
  h.recordSuccess(h.era()); // a request sent on probation decides
  assert.equal(path(), 'ejected probation healthy');
});
