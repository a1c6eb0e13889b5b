// What a WeakMap entry keyed by a short-lived object costs on Node 20 (V8 11.3), beside a
// plain property holding the same value: V8's scavenges keep such entries (and what they
// hold) until a full collection, so every young key and its value survive, are copied and
// promoted, and each scavenge gets slower as the entries pile up. Strata kept a WeakMap
// entry per miss (answer.ts, fixed in ce019db): each miss's fetch outcome, its shared body
// and its fields went to the old generation. Run by hand, not by the runner:
//
//   taskset -c 0 node dist/bench/load/weakmap-scavenge.js [iterations]
//
// Prints, for each way of keeping the value: ns per iteration, and the number and total
// duration of minor and major collections (PerformanceObserver 'gc').

import { PerformanceObserver, constants } from 'node:perf_hooks';

const N = Number(process.argv[2] ?? 1_000_000);
/** How many of the keys stay reachable at once (requests in flight, say). */
const LIVE = 1000;

interface Gc {
  minor: number;
  minorMs: number;
  major: number;
  majorMs: number;
}

async function run(kind: 'property' | 'weakmap'): Promise<{ ns: number; gc: Gc }> {
  const gc: Gc = { minor: 0, minorMs: 0, major: 0, majorMs: 0 };
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const k = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (k === constants.NODE_PERFORMANCE_GC_MINOR) {
        gc.minor++;
        gc.minorMs += e.duration;
      } else if (k === constants.NODE_PERFORMANCE_GC_MAJOR) {
        gc.major++;
        gc.majorMs += e.duration;
      }
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const map = new WeakMap<object, object>();
  let live: object[] = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const key: { id: number; name: string; parts: number[]; kept?: object } = { id: i, name: `k${i & 1023}`, parts: [i] };
    const value = { at: i };
    if (kind === 'weakmap') map.set(key, value);
    else key.kept = value;
    live.push(key);
    if (live.length >= LIVE) live = [];
  }
  const ns = Number(process.hrtime.bigint() - t0) / N;
  // The observer's entries arrive asynchronously.
  await new Promise((r) => setTimeout(r, 100));
  obs.disconnect();
  return { ns, gc };
}

for (const kind of ['property', 'weakmap', 'property', 'weakmap'] as const) {
  const { ns, gc } = await run(kind);
  process.stdout.write(
    `${kind.padEnd(8)} ${ns.toFixed(0).padStart(6)} ns/iteration   minor GCs ${String(gc.minor).padStart(4)} (${gc.minorMs.toFixed(0)} ms)   major GCs ${gc.major} (${gc.majorMs.toFixed(0)} ms)\n`,
  );
}
