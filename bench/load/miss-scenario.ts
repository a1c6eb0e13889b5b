// The miss scenarios: every request a new URL, Strata fetching and storing it, beside
// a bare pass-through proxy to the same origin process; fills tracked so a backlog
// of commits never runs while the baseline is measured.

import http from 'node:http';
import { scriptPath, startServer, type ServerChild } from './children.js';
import type { Generator } from './generator.js';
import { counters, describeFs, get, log, measurePair, type SideSpec } from './measure.js';
import { type Scenario } from './scenarios.js';
import { LOAD_CPU, SERVER_CPU, cacheParent, startStrata, type FillStats, type LoadSettings } from './measure.js';

export const DRAIN_LIMIT_MS = 60_000;
/** A gap of abandoned fills is taken as final once no commit came for this long. */
const ABANDONED_AFTER_MS = 500;

/**
 * Misses are answered before their fill is committed, so under sustained misses
 * commits fall behind. Wait (bounded) until every fill so far is committed, so
 * that the backlog does not eat the CPU while the baseline is measured.
 *
 * Not every miss becomes a commit: the load generator stops with up to `connections`
 * requests in flight, and a fill whose only client left before the origin answered is
 * dropped with its origin request (counted a miss, never stored). Waiting for those
 * added 5 s of "drain" per slice (15-25 s a scenario) and made the sustained rate read
 * 0.10-0.15 of the baseline: a gap of at most `connections` that stops moving is done.
 */
export function fillTracker(strata: ServerChild, warnings: string[], connections: number) {
  let misses = 0;
  let committedInWindow = 0;
  let drainMs = 0;
  let measuring = false;
  let before: Record<string, number> = {};
  /** Misses taken as abandoned so far (the counters are the node's, cumulative). */
  let abandoned = 0;
  return {
    startMeasuring: () => {
      measuring = true;
    },
    async settle(): Promise<void> {
      const t0 = Date.now();
      let c = await counters(strata);
      if (measuring) {
        misses += (c['misses'] ?? 0) - (before['misses'] ?? 0);
        committedInWindow += (c['stored'] ?? 0) - (before['stored'] ?? 0);
      }
      let last = c['stored'] ?? 0;
      let lastProgress = Date.now();
      let drainedAt: number | undefined;
      while ((c['stored'] ?? 0) + abandoned < (c['misses'] ?? 0)) {
        const gap = (c['misses'] ?? 0) - (c['stored'] ?? 0) - abandoned;
        if (gap <= connections && Date.now() - lastProgress > ABANDONED_AFTER_MS) {
          abandoned += gap;
          drainedAt = lastProgress;
          break;
        }
        if (Date.now() - t0 > DRAIN_LIMIT_MS || Date.now() - lastProgress > 5_000) {
          warnings.push(`strata: fills not all committed (${c['stored']} of ${c['misses']}, ${abandoned} abandoned before) ${Math.round((Date.now() - t0) / 1000)} s after the load stopped`);
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
        c = await counters(strata);
        if ((c['stored'] ?? 0) !== last) {
          last = c['stored'] ?? 0;
          lastProgress = Date.now();
        }
      }
      // The wait that told abandoned fills from late ones is not drain: it ended at the last commit.
      if (measuring) drainMs += (drainedAt ?? Date.now()) - t0;
      before = c;
    },
    stats(requests: number, windowS: number): FillStats {
      const drainS = drainMs / 1000;
      return { misses, committedInWindow, drainS, sustainedRps: requests / (windowS + drainS) };
    },
  };
}

/**
 * Every request a new URL. One origin process (parked beside the load generator)
 * answers both sides: Strata fetches and stores each URL; the baseline is a bare
 * pass-through proxy (bare-proxy.ts) forwarding to that same origin. Both proxies
 * sit on the server CPU; only the one being measured gets load.
 */
export async function missScenario(sc: Scenario, gen: Generator, s: LoadSettings, runId: string, started: ServerChild[], dirs: string[], warnings: string[]) {
  const path = `/bench/miss-${sc.bodyBytes}`;
  const origin = await startServer('origin', scriptPath('bare-server.js'), [String(sc.bodyBytes), '0'], { cpu: LOAD_CPU });
  started.push(origin);
  const parentDir = cacheParent();
  const { strata, cacheDir } = await startStrata(origin.port, s, { parentDir });
  started.push(strata);
  dirs.push(cacheDir);
  const cacheFs = `${cacheDir} (${describeFs(cacheDir)})`;
  const url = `http://127.0.0.1:${strata.port}${path}`;
  const proxy = await startServer('bare proxy', scriptPath('bare-proxy.js'), [`http://127.0.0.1:${origin.port}`, '0'], { cpu: SERVER_CPU });
  started.push(proxy);
  const bareUrl = `http://127.0.0.1:${proxy.port}${path}`;
  for (const [label, u] of [['strata', url], ['bare proxy', bareUrl]] as const) {
    const probe = await get(`${u}/probe-${runId}`);
    if (probe.status !== 200 || probe.bytes !== sc.bodyBytes) throw new Error(`${label} answered the probe with ${probe.status}, ${probe.bytes} bytes`);
  }
  log(`  strata: pid ${strata.pid} on CPU ${SERVER_CPU} → origin pid ${origin.pid} on CPU ${LOAD_CPU}, ${url}/<run>/<n>; cache dir ${cacheFs}`);
  log(`  bare proxy (node:http + undici Pool): pid ${proxy.pid} on CPU ${SERVER_CPU} → the same origin, ${bareUrl}/<run>/<n>`);
  const fills = fillTracker(strata, warnings, s.connections);
  await fills.settle();
  const strataSpec: SideSpec = { label: 'strata', url, unique: true, settle: () => fills.settle(), pid: strata.pid };
  const [st, bs] = await measurePair(gen, strataSpec, { label: 'bare', url: bareUrl, unique: true, pid: proxy.pid }, s, runId, () => fills.startMeasuring());
  const c = await counters(strata);
  if ((c['hits'] ?? 0) > 0) warnings.push(`strata: ${c['hits']} hits in the miss scenario (URLs repeated?)`);
  return {
    strata: { ...st, counters: c, fills: fills.stats(st.result.requests, st.result.durationS) },
    bare: bs,
    baseline: 'bare pass-through proxy (node:http + undici Pool, no cache, no log) to the same origin',
    cacheFs,
  };
}
