// Durations that arm a timer are at most 2^31-1 ms: Node runs a longer setTimeout
// or setInterval after 1 ms (TimeoutOverflowWarning), so `600h` as a header timeout
// answered every connection 408 at once, a long health-check interval probed every
// millisecond and a long shutdown grace exited at once. The loader refuses them,
// naming the setting, the value and the bound; durations that only meet the clock
// (never a timer) declare that and keep any length.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLOCK_ONLY_MS, duration, MAX_TIMER_MS } from '../../src/config/kinds.js';
import { ENTRIES } from '../../src/config/schema/index.js';
import { config, files, ORIGIN, rejection } from '../fixtures/config-load.js';

const base = ['--origin', ORIGIN];
const TOO_LONG = `is too long (expected at most ${MAX_TIMER_MS}ms, about 24.8 days: the longest wait a Node timer takes)`;

test('a timer duration past 2^31-1 ms is refused, naming the setting, the value and the maximum', () => {
  assert.equal(
    rejection({ argv: [...base, '--limits-request-headers-timeout-ms', '600h'] }),
    `--limits-request-headers-timeout-ms: "600h" (2160000000ms) ${TOO_LONG}`,
  );
  assert.equal(
    rejection({ argv: [...base], env: { STRATA_HEADERS_TIMEOUT: String(MAX_TIMER_MS + 1) } }),
    `STRATA_HEADERS_TIMEOUT: "${MAX_TIMER_MS + 1}" (${MAX_TIMER_MS + 1}ms) ${TOO_LONG}`,
  );
  const yaml = files({ 'a.yaml': 'origin:\n  url: http://a\n  healthCheck:\n    path: /h\n    intervalMs: 600h\n' });
  assert.equal(rejection({ argv: ['--config', 'a.yaml'], readFile: yaml }), `config file a.yaml: origin.healthCheck.intervalMs: "600h" (2160000000ms) ${TOO_LONG}`);
  // A site's own health check is bounded the same way.
  const site = files({ 'a.yaml': 'origin:\n  url: http://a\nsites:\n  shop:\n    hosts: [a.example]\n    routes:\n      api:\n        path: /api/\n        upstream:\n          upstreams: [http://b]\n          healthCheck: { path: /h, intervalMs: 600h }\n' });
  assert.match(rejection({ argv: ['--config', 'a.yaml'], readFile: site }), /healthCheck\.intervalMs: "600h" \(2160000000ms\) is too long \(expected at most 2147483647ms/);
});

test('the shutdown grace leaves room for the backstop timer armed a few seconds after it', () => {
  assert.equal(rejection({ argv: [...base, '--limits-shutdown-grace-ms', '600h'] }), '--limits-shutdown-grace-ms: "600h" is too large (expected at most 596h)');
  assert.equal(config({ argv: [...base, '--limits-shutdown-grace-ms', '596h'] }).limits.shutdownGraceMs, 596 * 3_600_000);
});

test('2^31-1 ms itself is accepted', () => {
  assert.equal(config({ argv: [...base, '--limits-request-headers-timeout-ms', String(MAX_TIMER_MS)] }).limits.requestHeadersTimeoutMs, MAX_TIMER_MS);
  assert.equal(duration().parse(MAX_TIMER_MS), MAX_TIMER_MS);
});

test('every duration setting is bounded by the timer limit, except those declared clock-only', () => {
  const clockOnly: string[] = [];
  for (const e of ENTRIES) {
    if (e.setting.kind.arg !== 'DURATION') continue;
    let accepted = false;
    try {
      e.setting.kind.parse('600h');
      accepted = true;
    } catch {
      // refused: bounded
    }
    if (accepted) clockOnly.push(e.path);
  }
  // Each of these is only added to or compared with a clock reading (see the schema's
  // comments); a duration added here must not reach setTimeout or setInterval.
  assert.deepEqual(clockOnly.sort(), ['cluster.handoffMs', 'edge.forwardAuth.cacheTtlMs', 'origin.passiveHealth.ejectMs', 'origin.passiveHealth.maxEjectMs', 'origin.retries.budgetMs']);
  assert.equal(config({ argv: [...base, '--origin-passive-health-max-eject-ms', '900h'] }).origin.passiveHealth.maxEjectMs, 900 * 3_600_000);
  assert.equal(duration({ max: CLOCK_ONLY_MS }).range, undefined);
});

test('--help and the docs state the bound of a timer duration', () => {
  const e = ENTRIES.find((x) => x.path === 'limits.requestHeadersTimeoutMs')!;
  assert.match(e.setting.kind.range ?? '', new RegExp(`at most ${MAX_TIMER_MS}ms`));
});
