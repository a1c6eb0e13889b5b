// Micro-benchmark of the URL order (src/store/url-order.ts) at the size issue 15
// names for the disk tier: 1,000,000 entries. A full tier stores one entry and
// evicts one on every miss, so one operation here is an insertion of a URL never
// seen plus the removal of the oldest one. URLs are random within one authority
// and one long common path, as a media origin's are (they share ~40 characters,
// which every comparison walks), and a million of them do not fit in the CPU's
// caches: the figure is what each binary search's cache misses cost.

import { Bench } from 'tinybench';
import { UrlOrder } from '../../src/store/url-order.js';
import { microResults, type MicroResult } from './hit-path.js';

const ENTRIES = 1_000_000;
const INNER = 1000;

function randomUrl(i: number): string {
  return `GET http://cdn.example.com/videos/2026/11/${Math.floor(Math.random() * 1e9)}/seg-${i}.ts`;
}

export async function runUrlOrderMicro(opts: { timeMs?: number } = {}): Promise<MicroResult[]> {
  const bench = new Bench({ time: opts.timeMs ?? 1000, warmupTime: 250, iterations: 16 });
  for (const byKey of [false, true]) {
    const order = new UrlOrder({ mark: 'GET ', byKey });
    // Oldest first: the ring of stored URLs, replaced in turn.
    const ring = Array.from({ length: ENTRIES }, (_, i) => randomUrl(i));
    // Built in order (fast: every insertion at the end), then churned at random.
    for (const u of [...ring].sort()) order.add(u, u);
    let next = ENTRIES;
    const name = `UrlOrder add + remove [1,000,000 entries${byKey ? ', map by key (memory tier)' : ' (disk tier)'}]`;
    bench.add(name, () => {
      for (let i = 0; i < INNER; i++) {
        const slot = next % ENTRIES;
        const old = ring[slot]!;
        order.remove(old, old);
        const u = randomUrl(next++);
        order.add(u, u);
        ring[slot] = u;
      }
    });
  }
  await bench.run();
  return microResults(bench, () => INNER);
}
