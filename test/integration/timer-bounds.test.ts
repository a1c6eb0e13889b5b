// The longest durations the loader accepts are real waits in the timers they arm:
// a node run with 2^31-1 ms as its header timeout and health-check interval (and the
// longest shutdown grace) answers normally, and Node never reports a
// TimeoutOverflowWarning (what it prints when it shortens a timer to 1 ms: the
// reason the loader refuses more, test/unit/config-timer-bounds.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { MAX_TIMER_MS } from '../../src/config/kinds.js';
import { config, ORIGIN } from '../fixtures/config-load.js';
import { startHarness } from '../fixtures/harness.js';

/** One raw HTTP/1.1 request on a fresh connection; the status line. */
function statusLine(base: string, target: string): Promise<string> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const c = net.connect(Number(u.port), u.hostname, () => c.write(`GET ${target} HTTP/1.1\r\nHost: site.example\r\nConnection: close\r\n\r\n`));
    let d = '';
    c.on('data', (x: Buffer) => (d += x.toString('latin1')));
    c.on('error', reject);
    c.on('close', () => resolve(d.split('\r\n')[0]!));
  });
}

test('the longest accepted timer durations arm real timers: requests are answered, no TimeoutOverflowWarning', async () => {
  const longest = config({ argv: ['--origin', ORIGIN, '--limits-request-headers-timeout-ms', String(MAX_TIMER_MS), '--limits-shutdown-grace-ms', '596h'] });
  const overflows: string[] = [];
  const onWarning = (w: Error): void => {
    if (w.name === 'TimeoutOverflowWarning') overflows.push(w.message);
  };
  process.on('warning', onWarning);
  let probes = 0;
  const h = await startHarness(
    (req, res) => {
      if (req.url === '/healthz') probes++;
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    },
    {
      limits: { ...longest.limits },
      origin: { healthCheck: { path: '/healthz', intervalMs: MAX_TIMER_MS, timeoutMs: 2_000, healthyThreshold: 2, unhealthyThreshold: 3, expectStatuses: [[200, 399]] } },
    },
  );
  try {
    // The first probe runs at start; the next is armed MAX_TIMER_MS after it.
    await h.until(() => probes >= 1, 'the first health probe');
    assert.equal(await statusLine(h.base, '/a'), 'HTTP/1.1 200 OK');
    assert.equal(await statusLine(h.base, '/b'), 'HTTP/1.1 200 OK');
  } finally {
    await h.close();
    // Warnings are emitted on the next tick after the timer that caused them.
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
  }
  assert.equal(probes, 1, 'one probe: the interval is a real wait, not 1 ms');
  assert.deepEqual(overflows, []);
});
